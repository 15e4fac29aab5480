"""Render deployment files for the scaled-out form from jinja2 templates.

Targets:
  systemd        one unit per stage (a template unit for workers, so `parsers` scales with
                 `systemctl enable --now logwarden-worker@parsers-{1..N}`), ingest included,
                 all run as one system user (sysusers.d + tmpfiles.d snippets), hardened
  compose        docker compose with Kafka (KRaft) and Elasticsearch, every stage its own service
  k8s            ConfigMap + Deployments per stage (ingest with its Service) + the agent as a DaemonSet
  agent-install  a shell script that installs only the agent on a host as a systemd service,
                 configured from its --broker and --tail arguments

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
from logwarden.model import parse_hostport
from logwarden.stages import WORKERS  # one unit / Deployment per worker stage of the registry

TEMPLATES = Path(__file__).parent / "templates"
TARGETS = ("systemd", "compose", "k8s", "agent-install")
INGEST_LISTENERS = {"syslog_udp": "UDP", "syslog_tcp": "TCP", "syslog_tls": "TCP", "http": "TCP"}


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
    if target in ("systemd", "agent-install"):
        data["data_dir"] = "/var/lib/logwarden"  # the units' StateDirectory
    return data


def _ingest(data: dict, target: str) -> tuple[list[dict], dict | None]:
    """The receivers the ingest unit/Deployment runs (and their TLS files), from the rendered
    config. With none configured, systemd and k8s renders get syslog over UDP and TCP - on
    514 under systemd, on 5514 in a pod (its Service answers on 514) - so the scaled-out
    layout receives syslog out of the box; _bulk/NDJSON (`ingest.http`) is added only when
    configured, since it needs `ingest.tokens` once it leaves loopback."""
    ingest = data.setdefault("ingest", {}) if target in ("systemd", "k8s") else dict(data.get("ingest") or {})
    if target in ("systemd", "k8s") and not any(ingest.get(k) for k in INGEST_LISTENERS):
        port = 514 if target == "systemd" else 5514
        ingest.update(syslog_udp=f"0.0.0.0:{port}", syslog_tcp=f"0.0.0.0:{port}")
    tls = None
    if ingest.get("syslog_tls"):
        if target == "k8s":  # a kubernetes.io/tls Secret mounted at /etc/logwarden/tls
            ingest.update(tls_cert_file="/etc/logwarden/tls/tls.crt", tls_key_file="/etc/logwarden/tls/tls.key")
            if ingest.get("tls_client_ca_file"):
                ingest["tls_client_ca_file"] = "/etc/logwarden/tls/ca.crt"
        tls = {"cert": ingest.get("tls_cert_file"), "key": ingest.get("tls_key_file"), "ca": ingest.get("tls_client_ca_file")}
    listeners = []
    for name, protocol in INGEST_LISTENERS.items():
        if ingest.get(name):
            _, port = parse_hostport(ingest[name])
            listeners.append({"name": name, "listen": ingest[name], "protocol": protocol, "port": port,
                              "service_port": 514 if target == "k8s" and port == 5514 else port,
                              "port_name": name.replace("_", "-")})
    return listeners, tls


def render(cfg: Config, target: str, out: Path) -> list[Rendered]:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    env = _env()
    config = scaled_config(cfg, target)
    listeners, tls = _ingest(config, target)
    agent_config = {**config, "agent": {**config.get("agent", {}), "host_name": "${NODE_NAME}"}}
    ctx = {"version": __version__, "config": config, "workers": WORKERS,
           "parser_workers": cfg.parsers.workers or 2, "broker_embedded": cfg.broker.embedded and not cfg.kafka.bootstrap_servers,
           "ingest_listeners": listeners, "ingest_tls": tls, "ingest_privileged": any(l["port"] < 1024 for l in listeners),
           "agent_config": agent_config}
    out.mkdir(parents=True, exist_ok=True)
    written: list[Rendered] = []
    for tpl in sorted((TEMPLATES / target).rglob("*.j2")):
        rel = tpl.relative_to(TEMPLATES / target)
        name = tpl.name[:-3]
        text = env.get_template(f"{target}/{rel.as_posix()}").render(**ctx)
        dest = out / rel.parent / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        mode = 0o755 if name.endswith(".sh") else 0o644
        dest.chmod(mode)
        written.append(Rendered(dest, mode))
    cfg_path = out / "logwarden.yml"
    cfg_path.write_text(yaml.safe_dump(config, sort_keys=False))
    written.append(Rendered(cfg_path))
    return written
