"""`logwarden config check` warns about listeners exposed without TLS or authentication."""
from __future__ import annotations

import yaml
from click.testing import CliRunner

from logwarden.cli import cli
from logwarden.config import Config
from logwarden.exposure import is_local, warnings


def test_loopback_defaults_warn_about_nothing():
    assert warnings(Config()) == []
    assert is_local("127.0.0.1:9092") and is_local("[::1]:80") and is_local("localhost:1") and is_local("127.3.4.5:9")
    assert not is_local("0.0.0.0:9092") and not is_local("10.0.0.1:80") and not is_local("logs.example.com:514")


def test_each_exposed_listener_is_named_with_what_to_set():
    cfg = Config(broker={"listen": "0.0.0.0:9092"}, http={"listen": "0.0.0.0:8080"},
                 ingest={"syslog_udp": "0.0.0.0:514", "http": "10.0.0.5:9200"})
    got = warnings(cfg)
    assert [w.split(" ", 1)[0] for w in got] == ["broker.listen", "http.listen", "ingest.syslog_udp", "ingest.http", "ingest.http"]
    assert "SASL_SSL" in got[0] and "http.tls.cert_file" in got[1] and "ingest.tokens" in got[3] and "ingest.http_tls" in got[4]
    assert warnings(cfg, "ingest.http") == got[3:]


def test_secured_listeners_are_quiet(tmp_path):
    cfg = Config(broker={"listen": "0.0.0.0:9092", "security_protocol": "SASL_SSL", "tls_certfile": "/c", "tls_keyfile": "/k"},
                 http={"listen": "0.0.0.0:8443", "tls": {"cert_file": "/c", "key_file": "/k"}},
                 ingest={"http": "0.0.0.0:9200", "http_tls": True, "tls_cert_file": "/c", "tls_key_file": "/k",
                         "tokens": [{"name": "a", "token": "0123456789"}]})
    assert warnings(cfg) == []
    ext = Config(broker={"listen": "0.0.0.0:9092"}, kafka={"bootstrap_servers": "kafka:9092"})
    assert warnings(ext) == []  # no built-in broker runs


def test_config_check_prints_warnings_and_still_passes(tmp_path):
    f = tmp_path / "logwarden.yml"
    f.write_text(yaml.safe_dump({"broker": {"listen": "0.0.0.0:9092"}}))
    r = CliRunner().invoke(cli, ["config", "check", str(f)])
    assert r.exit_code == 0, r.output
    assert "warning: broker.listen 0.0.0.0:9092: the broker is reachable from the network without TLS or SASL" in r.output
    assert r.output.rstrip().endswith(": ok")
