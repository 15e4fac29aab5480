"""Render deployment files for the scaled-out form from jinja2 templates.

Targets:
  systemd        one unit per stage (a template unit for workers, so `parsers` scales with
                 `systemctl enable --now logwarden-worker@parsers-{1..N}`), hardened
  compose        docker compose with Kafka (KRaft) and Elasticsearch, every stage its own service
  k8s            ConfigMap + Deployments per stage + the agent as a DaemonSet
  agent-install  a shell script that installs only the agent on a host as a systemd service

The rendered files take their values from the same Config the appliance runs with, so a
tested logwarden.yml renders into units and manifests that point at the same brokers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from logwarden import __version__
from logwarden.config import Config

TEMPLATES = Path(__file__).parent / "templates"
TARGETS = ("systemd", "compose", "k8s", "agent-install")
WORKERS = ("parsers", "index", "rules", "metrics")


@dataclass
class Rendered:
    path: Path
    mode: int = 0o644


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["to_yaml"] = lambda v: yaml.safe_dump(v, sort_keys=False, default_flow_style=False)
    return env


def scaled_config(cfg: Config, target: str) -> dict:
    """The settings each rendered stage runs with: the operator's own (non-default) settings,
    plus, for containers, external Kafka and Elasticsearch (an operator's `index.type:
    opensearch` with its URL is kept). Defaults are left out so the
    rendered file stays short and picks up improved defaults on upgrade."""
    data = cfg.model_dump(mode="json", exclude_defaults=True)
    data.pop("demo", None)
    if target in ("compose", "k8s"):
        data.setdefault("kafka", {}).setdefault("bootstrap_servers", "kafka:9092")
        data.setdefault("broker", {})["embedded"] = False
        index = data.setdefault("index", {})
        if index.get("type") not in ("elasticsearch", "opensearch"):
            index["type"] = "elasticsearch"
        index.setdefault("elasticsearch_url", "http://elasticsearch:9200")
        data["data_dir"] = "/var/lib/logwarden"
        data.setdefault("http", {})["listen"] = "0.0.0.0:8080"
    if target == "systemd":
        data["data_dir"] = "/var/lib/logwarden"
    return data


def render(cfg: Config, target: str, out: Path) -> list[Rendered]:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    env = _env()
    ctx = {"version": __version__, "config": scaled_config(cfg, target), "workers": WORKERS,
           "parser_workers": cfg.parsers.workers or 2, "broker_embedded": cfg.broker.embedded and not cfg.kafka.bootstrap_servers}
    out.mkdir(parents=True, exist_ok=True)
    written: list[Rendered] = []
    for tpl in sorted((TEMPLATES / target).glob("*.j2")):
        name = tpl.name[:-3]
        text = env.get_template(f"{target}/{tpl.name}").render(**ctx)
        dest = out / name
        dest.write_text(text)
        mode = 0o755 if name.endswith(".sh") else 0o644
        dest.chmod(mode)
        written.append(Rendered(dest, mode))
    cfg_path = out / "logwarden.yml"
    cfg_path.write_text(yaml.safe_dump(ctx["config"], sort_keys=False))
    written.append(Rendered(cfg_path))
    return written
