"""Reading Sigma files: rules, correlation rules and filters, with file:line errors.

A file may hold several YAML documents (`---`), as correlation rules usually do. Each
document becomes a `SigmaDoc` of kind "rule" (has `detection`), "correlation" (has
`correlation`) or "filter" (has `filter`). Structural problems are collected as
`LoadError(file, line, reason)` and never stop the other documents or files from loading,
the way pySigma's `collect_errors` does. Line numbers come from the YAML node tree, so an
error inside a detection points at its search identifier.

The DRL 1.1, under which SigmaHQ rules are shared, requires that whoever runs a rule keeps
its `author` in every alert it produces: `SigmaDoc.author` is carried to alert documents.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from logwarden.events import event_id

LEVELS = ("informational", "low", "medium", "high", "critical")
SUFFIXES = (".yml", ".yaml")


@dataclass
class LoadError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class SigmaDoc:
    kind: str  # "rule" | "correlation" | "filter"
    data: dict[str, Any]
    file: str
    line: int
    nodes: Any = None  # the document's yaml MappingNode, for error lines
    id: str = ""
    name: str | None = None
    title: str = ""
    level: str | None = None
    author: str = ""
    tags: list[str] = field(default_factory=list)
    alert_cache: Any = field(default=None, repr=False, compare=False)  # alerts._rule_part
    suppression: Any = None  # episodes.Suppression from the custom `suppression:` key, if any

    @property
    def logsource(self) -> dict[str, Any]:
        ls = self.data.get("logsource") or {}
        return ls if isinstance(ls, dict) else {}

    def line_of(self, *path: str) -> int:
        """The line of a key path inside this document (its own line when not found)."""
        node = self.nodes
        line = self.line
        for key in path:
            if not isinstance(node, yaml.MappingNode):
                break
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == key:
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                break
        return line


def iter_rule_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[LoadError]]:
    """Files named by `paths` (folders searched recursively for .yml/.yaml), sorted."""
    files: list[Path] = []
    errors: list[LoadError] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files += sorted(x for x in path.rglob("*") if x.suffix in SUFFIXES and x.is_file())
        elif path.is_file():
            files.append(path)
        else:
            errors.append(LoadError(str(path), 0, "no such file or directory"))
    return files, errors


def _str_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x) for x in v]
    return [str(v)]


def load_text(text: str, source: str) -> tuple[list[SigmaDoc], list[LoadError]]:
    docs: list[SigmaDoc] = []
    errors: list[LoadError] = []
    try:
        nodes, datas = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        errors.append(LoadError(source, line, f"not valid YAML: {getattr(exc, 'problem', None) or exc}"))
        return docs, errors
    for index, (node, data) in enumerate(zip(nodes, datas)):
        if data is None:
            continue
        line = node.start_mark.line + 1 if node is not None else 1
        if not isinstance(data, dict):
            errors.append(LoadError(source, line, f"a Sigma document must be a mapping, got {type(data).__name__}"))
            continue
        if data.get("action") in ("global", "reset", "repeat"):
            errors.append(LoadError(source, line, "Sigma 1.0 rule collections (action: global/reset/repeat) are not supported; split the file into complete rules"))
            continue
        kinds = [k for k in ("detection", "correlation", "filter") if k in data]
        if len(kinds) != 1:
            what = "none" if not kinds else " and ".join(kinds)
            errors.append(LoadError(source, line, f"a document needs exactly one of detection, correlation or filter (found {what})"))
            continue
        kind = {"detection": "rule", "correlation": "correlation", "filter": "filter"}[kinds[0]]
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            errors.append(LoadError(source, line, "title is missing (it is mandatory and becomes the alert name)"))
            continue
        level = data.get("level")
        if level is not None and str(level).lower() not in LEVELS:
            errors.append(LoadError(source, _line(node, "level", line), f"level {level!r} is not one of {', '.join(LEVELS)}"))
            continue
        rid = data.get("id")
        doc = SigmaDoc(
            kind=kind, data=data, file=source, line=line, nodes=node,
            id=str(rid) if rid else event_id("sigma", source, index),
            name=str(data["name"]) if data.get("name") else None,
            title=title.strip(),
            level=str(level).lower() if level is not None else None,
            author=str(data.get("author") or ""),
            tags=_str_list(data.get("tags")),
        )
        docs.append(doc)
    return docs, errors


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(text: str) -> tuple[list[Any], list[Any]]:
    """Every document's node tree (for line numbers) and its data, parsing the text once."""
    loader = _Loader(text)
    nodes, datas = [], []
    try:
        while loader.check_node():
            node = loader.get_node()
            nodes.append(node)
            datas.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return nodes, datas


def _line(node: Any, key: str, default: int) -> int:
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k.start_mark.line + 1
    return default


def load_paths(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[SigmaDoc], list[LoadError]]:
    files, errors = iter_rule_files(paths)
    docs: list[SigmaDoc] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(LoadError(str(f), 0, f"cannot read: {exc}"))
            continue
        d, e = load_text(text, str(f))
        docs += d
        errors += e
    return docs, errors
