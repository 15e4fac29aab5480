"""`logwarden deploy render`: every target renders files that their own tools accept."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from logwarden.cli import cli
from logwarden.config import load
from logwarden.deploy.render import TARGETS


def render(tmp_path, target: str):
    out = tmp_path / target
    res = CliRunner().invoke(cli, ["deploy", "render", "--target", target, "--out", str(out)])
    assert res.exit_code == 0, res.output
    # the rendered config is itself valid for every stage
    load(out / "logwarden.yml")
    return out


def test_compose_runs_kafka_elasticsearch_and_every_stage(tmp_path):
    out = render(tmp_path, "compose")
    assert sorted(p.name for p in out.iterdir()) == ["docker-compose.yml", "logwarden.yml"]
    doc = yaml.safe_load((out / "docker-compose.yml").read_text())
    assert {"kafka", "elasticsearch", "parsers", "index", "rules", "metrics", "http"} <= set(doc["services"])
    cfg = load(tmp_path / "compose" / "logwarden.yml")
    assert cfg.kafka.bootstrap_servers == "kafka:9092" and cfg.index.type == "elasticsearch"
    for svc in doc["services"].values():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_k8s_manifests_parse_and_cover_the_stages(tmp_path):
    docs = list(yaml.safe_load_all((render(tmp_path, "k8s") / "logwarden.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("DaemonSet", "logwarden-agent") in kinds and ("Deployment", "logwarden-parsers") in kinds
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    assert yaml.safe_load(cm["data"]["logwarden.yml"])["kafka"]["bootstrap_servers"] == "kafka:9092"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is unavailable on this machine (optional check)")
def test_systemd_units_verify(tmp_path):
    out = render(tmp_path, "systemd")
    units = sorted(out.glob("*.service"))
    assert len(units) == 4
    res = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, units)], capture_output=True, text=True)
    problems = [l for l in res.stderr.splitlines() if "/opt/logwarden/bin/logwarden" not in l and "not executable" not in l]
    assert not problems, problems


def test_agent_installer_is_valid_shell(tmp_path):
    script = render(tmp_path, "agent-install") / "install-agent.sh"
    assert script.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_unknown_target_is_refused(tmp_path):
    res = CliRunner().invoke(cli, ["deploy", "render", "--target", "nomad", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "nomad" in res.output
    assert set(TARGETS) == {"systemd", "compose", "k8s", "agent-install"}


def test_an_operators_opensearch_index_is_kept_in_the_rendered_config(tmp_path):
    from logwarden.config import Config
    from logwarden.deploy.render import scaled_config

    cfg = Config.model_validate({"index": {"type": "opensearch", "elasticsearch_url": "https://os.example:9200"}})
    for target in ("compose", "k8s"):
        index = scaled_config(cfg, target)["index"]
        assert index == {"type": "opensearch", "elasticsearch_url": "https://os.example:9200"}, target
    assert scaled_config(Config(), "compose")["index"]["type"] == "elasticsearch"
