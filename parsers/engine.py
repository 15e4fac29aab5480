"""The sans-IO parser engine: raw envelope in, ECS document (or a reason) out.

    engine = Engine(cfg.parsers)
    result = engine.parse(raw)       # dict (ECS) | ParseFailure | None (dropped by a pipeline)
    topics = engine.topics(result)   # default output topic plus matching routes

Per event: pick the pipeline (first whose path/fields/dataset/input selectors match; the
choice is cached per distinct (log_format, path, dataset, input), which repeat endlessly),
pick the format (pipeline > envelope fields.log_format > Filebeat event.dataset >
parsers.default_format), build the base document from the envelope, let the format parser
fill it, then run the pipeline's processors - and those of the first pipeline matched by
syslog program, which is only known after parsing. Nothing here does I/O; the stage shell
(service.py) and the CLI (cli.py) feed it.
"""
from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from logwarden.events import ECS_TOPIC, flatten

from . import processors
from .conditions import compile_condition
from .config import ParsersConfig, PipelineConfig
from .core import FormatOptions, FormatParser, Marks, ParseFailure, dig
from .formats import DATASETS, FORMATS
from .geoip import GeoDatabases
from .grok import load_definitions
from .ids import fast_raw_event_id
from .timefmt import find_time, iso, zone

DROP = processors.DROP
_CARRY_SKIP = frozenset(("@timestamp", "message", "event", "log", "source", "host", "tags"))
_EVENT_CARRY = ("dataset", "module", "timezone", "category", "type", "provider")
_KEY_TYPES = (str, type(None))
_PARSERS_MAX = 512  # parser instances kept per (format, zone); zones come from envelopes
UNPARSED_TAG = "unparsed"  # on lines `auto` recognised as no format and indexed as they are
_COMMON = frozenset(("@timestamp", "message", "event", "log", "host", "agent", "input", "fields", "tags", "source"))


class _Clock:
    """event.ingested text, formatted at most once per millisecond."""

    __slots__ = ("ms", "text")

    def __init__(self) -> None:
        self.ms = -1
        self.text = ""

    def __call__(self) -> str:
        t = time.time()
        ms = int(t * 1000)
        if ms != self.ms:
            self.ms = ms
            self.text = iso(datetime.fromtimestamp(t, timezone.utc))
        return self.text


def base_document(raw: dict[str, Any], ingested: str) -> dict[str, Any]:
    """The ECS skeleton every parser starts from: identity, original, envelope metadata.

    Hot path: known envelope keys are handled one by one (the generic loop only runs for
    keys beyond Filebeat's usual set); `host` and `log` are shallow-copied because parsers
    add host.hostname and log.level to them, and the envelope must stay untouched (DLQ).
    """
    msg = raw["message"]
    event = {"id": fast_raw_event_id(raw), "original": msg, "ingested": ingested, "kind": "event"}
    doc: dict[str, Any] = {"@timestamp": raw.get("@timestamp") or ingested, "message": msg, "event": event}
    if not _COMMON.issuperset(raw):  # keys beyond Filebeat's usual envelope: carry them all
        for k, v in raw.items():
            if k not in _CARRY_SKIP:
                doc[k] = v
    else:
        if "agent" in raw:
            doc["agent"] = raw["agent"]
        if "input" in raw:
            doc["input"] = raw["input"]
        if "fields" in raw:
            doc["fields"] = raw["fields"]
    ev_in = raw.get("event")
    if ev_in.__class__ is dict:
        for k in _EVENT_CARRY:
            if k in ev_in:
                event[k] = ev_in[k]
    host = raw.get("host")
    if host.__class__ is dict:
        doc["host"] = host.copy()
    tags = raw.get("tags")
    if tags:
        doc["tags"] = list(tags) if tags.__class__ is list else [str(tags)]
    log = raw.get("log")
    doc["log"] = log.copy() if log.__class__ is dict else {}
    src = raw.get("source")
    if src.__class__ is dict and (src.get("ip") or src.get("address")):
        # the sender of a network message (a syslog relay), not the event's own source
        doc["log"]["source"] = {"address": src.get("address") or src.get("ip")}
    return doc


@dataclass(slots=True)
class _Pipeline:
    name: str
    config: PipelineConfig
    pre: Callable[[dict[str, Any]], bool] | None  # path/fields/dataset/input selectors
    program: str | None
    steps: list[tuple[str, Callable[[dict[str, Any]], Any]]] = field(default_factory=list)


@dataclass(slots=True)
class _Route:
    name: str
    test: Callable[[dict[str, Any]], bool]
    topic: str
    keep_in_default: bool


def _pre_selector(cfg: PipelineConfig) -> Callable[[dict[str, Any]], bool] | None:
    m = cfg.match
    if not (m.fields or m.path or m.dataset or m.input):
        return None

    def test(raw: dict[str, Any]) -> bool:
        if m.fields:
            f = raw.get("fields")
            if f.__class__ is not dict or any(str(f.get(k)) != v for k, v in m.fields.items()):
                return False
        if m.path:
            p = dig(raw, "log", "file", "path")
            p = p if isinstance(p, str) else ""
            if not any(fnmatch.fnmatchcase(p, g) for g in m.path):
                return False
        if m.dataset and dig(raw, "event", "dataset") != m.dataset:
            return False
        if m.input and dig(raw, "input", "type") != m.input:
            return False
        return True
    return test


class Engine:
    def __init__(self, cfg: ParsersConfig | None = None, *, now: datetime | None = None, format_override: str | None = None,
                 output_topic: str = ECS_TOPIC):
        """`output_topic`: the default topic of ECS events (the stage passes `topics.ecs`)."""
        self.cfg = cfg = cfg or ParsersConfig()
        self.output_topic = output_topic
        self.clock = _Clock()
        self.marks = Marks()
        self.unparsed = 0
        self.now = now
        self.format_override = format_override
        self.tz = zone(cfg.timezone)
        patterns: dict[str, str] = {}
        for path in cfg.pattern_files:
            with open(path, encoding="utf-8") as fh:
                patterns.update(load_definitions(fh.read(), path))
        patterns.update(cfg.patterns)
        self.patterns = patterns
        self._parsers: dict[tuple[str, str | None], FormatParser] = {}
        self._geo: dict[tuple[str, ...], GeoDatabases] = {}
        gcfg = cfg.geoip
        # the default enrichment step (parsers.geoip), run on every event after the pipelines
        self.geoip = self.geo_databases(tuple(gcfg.databases)) if gcfg.databases and gcfg.default_step else None
        self.enrich = [processors.default_geo_step(gcfg.fields, self.geoip, gcfg.private_tag)] if self.geoip is not None else []
        self.pipelines: list[_Pipeline] = []
        for pc in cfg.pipelines:
            ctx = {"tz": zone(pc.timezone) if pc.timezone else self.tz, "patterns": patterns,
                   "geo": self.geo_databases, "geoip_databases": gcfg.databases}
            pipe = _Pipeline(pc.name, pc, _pre_selector(pc), pc.match.program)
            pipe.steps = [(p.type, processors.build(p, ctx)) for p in pc.processors]
            self.pipelines.append(pipe)
        self._pre = [p for p in self.pipelines if p.program is None]
        self._post = [p for p in self.pipelines if p.program is not None]
        self._select_cache: dict[tuple[Any, ...], _Pipeline | None] = {}
        self._by_key: dict[tuple[Any, ...], FormatParser] = {}
        self._field_keys = sorted({k for p in self._pre for k in p.config.match.fields})
        self.routes = [_Route(r.name, compile_condition(r.when), r.topic, r.keep_in_default) for r in cfg.routes]
        for name in {cfg.default_format, format_override or "auto", *(p.format for p in cfg.pipelines if p.format)}:
            if name not in FORMATS:
                raise ValueError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}")

    # -- building blocks -----------------------------------------------------------------
    def geo_databases(self, paths: tuple[str, ...]) -> GeoDatabases:
        """One set of readers (and one LRU) per distinct list of files, shared by the default
        step and every geoip processor naming the same files."""
        dbs = self._geo.get(paths)
        if dbs is None:
            dbs = self._geo[paths] = GeoDatabases(list(paths), self.cfg.geoip.cache_size, self.cfg.geoip.reload_seconds)
        return dbs

    def reload_enrichment(self) -> None:
        """Reopen GeoIP files that changed (the stage calls this once per batch)."""
        for dbs in self._geo.values():
            dbs.maybe_reload()

    def parser(self, name: str, tz_name: str | None = None) -> FormatParser | None:
        key = (name, tz_name)
        p = self._parsers.get(key)
        if p is None:
            cls = FORMATS.get(name)
            if cls is None:
                return None
            tz = self.tz
            if tz_name:
                try:
                    tz = zone(tz_name)
                except (KeyError, ValueError, OSError):
                    pass  # an envelope's unknown event.timezone: read in the configured zone
            opts = FormatOptions(tz=tz, now=self.now, grok_patterns=self.patterns, marks=self.marks)
            if name == "auto":
                p = cls(opts, factory=lambda n, tz=tz_name: self.parser(n, tz))
            else:
                p = cls(opts)
            if len(self._parsers) >= _PARSERS_MAX:  # event.timezone comes from senders: bound it
                self._parsers.clear()
                self._by_key.clear()
            self._parsers[key] = p
        return p

    def _select(self, raw: dict[str, Any]) -> _Pipeline | None:
        if not self._pre:
            return None
        f = raw.get("fields")
        # everything a pre-parse selector can look at, and nothing else (values must hash)
        key = (
            tuple(str(f.get(k)) for k in self._field_keys) if f.__class__ is dict else None,
            dig(raw, "log", "file", "path"),
            dig(raw, "event", "dataset"),
            dig(raw, "input", "type"),
        )
        try:
            return self._select_cache[key]
        except KeyError:
            pass
        except TypeError:  # a list or object where a string belongs: decide without the cache
            return next((p for p in self._pre if p.pre is None or p.pre(raw)), None)
        chosen = next((p for p in self._pre if p.pre is None or p.pre(raw)), None)
        if len(self._select_cache) > 10_000:
            self._select_cache.clear()
        self._select_cache[key] = chosen
        return chosen

    def format_name(self, raw: dict[str, Any], pipe: _Pipeline | None) -> str:
        if self.format_override:
            return self.format_override
        if pipe is not None and pipe.config.format:
            return pipe.config.format
        f = raw.get("fields")
        if f.__class__ is dict:
            name = f.get("log_format")
            if name and isinstance(name, str):
                return name
        ev = raw.get("event")
        if ev.__class__ is dict:
            ds = ev.get("dataset")
            if isinstance(ds, str) and ds in DATASETS:
                return DATASETS[ds]
        return self.cfg.default_format

    # -- the per-event path --------------------------------------------------------------
    def parse(self, raw: Any) -> dict[str, Any] | ParseFailure | None:
        return self._run(raw, None)

    def explain(self, raw: Any) -> tuple[dict[str, Any] | ParseFailure | None, list[tuple[str, str]]]:
        """The result plus (field, producer) for every field: envelope, parser:pattern, processor."""
        trace: list[tuple[str, str]] = []
        self.marks.active = []
        try:
            return self._run(raw, trace), trace
        finally:
            self.marks.active = None

    def _run(self, raw: Any, trace: list[tuple[str, str]] | None) -> dict[str, Any] | ParseFailure | None:
        if raw.__class__ is not dict:
            return ParseFailure("envelope is not a JSON object", "envelope")
        msg = raw.get("message")
        if msg.__class__ is not str:
            return ParseFailure("envelope has no `message` text", "envelope")
        pipe = self._select(raw) if self._pre else None
        if pipe is None:
            # hot path: the parser depends only on (fields.log_format, event.dataset, event.timezone)
            f = raw.get("fields")
            ev = raw.get("event")
            key = (f.get("log_format") if f.__class__ is dict else None,
                   ev.get("dataset") if ev.__class__ is dict else None,
                   ev.get("timezone") if ev.__class__ is dict else None)
            if not (key[0].__class__ in _KEY_TYPES and key[1].__class__ in _KEY_TYPES and key[2].__class__ in _KEY_TYPES):
                key = tuple(v if isinstance(v, str) else None for v in key)  # JSON lists/objects: ignore them
            parser = self._by_key.get(key)
            if parser is None:
                name = self.format_name(raw, None)
                parser = self.parser(name, key[2])  # type: ignore[arg-type]
                if parser is None:
                    return ParseFailure(f"unknown log format {name!r} (known: {', '.join(sorted(FORMATS))})", "engine")
                if len(self._by_key) > 1024:
                    self._by_key.clear()
                self._by_key[key] = parser
        else:
            name = self.format_name(raw, pipe)
            tz_name = pipe.config.timezone
            if tz_name is None:
                ev = raw.get("event")
                if ev.__class__ is dict and isinstance(ev.get("timezone"), str):
                    tz_name = ev["timezone"]  # Filebeat's add_locale: the shipping host's zone
            parser = self.parser(name, tz_name)
            if parser is None:
                return ParseFailure(f"unknown log format {name!r} (known: {', '.join(sorted(FORMATS))})", "engine")
        doc = base_document(raw, self.clock())
        before = flatten(doc) if trace is not None else None
        result = parser.parse(msg, doc)
        if result.__class__ is ParseFailure:
            if parser.name == "auto" and self.cfg.unrecognized == "index" and self.cfg.on_unmatched != "keep":
                doc, result = self._unparsed(raw, msg, parser), "unparsed"   # the pipeline's processors still run
            elif self.cfg.on_unmatched == "keep":
                doc = base_document(raw, self.clock())
                doc.setdefault("tags", []).append("_parsefailure")
                doc["error"] = {"message": result.reason, "type": result.parser}  # type: ignore[union-attr]
                return doc
            else:
                return result  # type: ignore[return-value]
        if trace is not None:
            steps = self.marks.active or []
            envelope = True
            for snap, label in steps:  # staged parsers: header fields, then the message's
                _attribute(trace, before, _Flat(snap), label, envelope=envelope)
                before, envelope = snap, False
            _attribute(trace, before, doc, f"{parser.name}:{result}", envelope=envelope)
        if pipe is None and not self._post:
            if self.enrich:
                self._enrich(doc, trace)
            return doc
        for p in (pipe, self._post_pipeline(doc)):
            if p is None:
                continue
            for i, (kind, step) in enumerate(p.steps):
                snap = flatten(doc) if trace is not None else None
                out = step(doc)
                if out is not None:
                    if out is DROP:
                        return None
                    if out.__class__ is ParseFailure:
                        return ParseFailure(out.reason, f"{p.name}/{out.parser}")
                if trace is not None:
                    _attribute(trace, snap, doc, f"pipeline {p.name} processors[{i}] {kind}")
        if self.enrich:
            self._enrich(doc, trace)
        return doc

    def _enrich(self, doc: dict[str, Any], trace: list[tuple[str, str]] | None) -> None:
        """The default step (parsers.geoip): geo and as of the standard IP fields."""
        snap = flatten(doc) if trace is not None else None
        for step in self.enrich:
            step(doc)
        if trace is not None:
            _attribute(trace, snap, doc, "parsers.geoip default step")

    def _unparsed(self, raw: dict[str, Any], msg: str, parser: FormatParser) -> dict[str, Any]:
        """A line `auto` recognised as nothing, indexed as it is (parsers.unrecognized: index):
        the envelope's fields, the line as message, the time it states when one is found
        near its start, and the `unparsed` tag. A pipeline's processors then run as on any
        event, so one can still reject it (to logs.dlq) or drop it."""
        doc = base_document(raw, self.clock())
        opts = getattr(parser, "options", None)
        found = find_time(msg, opts.tz if opts is not None else self.tz, self.now)
        if found is not None:
            doc["@timestamp"] = found
        tags = doc.get("tags")
        doc["tags"] = [*tags, UNPARSED_TAG] if isinstance(tags, list) else [UNPARSED_TAG]
        self.unparsed += 1
        return doc

    def take_unparsed(self) -> int:
        """How many lines were indexed unparsed since the last call (the stage counts them)."""
        n, self.unparsed = self.unparsed, 0
        return n

    def _post_pipeline(self, doc: dict[str, Any]) -> _Pipeline | None:
        if not self._post:
            return None
        prog = dig(doc, "process", "name")
        if not isinstance(prog, str):
            return None
        for p in self._post:
            if fnmatch.fnmatchcase(prog, p.program or ""):
                return p
        return None

    def matching_routes(self, doc: dict[str, Any]) -> list[_Route]:
        """The routes whose condition holds for `doc`, in configured order (`--explain`)."""
        return [r for r in self.routes if r.test(doc)]

    def topics(self, doc: dict[str, Any]) -> list[str]:
        """Where an ECS event goes: the default topic and every matching route's topic."""
        if not self.routes:
            return [self.output_topic]
        out: list[str] = []
        keep = True
        for r in self.matching_routes(doc):
            if r.topic not in out:
                out.append(r.topic)
            keep = keep and r.keep_in_default
        if keep and self.output_topic not in out:
            out.insert(0, self.output_topic)
        return out


class _Flat(dict):
    """An already flattened snapshot (from Marks), passed where a document is expected."""


def _attribute(trace: list[tuple[str, str]], before: dict[str, Any] | None, doc: dict[str, Any], who: str, envelope: bool = False) -> None:
    after = doc if isinstance(doc, _Flat) else flatten(doc)
    before = before or {}
    if envelope:
        for k in before:
            if k in after and after[k] == before[k]:
                trace.append((k, "envelope"))
    for k, v in after.items():
        if k not in before or before[k] != v:
            trace.append((k, who))
    for k in before:
        if k not in after:
            trace.append((k, f"{who} (removed)"))


_default: Engine | None = None


def parse(raw: dict[str, Any]) -> dict[str, Any] | ParseFailure | None:
    """Parse one envelope with the default configuration (format from the envelope, else auto)."""
    global _default
    if _default is None:
        _default = Engine()
    return _default.parse(raw)
