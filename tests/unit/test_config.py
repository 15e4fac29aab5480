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
