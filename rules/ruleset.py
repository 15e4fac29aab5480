"""Loading a rule set the one way the stage and `logwarden rules` both load it.

Files are read by the loader (file:line errors collected, never fatal), compiled with the
field-mapping pipeline, and the bundled rules come first when enabled. The rules stage,
`logwarden rules check/test` and the benches call `load()`, so a rule that `rules check`
accepts is exactly what the running stage runs.
"""
from __future__ import annotations

from pathlib import Path

from .compiler import RuleSet, build
from .loader import load_paths
from .mapping import load as load_pipeline

BUNDLED_DIR = Path(__file__).with_name("bundled")


def rule_paths(paths: list[str], bundled: bool) -> list[str]:
    """Effective rule paths: the bundled folder (when enabled) followed by the given ones."""
    return ([str(BUNDLED_DIR)] if bundled else []) + list(paths)


def load(paths: list[str], mapping: str, placeholders: dict[str, list[str]] | None = None) -> RuleSet:
    docs, errors = load_paths(paths)
    return build(docs, load_pipeline(mapping), placeholders, errors)
