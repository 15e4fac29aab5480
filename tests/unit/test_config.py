"""Config loading: precise errors (file:line: key: what), env interpolation, did-you-mean."""
from __future__ import annotations

import textwrap

import pytest

from logwarden.config import Config, ConfigError, load


def write(tmp_path, text: str):
    p = tmp_path / "logwarden.yml"
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def problems(path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(path)
    return exc.value.problems


def test_defaults_need_no_file():
    cfg = load(None)
    assert isinstance(cfg, Config)
    assert cfg.bootstrap_servers == "127.0.0.1:9092"
    assert cfg.http.listen.startswith("127.0.0.1:")


def test_wrong_type_names_file_line_and_key(tmp_path):
    p = write(tmp_path, """
        data_dir: /tmp/x
        sources:
          - type: file
            paths: 12
    """)
    [msg] = problems(p)
    assert msg == f"{p}:4: sources[0].paths: expected a list of globs, got an integer"


def test_unknown_key_suggests_the_right_one(tmp_path):
    p = write(tmp_path, """
        broker:
          listne: 127.0.0.1:9999
    """)
    [msg] = problems(p)
    assert msg.startswith(f"{p}:2: broker.listne: unknown key")
    assert "did you mean 'listen'" in msg


def test_unknown_top_level_section(tmp_path):
    p = write(tmp_path, "sourcse: []\n")
    [msg] = problems(p)
    assert msg.startswith(f"{p}:1: sourcse: unknown key") and "'sources'" in msg


def test_a_topic_key_of_a_stage_points_at_the_topics_section(tmp_path):
    p = write(tmp_path, """
        parsers:
          output_topic: acme.events
        agent:
          topic: acme.lines
        topics:
          ecs: acme.events
    """)
    assert problems(p) == [
        f"{p}:4: agent.topic: moved to topics.raw (one name for every stage that writes or reads the topic)",
        f"{p}:2: parsers.output_topic: moved to topics.ecs (one name for every stage that writes or reads the topic)",
    ]


def test_several_problems_reported_together(tmp_path):
    p = write(tmp_path, """
        parsers:
          workers: lots
        http:
          listen: nowhere
    """)
    msgs = problems(p)
    assert any(m.startswith(f"{p}:2: parsers.workers: expected an integer") for m in msgs)
    assert any(m.startswith(f"{p}:4: http.listen") for m in msgs) or len(msgs) == 1


def test_env_interpolation_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("LW_DATA", "/srv/lw")
    p = write(tmp_path, """
        data_dir: ${LW_DATA}
        kafka:
          sasl_password: ${LW_MISSING:-fallback}
    """)
    cfg = load(p)
    assert cfg.data_dir == "/srv/lw"
    assert cfg.kafka.sasl_password == "fallback"


def test_missing_env_var_is_an_error_with_line(tmp_path, monkeypatch):
    monkeypatch.delenv("LW_NOPE", raising=False)
    p = write(tmp_path, "data_dir: /x\nkafka:\n  sasl_password: ${LW_NOPE}\n")
    [msg] = problems(p)
    assert msg.startswith(f"{p}:3: ${{LW_NOPE}}: environment variable is not set")


def test_invalid_yaml_names_line_and_column(tmp_path):
    p = write(tmp_path, "data_dir: [unclosed\n")
    [msg] = problems(p)
    assert msg.startswith(f"{p}:2:") and "not valid YAML" in msg


def test_top_level_must_be_a_mapping(tmp_path):
    p = write(tmp_path, "- a\n- b\n")
    [msg] = problems(p)
    assert "expected a mapping" in msg


def test_impossible_listen_address_is_refused_with_file_and_line(tmp_path):
    """`http: {listen: 127.0.0.1:99999}` used to pass `config check`; `up` then crash-looped."""
    from click.testing import CliRunner

    from logwarden.cli import cli

    p = write(tmp_path, """
        data_dir: /tmp/lw
        http:
          listen: 127.0.0.1:99999
    """)
    res = CliRunner().invoke(cli, ["config", "check", str(p)])
    assert res.exit_code == 2, res.output
    assert f"{p}:3: http.listen: value error, expected HOST:PORT, got '127.0.0.1:99999': port 99999 is outside 0-65535" in res.output


ADDRESS_FIELDS = {  # dotted key -> YAML section that holds it
    "broker.listen": "broker", "http.listen": "http", "agent.monitor_listen": "agent",
    "index.metrics_listen": "index", "ingest.syslog_udp": "ingest", "ingest.syslog_tcp": "ingest",
    "ingest.syslog_tls": "ingest", "ingest.http": "ingest", "kafka.bootstrap_servers": "kafka",
}


@pytest.mark.parametrize("key", sorted(ADDRESS_FIELDS))
@pytest.mark.parametrize("value, why", [
    ("127.0.0.1:99999", "outside"), ("127.0.0.1:http", "not a number"), ("999.0.0.1:80", "not an IPv4 address"),
    ("::1:9092", "in brackets"), ("[::g]:80", "not an IPv6 address"), ("bad host:80", "not a host name"),
    ("[::1]", "not a number"),
])
def test_every_address_setting_is_checked(tmp_path, key, value, why):
    section, name = key.split(".")
    extra = "\n  tls_cert_file: c.pem\n  tls_key_file: k.pem" if key == "ingest.syslog_tls" else ""
    p = write(tmp_path, f"{section}:\n  {name}: \"{value}\"{extra}\n")
    (problem,) = problems(p)
    assert problem.startswith(f"{p}:2: {key}: value error, expected ") and why in problem, problem


@pytest.mark.parametrize("value", ["[::1]:9092", "localhost:9092", "0.0.0.0:9092", ":9092", "kafka-1.example.org:9092"])
def test_good_addresses_pass(tmp_path, value):
    cfg = load(write(tmp_path, f"broker:\n  listen: \"{value}\"\nkafka:\n  bootstrap_servers: \"{value.lstrip(':') if value.startswith(':') else value},b:1\"\n"))
    assert cfg.broker.listen == value


def test_listeners_take_port_0_endpoints_do_not(tmp_path):
    assert load(write(tmp_path, "ingest:\n  http: 127.0.0.1:0\n")).ingest.http == "127.0.0.1:0"  # any free port
    (problem,) = problems(write(tmp_path, "kafka:\n  bootstrap_servers: kafka:9092,kafka-2:0\n"))
    assert "got 'kafka-2:0': port 0 is outside 1-65535" in problem


def test_every_address_field_uses_the_shared_types():
    """A new HOST:PORT setting must use model.Listen or model.Endpoints, or it goes unchecked."""
    from logwarden.model import Endpoints, Listen

    seen = set()

    def walk(model, prefix=""):
        seen.add(model)
        for name, field in model.model_fields.items():
            ann = field.annotation
            subs = [a for a in (ann, *getattr(ann, "__args__", ())) if isinstance(a, type) and issubclass(a, BaseModel)]
            if subs:
                for sub in subs:
                    if sub not in seen:  # conditions are recursive
                        yield from walk(sub, f"{prefix}{name}.")
            elif "HOST:PORT" in (field.description or "") or name.endswith(("listen", "bootstrap_servers")):
                yield f"{prefix}{name}", field

    from pydantic import BaseModel
    found = dict(walk(Config))
    assert set(found) == set(ADDRESS_FIELDS)
    types = (Listen.__metadata__, Endpoints.__metadata__)
    for key, field in found.items():
        meta = field.metadata or [m for a in getattr(field.annotation, "__args__", ()) for m in getattr(a, "__metadata__", ())]
        assert tuple(meta) in types, key
