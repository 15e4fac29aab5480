"""The parser contract: a format parser fills an ECS document from one line, or says why not.

Theory of operation. The stage hands each raw envelope (Filebeat's Kafka shape) to
`Engine.parse` (engine.py). The engine builds the base ECS document from the envelope
(`base_document`: id, original, host, file, agent...), picks a format parser by name from
`FORMATS` (a plain dict, filled in parsers/formats/__init__.py) and calls

    parser.parse(line, doc) -> str | ParseFailure

A parser writes the fields it recognises straight into `doc` (nested dicts built by hand,
never a generic deep merge - that is the hot path) and returns the name of the pattern that
matched, which `--explain` reports; or it returns a ParseFailure with a reason for the
dead-letter topic. Parsers never raise on bad input and never do I/O, so they are trivially
testable and safe to run in any process.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

import orjson

from .timefmt import UTC


@dataclass(slots=True, frozen=True)
class ParseFailure:
    """Why a line could not be parsed, and by which parser (becomes error.message / error.type)."""

    reason: str
    parser: str


class Marks:
    """Where `--explain` collects intermediate snapshots: parsers that work in stages (a syslog
    header, then the program's message) call `mark(doc, label)` between them, so each field
    is attributed to the step that wrote it. Inactive (None) outside explain: one check."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active: list[tuple[dict[str, Any], str]] | None = None

    def mark(self, doc: dict[str, Any], label: str) -> None:
        if self.active is not None:
            from logwarden.events import flatten

            self.active.append((flatten(doc), label))


@dataclass(slots=True)
class FormatOptions:
    """What a parser needs to know beyond the line: where it is and how to read ambiguous times."""

    tz: tzinfo = UTC  # zone of timestamps that carry none (RFC 3164, error logs)
    now: datetime | None = None  # fixed clock for RFC 3164 year inference (tests, replays)
    grok_patterns: dict[str, str] = field(default_factory=dict)  # user grok definitions
    extra: dict[str, Any] = field(default_factory=dict)  # per-format settings from a pipeline
    marks: Marks = field(default_factory=Marks)  # explain snapshots (see Marks)


class FormatParser(Protocol):
    name: str

    def parse(self, line: str, doc: dict[str, Any]) -> "str | ParseFailure":
        """Fill `doc` from `line`; return the matched pattern's name or a ParseFailure."""
        ...


# --- small shared helpers -------------------------------------------------------------

# Shape checks only (not full validation): cheap enough per event, and strict enough that
# a hostname never lands in an ip-typed field of the index.
_IPV4 = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
_IPV6 = r"(?=[0-9A-Fa-f:.]*:)[0-9A-Fa-f:]{2,39}(?:" + _IPV4 + r")?(?:%[\w.]+)?"
IP_RE = re.compile(rf"(?:{_IPV4}|{_IPV6})\Z")
_ip_match = IP_RE.match
_IP_CACHE_MAX = 65536  # client and attacker addresses repeat; remember this many answers
_ip_cache: dict[str, bool] = {}


def is_ip(text: str) -> bool:
    """Whether `text` is shaped like an IPv4/IPv6 address (cached: addresses repeat)."""
    r = _ip_cache.get(text)
    if r is None:
        if len(_ip_cache) >= _IP_CACHE_MAX:
            _ip_cache.clear()
        r = _ip_cache[text] = _ip_match(text) is not None
    return r


_LONG_MAX = 2**63 - 1


def long_or_none(v: Any, base: int = 10) -> int | None:
    """An integer that fits ECS `long` (and JSON encoders), from digit text; None otherwise.

    Lines are untrusted: a 30-digit "pid" must not become a value the index (or orjson)
    refuses, nor a 5000-digit one hit int()'s conversion limit."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v if -_LONG_MAX <= v <= _LONG_MAX else None
    if isinstance(v, float) and v.is_integer():
        return long_or_none(int(v))
    if not isinstance(v, str) or not v or len(v) > 20:
        return None
    try:
        n = int(v, base)
    except ValueError:
        return None
    return n if -_LONG_MAX <= n <= _LONG_MAX else None


def json_value(line: str, parser: str) -> Any:
    """The JSON value of a line, or a ParseFailure naming `parser` when it is not JSON (the
    JSON-shaped formats - json, docker, winlog - all start here)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return ParseFailure(f"invalid JSON: {exc}", parser)


def dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]... for JSON of unknown shape: None as soon as a level is not an object."""
    for k in keys:
        if obj.__class__ is not dict:
            return None
        obj = obj.get(k)
    return obj


def set_source(doc: dict[str, Any], addr: str, port: str | int | None = None) -> None:
    """source.ip when `addr` is an IP, else source.domain; source.address always (ECS)."""
    src: dict[str, Any] = {"address": addr}
    if is_ip(addr):
        src["ip"] = addr
    else:
        src["domain"] = addr
    if port:
        p = long_or_none(port) if not isinstance(port, int) else port
        if p is not None:
            src["port"] = p
    doc["source"] = src


def add_related(doc: dict[str, Any], kind: str, value: str) -> None:
    rel = doc.get("related")
    if rel is None:
        doc["related"] = {kind: [value]}
        return
    vals = rel.setdefault(kind, [])
    if value not in vals:
        vals.append(value)


def default_dataset(ev: dict[str, Any], module: str, dataset: str) -> None:
    """event.module and event.dataset of the parser that matched, unless the envelope (a
    Filebeat module, an ingest pipeline) named a dataset already: theirs wins."""
    if "dataset" not in ev:
        ev["module"] = module
        ev["dataset"] = dataset


def event_of(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["event"]


SYSLOG_SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")
SYSLOG_FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)


def syslog_priority(pri: int) -> dict[str, Any]:
    """log.syslog.{priority,facility,severity} from a PRI value (RFC 5424 6.2.1)."""
    fac, sev = divmod(pri, 8)
    return {
        "priority": pri,
        "facility": {"code": fac, "name": SYSLOG_FACILITIES[fac] if fac < len(SYSLOG_FACILITIES) else str(fac)},
        "severity": {"code": sev, "name": SYSLOG_SEVERITIES[sev]},
    }
