"""The CLI contract: every command has real --help, flags override the file, config check exits 2."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from logwarden.cli import apply_overrides, cli, parse_tail
from logwarden.config import Config

COMMANDS = ["up", "broker", "agent", "ingest", "worker", "parse", "search", "alerts", "rules", "topics", "config", "deploy"]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name):
    res = CliRunner().invoke(cli, [name, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output


def test_tail_spec():
    assert parse_tail("/var/log/nginx/*.log:nginx") == ("/var/log/nginx/*.log", "nginx")
    assert parse_tail("/var/log/auth.log") == ("/var/log/auth.log", None)
    assert parse_tail("/srv/a:b/x.log") == ("/srv/a:b/x.log", None)


def test_flags_override_file_values():
    cfg = Config()
    apply_overrides(cfg, data_dir="/d", broker_listen="127.0.0.1:19092", http_listen="127.0.0.1:18080",
                    tail=("/x/*.log:sshd",), rules=("/r",), demo=True)
    assert cfg.data_dir == "/d" and cfg.bootstrap_servers == "127.0.0.1:19092"
    assert cfg.sources[0].paths == ["/x/*.log"] and cfg.sources[0].format == "sshd"
    assert "/r" in cfg.rules.paths and cfg.demo.enabled


def test_config_check_ok_and_broken(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("data_dir: /tmp/lw\n")
    res = CliRunner().invoke(cli, ["config", "check", str(good)])
    assert res.exit_code == 0 and "ok" in res.output
    bad = tmp_path / "bad.yml"
    bad.write_text("data_dir: /tmp/lw\nsources:\n  - paths: 3\n")
    res = CliRunner().invoke(cli, ["config", "check", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:3: sources[0].paths: expected a list of globs, got an integer" in res.output


def test_bad_listen_flag_exits_2():
    res = CliRunner().invoke(cli, ["broker", "--listen", "nowhere", "--help"])
    assert res.exit_code == 0  # --help wins
    res = CliRunner().invoke(cli, ["up", "--http-listen", "not-a-port"])
    assert res.exit_code == 2 and "HOST:PORT" in res.output
