"""What `logwarden up` starts, decided from the configuration alone."""
from pathlib import Path

from logwarden.agents.config import FileSource
from logwarden.config import Config
from logwarden.supervisor import CHILD_PREFIX, Supervisor


def names(cfg: Config) -> list[str]:
    return [c.name for c in Supervisor(cfg)._plan(Path("/tmp/effective.yml"))]


def test_defaults_run_broker_first_and_one_parser_per_core(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    plan = names(Config())
    assert plan[0] == "broker"
    assert [n for n in plan if n.startswith("parsers")] == ["parsers-0", "parsers-1"]
    assert {"index", "rules", "metrics", "http"} <= set(plan)
    assert "agent" not in plan and "ingest" not in plan


def test_external_kafka_means_no_embedded_broker():
    cfg = Config()
    cfg.kafka.bootstrap_servers = "kafka:9092"
    assert "broker" not in names(cfg)


def test_ingest_starts_for_any_listener_including_tls_only():
    from logwarden.ingest.config import IngestConfig

    cfg = Config()
    cfg.ingest = IngestConfig(syslog_tls="127.0.0.1:6514", tls_cert_file="/c.pem", tls_key_file="/k.pem")
    assert "ingest" in names(cfg)


def test_sources_start_the_agent_and_children_never_import_from_cwd():
    cfg = Config()
    cfg.sources = [FileSource(paths=["/var/log/*.log"])]
    sup = Supervisor(cfg)
    plan = sup._plan(Path("/tmp/effective.yml"))
    assert "agent" in [c.name for c in plan]
    assert all(c.argv[:4] == CHILD_PREFIX for c in plan) and CHILD_PREFIX[1] == "-P"
