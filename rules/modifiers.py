"""Sigma value modifiers (specification v2.1, appendix "Modifiers").

Modifiers come in two kinds, and this module keeps them apart the way the specification
does:

* *transformations* rewrite the list of values, in the order written after the field name
  (`contains`, `startswith`, `endswith`, `base64`, `base64offset`, `utf16le`, `utf16be`,
  `utf16`, `wide`, `windash`, `expand`). A value may become several alternatives
  (`base64offset` gives three, `windash` one per dash spelling); alternatives of one value
  are always OR-ed, even under `all`, which links the *original* values.
* *type modifiers* decide how the final values are compared (`re` with `i`/`m`/`s`, `cidr`,
  `lt`/`lte`/`gt`/`gte`, `exists`, `fieldref`, `cased`, `neq`, `all`, and the time parts
  `minute`..`year`).

Each original value ends as a `Value`: a list of alternatives, each a Sigma string (parts
tuple), a number, a boolean, or None (the `null` value). The matching predicates are built
in detection.py; this module only shapes values and reports misuse with a precise reason.
"""
from __future__ import annotations

import base64
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from . import sigmastr as ss

TRANSFORMS = {"contains", "startswith", "endswith", "base64", "base64offset", "utf16le", "utf16be",
              "utf16", "wide", "windash", "expand"}
TIME_PARTS = {"minute", "hour", "day", "week", "month", "year"}
COMPARE = {"lt", "lte", "gt", "gte"}
TYPE_MODS = {"re", "i", "m", "s", "cidr", "exists", "fieldref", "cased", "neq", "all"} | COMPARE | TIME_PARTS
KNOWN = TRANSFORMS | TYPE_MODS

# windash rewrites a dash or slash that starts a command-line flag (pySigma's definition:
# a non-word character before it, a word character after it). Each one multiplies the
# alternatives by five, so more than four in one value is refused rather than exploded.
WINDASH_CHARS = ("-", "/", "\u2013", "\u2014", "\u2015")
_WINDASH_AT = re.compile(r"\B[-/]\b")
MAX_WINDASH = 4
_PLACEHOLDER = re.compile(r"(?<!\\)%([A-Za-z0-9_.\-]+)%")


class ModifierError(ValueError):
    """A modifier misuse, phrased as the reason a rule fails to load."""


@dataclass
class Modifiers:
    """The parsed modifier chain of one detection item (`field|mod1|mod2`)."""

    transforms: list[str] = field(default_factory=list)
    re: bool = False
    re_flags: str = ""
    cidr: bool = False
    compare: str | None = None
    exists: bool = False
    fieldref: bool = False
    cased: bool = False
    neq: bool = False
    all: bool = False
    time_part: str | None = None
    fieldref_pos: str | None = None

    @classmethod
    def parse(cls, mods: list[str]) -> "Modifiers":
        m = cls()
        for name in mods:
            if name not in KNOWN:
                raise ModifierError(f"unknown modifier '{name}'")
            if name in TRANSFORMS:
                m.transforms.append(name)
            elif name == "re":
                m.re = True
            elif name in ("i", "m", "s"):
                if not m.re:
                    raise ModifierError(f"modifier '{name}' is a sub-modifier of 're' and must follow it")
                m.re_flags += name
            elif name in COMPARE:
                if m.compare:
                    raise ModifierError(f"only one comparison modifier allowed, got '{m.compare}' and '{name}'")
                m.compare = name
            elif name in TIME_PARTS:
                m.time_part = name
            else:
                setattr(m, name, True)
        if m.re and (m.cidr or m.compare or m.fieldref):
            raise ModifierError("'re' cannot be combined with cidr, comparisons or fieldref")
        if m.exists and (m.transforms or m.re or m.cidr or m.compare or m.fieldref):
            raise ModifierError("'exists' only applies to an unmodified true/false value")
        if m.cidr and m.transforms:
            raise ModifierError("'cidr' only applies to unmodified values")
        return m


# A Value is the list of alternatives one written value expanded into.
Value = list


def _text_of(v: Any, what: str) -> ss.Parts:
    if isinstance(v, tuple):
        return v
    if isinstance(v, bytes):
        return ss.plain(v.decode("latin-1"))
    raise ModifierError(f"'{what}' needs a string value, got {v!r}")


def _bytes_of(v: Any, what: str, enc: str | None) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = ss.plain(str(v))
    if not isinstance(v, tuple):
        raise ModifierError(f"'{what}' needs a string value, got {v!r}")
    if not ss.is_literal(v):
        raise ModifierError(f"'{what}' of a value with wildcards is not allowed")
    return ss.literal_text(v).encode(enc or "utf-8")


def _wrap(v: Any, lead: bool, trail: bool, what: str) -> ss.Parts:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = ss.plain(str(v))
    p = _text_of(v, what)
    if lead and not ss.startswith_star(p):
        p = (ss.STAR,) + p
    if trail and not ss.endswith_star(p):
        p = p + (ss.STAR,)
    return p


def _windash(p: ss.Parts) -> list[ss.Parts]:
    slots: list[list[Any]] = []
    count = 0
    for part in p:
        if not isinstance(part, str):
            slots.append([part])
            continue
        pos = 0
        for m in _WINDASH_AT.finditer(part):
            if m.start() > pos:
                slots.append([part[pos:m.start()]])
            slots.append(list(WINDASH_CHARS))
            count += 1
            pos = m.end()
        if pos < len(part):
            slots.append([part[pos:]])
    if count > MAX_WINDASH:
        raise ModifierError(f"windash expands at most {MAX_WINDASH} dashes in one value, found {count}")
    out = []
    for combo in itertools.product(*slots):
        merged: list[Any] = []
        for c in combo:
            if isinstance(c, str) and merged and isinstance(merged[-1], str):
                merged[-1] += c
            else:
                merged.append(c)
        out.append(tuple(merged))
    return out


def _expand(p: ss.Parts, placeholders: dict[str, list[str]]) -> list[ss.Parts]:
    slots: list[list[Any]] = []
    for part in p:
        if not isinstance(part, str):
            slots.append([part])
            continue
        pos = 0
        for m in _PLACEHOLDER.finditer(part):
            name = m.group(1)
            if name not in placeholders:
                raise ModifierError(f"placeholder %{name}% has no values (set rules.placeholders.{name} in the config)")
            if m.start() > pos:
                slots.append([part[pos:m.start()].replace("\\%", "%")])
            slots.append([ss.parse(str(x)) for x in placeholders[name]] or [("\x00never\x00",)])
            pos = m.end()
        if pos < len(part):
            slots.append([part[pos:].replace("\\%", "%")])
    out = []
    for combo in itertools.product(*slots):
        parts: list[Any] = []
        for c in combo:
            for x in (c if isinstance(c, tuple) else (c,)):
                if isinstance(x, str) and parts and isinstance(parts[-1], str):
                    parts[-1] += x
                else:
                    parts.append(x)
        out.append(tuple(parts))
    return out


def _apply(name: str, v: Any, placeholders: dict[str, list[str]], enc_state: dict[str, Any]) -> list[Any]:
    if name == "contains":
        return [_wrap(v, True, True, name)]
    if name == "startswith":
        return [_wrap(v, False, True, name)]
    if name == "endswith":
        return [_wrap(v, True, False, name)]
    if name in ("utf16le", "wide"):
        return [_bytes_of(v, name, None).decode("utf-8").encode("utf-16-le")]
    if name == "utf16be":
        return [_bytes_of(v, name, None).decode("utf-8").encode("utf-16-be")]
    if name == "utf16":
        return [b"\xff\xfe" + _bytes_of(v, name, None).decode("utf-8").encode("utf-16-le")]
    if name == "base64":
        return [ss.plain(base64.b64encode(_bytes_of(v, name, None)).decode())]
    if name == "base64offset":
        data = _bytes_of(v, name, None)
        starts, ends = (0, 2, 3), (None, -3, -2)
        return [ss.plain(base64.b64encode(i * b" " + data)[starts[i]:ends[(len(data) + i) % 3]].decode()) for i in range(3)]
    if name == "windash":
        return _windash(_text_of(v, name))
    if name == "expand":
        return _expand(_text_of(v, name), placeholders)
    raise ModifierError(f"unknown modifier '{name}'")  # pragma: no cover - parse() guards


def shape_values(raw: list[Any], mods: Modifiers, placeholders: dict[str, list[str]]) -> list[Value]:
    """Written YAML values -> one list of alternatives per value, transformations applied.

    Strings are parsed for wildcards unless a type modifier takes them verbatim
    (`re`, `cidr`, `fieldref`).
    """
    verbatim = mods.re or mods.cidr or mods.fieldref
    out: list[Value] = []
    for v in raw:
        if isinstance(v, (dict, list)):
            raise ModifierError(f"a value must be a string, number, boolean or null, got {type(v).__name__}")
        if v is not None and not isinstance(v, (str, int, float, bool)):
            v = str(v)  # e.g. an unquoted YAML date (2023-01-01) is matched as the text written
        if isinstance(v, str):
            alts: list[Any] = [v if verbatim else ss.parse(v)]
        else:
            alts = [v]
        for name in mods.transforms:
            if mods.fieldref and name in ("contains", "startswith", "endswith"):
                mods.fieldref_pos = name  # field value contains/starts/ends with the other field's
                continue
            if verbatim:
                if name == "expand" and isinstance(alts[0], str):
                    alts = [ss.literal_text(p) for a in alts for p in _expand(ss.plain(a), placeholders)]
                    continue
                raise ModifierError(f"'{name}' cannot be combined with re, cidr or fieldref")
            alts = [x for a in alts for x in _apply(name, a, placeholders, {})]
        alts = [ss.plain(a.decode("latin-1")) if isinstance(a, bytes) else a for a in alts]
        out.append(alts)
    return out
