"""The query AST: what the grammar produces and both compilers consume.

Nodes are frozen dataclasses. A `field` of None means "the default fields" (full text of
`message` plus every keyword value, like KQL's `*`). Wildcard patterns use the
Elasticsearch `wildcard` syntax: `*` and `?` are wildcards, a backslash escapes the next
character. Range bounds are strings as the user wrote them (numbers, words, ISO dates or
date math such as `now-15m/m`); None is unbounded. Each compiler interprets bounds by the
field's ECS type (`fields.kind`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


class Node:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class MatchAll(Node):
    pass


@dataclass(frozen=True, slots=True)
class Match(Node):
    """field:value (phrase=False) or field:"value" (phrase=True)."""
    field: str | None
    value: str
    phrase: bool = False


@dataclass(frozen=True, slots=True)
class Wildcard(Node):
    field: str | None
    pattern: str


@dataclass(frozen=True, slots=True)
class Regexp(Node):
    """field:/pattern/ — RE2 syntax, matching a whole value (`regex.compile_regex` checks it)."""
    field: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Range(Node):
    field: str
    lower: str | None
    upper: str | None
    include_lower: bool = True
    include_upper: bool = True


@dataclass(frozen=True, slots=True)
class Cidr(Node):
    """field:10.0.0.0/8 — an address inside the network (normalised, e.g. 10.0.0.0/8)."""
    field: str
    network: str


@dataclass(frozen=True, slots=True)
class Exists(Node):
    field: str


@dataclass(frozen=True, slots=True)
class And(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    child: Node


def with_field(node: Node, field: str) -> Node:
    """Give bare values inside `field:( ... )` the field; explicit fields are kept."""
    if isinstance(node, Match) and node.field is None:
        return Match(field, node.value, node.phrase)
    if isinstance(node, Wildcard) and node.field is None:
        return Wildcard(field, node.pattern)
    if isinstance(node, And):
        return And(tuple(with_field(c, field) for c in node.children))
    if isinstance(node, Or):
        return Or(tuple(with_field(c, field) for c in node.children))
    if isinstance(node, Not):
        return Not(with_field(node.child, field))
    return node


def wildcard_to_regex(pattern: str, escape: Callable[[str], str]) -> str:
    """Wildcard syntax (`*`, `?`, backslash escapes) as a regex body, each literal character
    escaped by `escape` for the regex engine that runs it (Rust's for tantivy, Python's `re`
    for the metrics feeds)."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else escape(ch))
        i += 1
    return "".join(out)


def wildcard_literal(pattern: str) -> str:
    """The literal prefix of a wildcard pattern (unescaped), up to the first wildcard."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
            continue
        if ch in "*?":
            break
        out.append(ch)
        i += 1
    return "".join(out)
