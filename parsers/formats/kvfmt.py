"""logfmt and key=value lines.

    logfmt:  time=2026-11-26T10:00:00Z level=info msg="user logged in" user.name=bob dur=12ms
    kv:      Nov login ok user=bob src=203.0.113.5 (pairs anywhere; the line stays the message)

`logfmt` requires the whole line to be pairs (a bare key means true), so prose is not
mistaken for it; `kv` only requires one pair. Pairs become an object (dotted keys nest) that
is merged like a JSON line (jsonl.merge_object): time, msg and level keys are recognised, ECS
objects are protected. Values stay strings - use the `convert` processor for types.
"""
from __future__ import annotations

import re
from typing import Any

from logwarden.events import set_path

from ..core import FormatOptions, ParseFailure
from .jsonl import JsonParser

_VAL = r'"[^"\\]*(?:\\.[^"\\]*)*"|[^\s"]*'
_TOKEN = rf'([^\s="]+)(=(?:{_VAL}))?'
# tokens separated by \s+ (not \s*): otherwise a long word splits in exponentially many ways on a miss
LOGFMT_LINE = re.compile(rf"\s*{_TOKEN}(?:\s+{_TOKEN})*\s*\Z")
LOGFMT_TOKEN = re.compile(_TOKEN)
# A key starts where a run of key characters starts (lookbehind) and is taken whole (possessive):
# otherwise findall retries from every character of a long run - quadratic on a 64 KiB line.
KV_PAIR = re.compile(r'(?<![\w.@-])([\w.@-]++)=("[^"\\]*(?:\\.[^"\\]*)*"|\'[^\']*\'|[^\s,;]*)')
_UNESCAPE = re.compile(r"\\(.)")


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return _UNESCAPE.sub(r"\1", v[1:-1]) if v[0] == '"' else v[1:-1]
    return v


def pairs_to_object(pairs: list[tuple[str, str | bool]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for k, v in pairs:
        if "." in k:
            try:
                set_path(obj, k, v)
            except TypeError:
                obj[k] = v
        else:
            obj[k] = v
    return obj


class LogfmtParser:
    name = "logfmt"

    def __init__(self, options: FormatOptions | None = None):
        self.json = JsonParser(options)

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        if "=" not in line or not LOGFMT_LINE.match(line):
            return ParseFailure("not logfmt (expected key=value pairs only)", self.name)
        tokens = LOGFMT_TOKEN.findall(line)
        if not tokens[0][1]:
            return ParseFailure("not logfmt (the line does not start with key=value)", self.name)
        pairs: list[tuple[str, str | bool]] = []
        for k, v in tokens:
            pairs.append((k, _unquote(v[1:]) if v else True))  # a bare key is a true flag
        self.json.apply(pairs_to_object(pairs), doc)
        return "logfmt.pairs"


class KvParser:
    name = "kv"

    def __init__(self, options: FormatOptions | None = None):
        self.json = JsonParser(options)

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        found = KV_PAIR.findall(line)
        if not found:
            return ParseFailure("no key=value pairs in the line", self.name)
        obj = pairs_to_object([(k, _unquote(v)) for k, v in found])
        self.json.apply(obj, doc)
        if "msg" not in obj and "message" not in obj:
            doc["message"] = line
        return "kv.pairs"
