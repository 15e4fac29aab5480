"""JSON lines: one object per line, merged into the ECS document.

Applications that log JSON usually name their time `timestamp`, `time`, `ts` or `@timestamp`
(ISO text or epoch seconds/milliseconds), their text `message` or `msg`, and their level
`level`. Those become `@timestamp`, `message` and `log.level`; the object's fields are
kept at the top level as Filebeat's `json.overwrite_keys` does, because ECS-shaped JSON
(from an ECS logging library) then lands exactly where it belongs.

Two guards keep the document indexable: the stage's own `event.id`, `event.original` and
`event.ingested` always win, and a key whose value would collide in type with an ECS object
(`"host": "web1"` where ECS has `host.*`) moves to `json.<key>` instead of clobbering it.
"""
from __future__ import annotations

from typing import Any

from ..core import FormatOptions, ParseFailure, json_value
from ..timefmt import parse_any

TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "datetime", "date", "eventTime", "t")
MESSAGE_KEYS = ("message", "msg", "log")
LEVEL_KEYS = ("level", "severity", "lvl", "loglevel")
# Top-level ECS field sets: their value must stay an object.
ECS_OBJECTS = frozenset((
    "agent", "client", "cloud", "container", "destination", "dns", "ecs", "error", "event", "file",
    "group", "host", "http", "log", "network", "observer", "orchestrator", "organization", "package",
    "process", "registry", "related", "rule", "server", "service", "source", "threat", "tls", "url",
    "user", "user_agent", "vulnerability", "winlog", "kubernetes", "labels",
))
PROTECTED_EVENT = ("id", "original", "ingested")


def merge_object(obj: dict[str, Any], doc: dict[str, Any]) -> None:
    """Merge a decoded JSON object into `doc` one level deep (see module doc for the guards)."""
    for key, value in obj.items():
        cur = doc.get(key)
        if key in ECS_OBJECTS:
            if not isinstance(value, dict):
                doc.setdefault("json", {})[key] = value
                continue
            if isinstance(cur, dict):
                if key == "event":
                    value = {k: v for k, v in value.items() if k not in PROTECTED_EVENT}
                cur.update(value)
                continue
        doc[key] = value


def json_object(line: str, parser: str) -> dict[str, Any] | ParseFailure:
    """The JSON object of a line; a ParseFailure naming `parser` for anything else."""
    obj = json_value(line, parser)
    if obj.__class__ is ParseFailure or isinstance(obj, dict):
        return obj
    return ParseFailure(f"JSON line is a {type(obj).__name__}, not an object", parser)


class JsonParser:
    name = "json"

    def __init__(self, options: FormatOptions | None = None):
        self.tz = (options or FormatOptions()).tz

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        obj = json_object(line, self.name)
        return obj if obj.__class__ is ParseFailure else self.apply(obj, doc)

    def apply(self, obj: dict[str, Any], doc: dict[str, Any]) -> str:
        ts = None
        for key in TIME_KEYS:
            if key in obj:
                ts = parse_any(obj[key], self.tz)
                if ts is not None:
                    break
        msg = None
        for key in MESSAGE_KEYS:
            v = obj.get(key)
            if isinstance(v, str):
                msg = v
                break
        level = None
        for key in LEVEL_KEYS:
            v = obj.get(key)
            if isinstance(v, str):
                level = v.lower()
                break
        obj.pop("@timestamp", None)
        merge_object(obj, doc)
        if ts is not None:
            doc["@timestamp"] = ts
        if msg is not None:
            doc["message"] = msg.rstrip("\n")
        if level is not None:
            doc.setdefault("log", {})
            if isinstance(doc["log"], dict):
                doc["log"]["level"] = level
        return "json.object"


class JsonAutoParser(JsonParser):
    """`auto` for lines starting with `{`: decode once, then pick the JSON dialect by its keys
    (Docker json-file: log+stream/time; winlogbeat: winlog or EventID; else plain JSON)."""

    name = "json_auto"

    def __init__(self, options: FormatOptions | None = None):
        super().__init__(options)
        from .container import DockerJsonParser
        from .winlog import WinlogParser

        self.docker = DockerJsonParser(options)
        self.winlog = WinlogParser(options)

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        obj = json_object(line, "json")
        if obj.__class__ is ParseFailure:
            return obj
        if isinstance(obj.get("log"), str) and ("stream" in obj or "time" in obj) and len(obj) <= 4:
            return self.docker.apply(obj, doc)
        if isinstance(obj.get("winlog"), dict) or "EventID" in obj:
            return self.winlog.apply(obj, doc)
        return self.apply(obj, doc)
