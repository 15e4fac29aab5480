"""Docs that are generated from code must match the code."""
from pathlib import Path

from logwarden import docgen

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_current(capsys):
    docgen.main()
    generated = capsys.readouterr().out
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == generated, "docs/configuration.md is stale: run `python -m logwarden.docgen > docs/configuration.md`"


def test_agents_md_prints_the_lifecycle_table_once():
    """docs/agents.md had a second, hand-written copy of the table under the generated one."""
    from logwarden.agents.lifecycle import markdown_table

    text = (ROOT / "docs" / "agents.md").read_text()
    rows = [line.split("|")[1].strip() for line in markdown_table().splitlines()[2:]]
    for state in rows:
        assert sum(1 for line in text.splitlines() if line.startswith(f"| {state} |")) == 1, state


def test_architecture_md_has_the_registry_table():
    from logwarden import stages

    path = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
    text = path.read_text()
    assert stages.with_topic_map(text) == text, \
        "docs/architecture.md's stage table is stale: run `python -m logwarden.stages --write docs/architecture.md`"
