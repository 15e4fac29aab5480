"""Docs that are generated from code must match the code."""
from pathlib import Path

from logwarden import docgen

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_current(capsys):
    docgen.main()
    generated = capsys.readouterr().out
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == generated, "docs/configuration.md is stale: run `python -m logwarden.docgen > docs/configuration.md`"
