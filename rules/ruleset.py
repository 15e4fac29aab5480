"""Loading a rule set the one way the stage and `logwarden rules` both load it.

Files are read by the loader (file:line errors collected, never fatal), compiled with the
field-mapping pipeline, and the bundled rules come first when enabled. The rules stage,
`logwarden rules check/test` and the benches call `load()`, so a rule that `rules check`
accepts is exactly what the running stage runs.
"""
from __future__ import annotations

from pathlib import Path

from .compiler import RuleSet, build
from .loader import iter_rule_files, load_paths
from .mapping import load as load_pipeline

BUNDLED_DIR = Path(__file__).with_name("bundled")


def rule_paths(paths: list[str], bundled: bool) -> list[str]:
    """Effective rule paths: the bundled folder (when enabled) followed by the given ones."""
    return ([str(BUNDLED_DIR)] if bundled else []) + list(paths)


def load(paths: list[str], mapping: str, placeholders: dict[str, list[str]] | None = None) -> RuleSet:
    docs, errors = load_paths(paths)
    return build(docs, load_pipeline(mapping), placeholders, errors)


def signature(paths: list[str]) -> tuple:
    """(path, mtime_ns, size) of every rule file under `paths`, and the errors for missing
    paths: what changes when the rule set must be loaded again (the stage's hot reload, the
    web UI's cache of the compiled set)."""
    files, errors = iter_rule_files(paths)
    out: list[tuple[str, int, int]] = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(out), tuple(str(e) for e in errors)
