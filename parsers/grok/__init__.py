r"""Grok: `%{SYNTAX:SEMANTIC:type}` patterns compiled, once, into one anchored regex.

    %{IPORHOST:source.address} %{USER:user.name} \[%{HTTPDATE:timestamp}\] "%{DATA:msg}"

The pattern text is parsed with pyparsing at load time (`GROK_GRAMMAR`) into literal regex
text and references. References are expanded recursively from the definition table (the
bundled library in logwarden.grok, then the user's patterns, which may override it); each
reference with a SEMANTIC becomes a named group `g<n>` whose field path and type are kept
beside the compiled regex. Several alternative patterns become one alternation, each
branch starting with an empty marker group so a match tells which branch won. The result
is anchored at the start (`re.match`); add `$` to anchor the end. Per event, grok is one
`re.match` plus a dict write per captured field - pyparsing never runs per event.

Logstash field references (`[source][ip]`) are accepted as SEMANTIC and turned into dotted
paths. Types: int/long, float/double, bool, string (default).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable

import pyparsing as pp

from logwarden.events import set_path

MAX_DEPTH = 40  # definitions nest only a few levels; deeper means a reference cycle

_name = pp.Word(pp.alphanums + "_")
_semantic = pp.Word(pp.alphanums + "_.@[]-")
_type = pp.Word(pp.alphas)
_ref = pp.Group(
    pp.Suppress("%{") + _name("syntax")
    + pp.Optional(pp.Suppress(":") + pp.Optional(_semantic, default="")("semantic")
                  + pp.Optional(pp.Suppress(":") + _type("type")))
    + pp.Suppress("}")
)("ref")
_literal = pp.Regex(r"(?:[^%]|%(?!\{))+")("literal")
GROK_GRAMMAR = pp.ZeroOrMore(_ref | _literal) + pp.StringEnd()
GROK_GRAMMAR.leave_whitespace()
for _el in (_ref, _literal, _name, _semantic, _type):
    _el.leave_whitespace()

_CONVERT: dict[str, Callable[[str], Any]] = {
    "int": int, "long": int, "integer": int,
    "float": float, "double": float,
    "bool": lambda s: s.lower() in ("true", "1", "yes", "on"),
    "boolean": lambda s: s.lower() in ("true", "1", "yes", "on"),
    "string": str,
}


class GrokError(ValueError):
    """A pattern that cannot compile: unknown reference, cycle, bad regex, unknown type."""


def load_definitions(text: str, source: str = "<patterns>") -> dict[str, str]:
    """`NAME regex` lines (comments with #) into a dict."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, body = line.partition(" ")
        if not body or not re.fullmatch(r"\w+", name):
            raise GrokError(f"{source}:{n}: expected `NAME pattern`, got {line[:60]!r}")
        out[name] = body.strip()
    return out


def library() -> dict[str, str]:
    text = resources.files(__package__).joinpath("logwarden.grok").read_text(encoding="utf-8")
    return load_definitions(text, "logwarden.grok")


def _field_path(semantic: str) -> str:
    if semantic.startswith("["):
        return ".".join(p for p in re.split(r"[\[\]]+", semantic) if p)
    return semantic


@dataclass(slots=True)
class Capture:
    group: str
    field: str
    convert: Callable[[str], Any] | None


class Grok:
    """Compiled alternatives; `match(text)` -> (branch index, {field: value}) or None."""

    def __init__(self, patterns: list[str], definitions: dict[str, str] | None = None):
        if not patterns:
            raise GrokError("grok needs at least one pattern")
        self.definitions = {**library(), **(definitions or {})}
        self.patterns = list(patterns)
        self._n = 0
        self.branches: list[list[Capture]] = []
        parts = []
        for i, pat in enumerate(self.patterns):
            caps: list[Capture] = []
            body = self._expand(pat, caps, 0, ())
            self.branches.append(caps)
            parts.append(f"(?P<_b{i}>){body}")
        text = parts[0] if len(parts) == 1 else "|".join(f"(?:{p})" for p in parts)
        try:
            self.regex = re.compile(text, re.S)
        except re.error as exc:
            raise GrokError(f"grok pattern does not compile to a valid regex: {exc}") from None

    def _expand(self, pattern: str, caps: list[Capture], depth: int, stack: tuple[str, ...]) -> str:
        if depth > MAX_DEPTH:
            raise GrokError(f"grok definitions nest deeper than {MAX_DEPTH}: {' -> '.join(stack)}")
        try:
            tokens = GROK_GRAMMAR.parse_string(pattern, parse_all=True)
        except pp.ParseException as exc:
            raise GrokError(f"cannot parse grok pattern at column {exc.col}: {pattern!r}") from None
        out = []
        for tok in tokens:
            if isinstance(tok, str):
                out.append(tok)
                continue
            syntax = tok["syntax"]
            if syntax in stack:
                raise GrokError(f"grok reference cycle: {' -> '.join(stack + (syntax,))}")
            definition = self.definitions.get(syntax)
            if definition is None:
                raise GrokError(f"unknown grok pattern %{{{syntax}}}; define it under parsers.patterns")
            inner = self._expand(definition, caps, depth + 1, stack + (syntax,))
            semantic = tok.get("semantic", "")
            if semantic:
                typ = tok.get("type")
                conv = None
                if typ:
                    conv = _CONVERT.get(typ.lower())
                    if conv is None:
                        raise GrokError(f"unknown grok type {typ!r} in %{{{syntax}:{semantic}:{typ}}} (int, long, float, double, bool, string)")
                    if conv is str:
                        conv = None
                group = f"g{self._n}"
                self._n += 1
                caps.append(Capture(group, _field_path(semantic), conv))
                out.append(f"(?P<{group}>{inner})")
            else:
                out.append(f"(?:{inner})")
        return "".join(out)

    def match(self, text: str) -> tuple[int, dict[str, Any]] | None:
        m = self.regex.match(text)
        if m is None:
            return None
        branch = 0
        if len(self.branches) > 1:
            for i in range(len(self.branches)):
                if m.group(f"_b{i}") is not None:
                    branch = i
                    break
        fields: dict[str, Any] = {}
        for cap in self.branches[branch]:
            v = m.group(cap.group)
            if v is None:
                continue
            if cap.convert is not None:
                try:
                    v = cap.convert(v)
                except ValueError:
                    pass
            fields[cap.field] = v
        return branch, fields

    def apply(self, text: str, doc: dict[str, Any], prefix: str = "") -> int | None:
        """Match and write the captures into `doc`; the branch index, or None on no match."""
        r = self.match(text)
        if r is None:
            return None
        for field, v in r[1].items():
            set_path(doc, prefix + field, v)
        return r[0]
