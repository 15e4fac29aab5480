"""The stage registry (logwarden/stages.py) is what the CLI, the supervisor and the deploy
renders read: adding a stage or renaming a topic is a change in one place."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from logwarden import cli as cli_mod
from logwarden.config import Config
from logwarden.stages import BY_NAME, STAGES, WORKERS, Stage, TopicsConfig, group_id
from logwarden.supervisor import CHILD_PREFIX, Supervisor


def test_worker_command_choices_and_deploy_workers_come_from_the_registry():
    from logwarden.deploy import render

    assert WORKERS == ("parsers", "index", "rules", "metrics")
    assert render.WORKERS == WORKERS
    choices = cli_mod.cli.get_command(None, "worker").params[0].type.choices
    assert sorted(choices) == sorted(WORKERS)


def test_the_plan_runs_each_stage_with_its_registered_command(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    cfg = Config()
    cfg.demo.enabled = True
    plan = Supervisor(cfg)._plan(Path("/tmp/effective.yml"))
    by_name = {c.name: c.argv for c in plan}
    assert list(by_name) == ["broker", "parsers-0", "parsers-1", "index", "rules", "metrics", "http", "demo"]
    assert by_name["parsers-1"] == [*CHILD_PREFIX, "worker", "parsers", "-c", "/tmp/effective.yml"]
    assert by_name["demo"] == [*CHILD_PREFIX, "demo-writer", "-c", "/tmp/effective.yml"]


def test_topics_and_groups_follow_the_config():
    cfg = Config()
    cfg.topics = TopicsConfig(raw="a.raw", ecs="a.ecs", dlq="a.dlq", alerts="a.alerts", rules_state="a.state")
    assert BY_NAME["index"].inputs(cfg.topics) == ["a.ecs", "a.alerts"]
    assert BY_NAME["rules"].outputs(cfg) == ["a.alerts", "a.dlq", "a.state"]
    assert group_id("metrics") == "logwarden-metrics"
    with pytest.raises(KeyError):
        group_id("http")


def test_a_new_worker_stage_needs_only_a_registry_entry(monkeypatch):
    extra = Stage("enrich", "logwarden.sinks.metrics_service", "test stage", ("worker", "enrich"), lambda cfg: 1,
                  reads=("ecs",), worker=True)
    monkeypatch.setattr("logwarden.supervisor.STAGES", (*STAGES, extra))
    names = [c.name for c in Supervisor(Config())._plan(Path("/tmp/e.yml"))]
    assert names[-1] == "enrich" and extra.group == "logwarden-enrich"


def test_a_command_whose_module_does_not_import_says_so(monkeypatch):
    # It said "not implemented yet" for any missing logwarden.* module, hiding a broken install.
    monkeypatch.setitem(cli_mod.LAZY, "search", ("logwarden.sinks.no_such_module:search", "Search events."))
    r = CliRunner().invoke(cli_mod.cli, ["search", "x"])
    assert r.exit_code == 1
    assert "cannot load its module" in r.output and "logwarden.sinks.no_such_module" in r.output
    assert "not implemented" not in r.output
    listing = CliRunner().invoke(cli_mod.cli, ["--help"])
    assert listing.exit_code == 0 and "cannot load" in listing.output
