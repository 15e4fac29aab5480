"""Log-to-metric feeds: counters and histograms that `metrics.feeds` derives from ECS events.

A feed is a search query (the query language of `sinks.query`), a metric type and the
fields whose values become its labels:

    metrics:
      feeds:
        - {name: http_bytes, type: histogram, query: "event.dataset:nginx.access",
           field: http.response.body.bytes, labels: [http.response.status_code],
           buckets: [100, 1000, 10000]}

Feeds run where the per-event metrics are counted (`EventCounter.observe` in
sinks.metrics_service: the index stage under `logwarden up`, `logwarden worker metrics`
otherwise), on the batch already decoded there. Each query is compiled once into a Python
closure over the AST (`compile_matcher`); a batch is tallied in a dict per feed and added
to Prometheus once per label set, so the per-event cost is the closures plus a dict
update. Only the subset of the language that a single event can answer is accepted:
field:value, wildcards and ranges on keyword and numeric fields, CIDR and exact IPs,
_exists_, AND/OR/NOT. Full text (`message:...`, bare words), regular expressions and
date fields (their ranges are relative to "now", meaningless for a rate) are refused when
the config is checked.

Cardinality is bounded per feed: once `max_series` label sets exist, events with a new one
are counted in a single series whose every label is `__other__`, and
`logwarden_feed_overflow_events_total{feed}` counts them.
"""
from __future__ import annotations

import ipaddress
import re
import time
from bisect import bisect_left
from collections import Counter as Tally
from typing import TYPE_CHECKING, Any, Callable, Iterable

from prometheus_client import Counter, Histogram

from logwarden.sinks.query import And, Cidr, Exists, Match, MatchAll, Node, Not, Or, QueryError, Range, Regexp, Wildcard, parse
from logwarden.sinks.query import fields as ecs_fields
from logwarden.sinks.query.ast import wildcard_to_regex

if TYPE_CHECKING:
    from logwarden.sinks.config import FeedConfig, MetricsConfig

PREFIX = "logwarden_feed_"
OTHER = "__other__"
Matcher = Callable[[dict[str, Any]], bool]

OVERFLOW = Counter("logwarden_feed_overflow_events_total",
                   "Events of a feed counted in its __other__ series because max_series label sets existed.", ["feed"])


class UnsupportedQuery(ValueError):
    pass


def getter(path: str) -> Callable[[dict[str, Any]], Any]:
    """A function returning the value at a dotted ECS path (nested objects; a flat dotted key too).

    Unrolled per depth with one try: this runs per event and per feed."""
    parts = path.split(".")
    if len(parts) == 1:
        return lambda doc: doc.get(path)
    if len(parts) == 2:
        a, b = parts

        def get2(doc: dict[str, Any]) -> Any:
            try:
                return doc[a][b]
            except (KeyError, TypeError, IndexError):
                return doc.get(path)
        return get2
    if len(parts) == 3:
        a, b, c = parts

        def get3(doc: dict[str, Any]) -> Any:
            try:
                return doc[a][b][c]
            except (KeyError, TypeError, IndexError):
                return doc.get(path)
        return get3

    def get(doc: dict[str, Any]) -> Any:
        v: Any = doc
        try:
            for p in parts:
                v = v[p]
        except (KeyError, TypeError, IndexError):
            return doc.get(path)
        return v
    return get


def _values(get: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], list[Any]]:
    def values(doc: dict[str, Any]) -> list[Any]:
        v = get(doc)
        if v is None:
            return []
        return v if isinstance(v, list) else [v]
    return values


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(wildcard_to_regex(pattern, re.escape), re.DOTALL)


def _check_field(field: str | None, what: str) -> str:
    if field is None:
        raise UnsupportedQuery(f"{what} without a field (full-text search) is not supported in a metrics feed; name the field")
    kind = ecs_fields.kind(field)
    if kind == "text":
        raise UnsupportedQuery(f"{field} is full text: not supported in a metrics feed (use a keyword field)")
    if kind == "date":
        raise UnsupportedQuery(f"{field} is a date: not supported in a metrics feed (a feed counts every matching event)")
    return kind


def compile_matcher(node: Node) -> Matcher:
    """A predicate over one decoded ECS event, for the subset feeds support; UnsupportedQuery otherwise."""
    if isinstance(node, MatchAll):
        return lambda doc: True
    if isinstance(node, And):
        parts = [compile_matcher(c) for c in node.children]
        if len(parts) == 2:
            a, b = parts
            return lambda doc: a(doc) and b(doc)
        return lambda doc: all(p(doc) for p in parts)
    if isinstance(node, Or):
        parts = [compile_matcher(c) for c in node.children]
        if len(parts) == 2:
            a, b = parts
            return lambda doc: a(doc) or b(doc)
        return lambda doc: any(p(doc) for p in parts)
    if isinstance(node, Not):
        inner = compile_matcher(node.child)
        return lambda doc: not inner(doc)
    if isinstance(node, Exists):
        get = getter(node.field)
        return lambda doc: get(doc) not in (None, [])
    if isinstance(node, Regexp):
        raise UnsupportedQuery("regular expressions are not supported in a metrics feed")
    if isinstance(node, Match):
        kind = _check_field(node.field, "a term")
        values = _values(getter(node.field))  # type: ignore[arg-type]
        if kind == "ip":
            try:
                want_ip = ipaddress.ip_address(node.value)
            except ValueError as exc:
                raise UnsupportedQuery(f"{node.field}: not an IP address: {node.value!r}") from exc

            def ip_eq(doc: dict[str, Any]) -> bool:
                for v in values(doc):
                    try:
                        if ipaddress.ip_address(v) == want_ip:
                            return True
                    except ValueError:
                        pass
                return False
            return ip_eq
        want, num = node.value, _number(node.value)
        get = getter(node.field)  # type: ignore[arg-type]

        def eq(doc: dict[str, Any]) -> bool:
            v = get(doc)
            if v.__class__ is str:   # the common case: one keyword value
                return v == want
            for v in (v if isinstance(v, list) else () if v is None else (v,)):
                if v.__class__ is str:
                    if v == want:
                        return True
                elif isinstance(v, bool):
                    if want == ("true" if v else "false"):
                        return True
                elif isinstance(v, (int, float)) and num is not None and v == num:
                    return True
            return False
        return eq
    if isinstance(node, Wildcard):
        _check_field(node.field, "a wildcard")
        values = _values(getter(node.field))  # type: ignore[arg-type]
        rx = _wildcard_regex(node.pattern).fullmatch
        return lambda doc: any(isinstance(v, str) and rx(v) is not None for v in values(doc))
    if isinstance(node, Cidr):
        net = ipaddress.ip_network(node.network)
        values = _values(getter(node.field))

        def in_net(doc: dict[str, Any]) -> bool:
            for v in values(doc):
                try:
                    if ipaddress.ip_address(v) in net:
                        return True
                except ValueError:
                    pass
            return False
        return in_net
    if isinstance(node, Range):
        kind = _check_field(node.field, "a range")
        if kind == "ip":
            raise UnsupportedQuery(f"{node.field}: IP ranges are not supported in a metrics feed (use CIDR: {node.field}:10.0.0.0/8)")
        values = _values(getter(node.field))
        lo, hi, inc_lo, inc_hi = node.lower, node.upper, node.include_lower, node.include_upper
        if all(b is None or _number(b) is not None for b in (lo, hi)):
            nlo = None if lo is None else _number(lo)
            nhi = None if hi is None else _number(hi)

            get = getter(node.field)

            def in_range(doc: dict[str, Any]) -> bool:
                v = get(doc)
                if v.__class__ is int or v.__class__ is float:   # one number: no list
                    return (nlo is None or v > nlo or (v == nlo and inc_lo)) and (nhi is None or v < nhi or (v == nhi and inc_hi))
                for v in (v if isinstance(v, list) else ()):
                    if isinstance(v, bool) or not isinstance(v, (int, float)):
                        continue
                    if nlo is not None and (v < nlo or (v == nlo and not inc_lo)):
                        continue
                    if nhi is not None and (v > nhi or (v == nhi and not inc_hi)):
                        continue
                    return True
                return False
            return in_range
        if kind in ("long", "float"):
            raise UnsupportedQuery(f"{node.field} is numeric: range bounds must be numbers, got {lo!r} and {hi!r}")

        def in_str_range(doc: dict[str, Any]) -> bool:
            for v in values(doc):
                if not isinstance(v, str):
                    continue
                if lo is not None and (v < lo or (v == lo and not inc_lo)):
                    continue
                if hi is not None and (v > hi or (v == hi and not inc_hi)):
                    continue
                return True
            return False
        return in_str_range
    raise UnsupportedQuery(f"{type(node).__name__} queries are not supported in a metrics feed")


def compile_query(text: str) -> Matcher:
    """Parse and compile a feed's query; ValueError (with the reason) for what a feed cannot run."""
    try:
        node = parse(text)
    except QueryError as exc:
        raise ValueError(f"invalid query: {exc}") from exc
    return compile_matcher(node)


def _label(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        v = v[0] if v else ""
    return v if isinstance(v, str) else str(v)


# Prometheus metrics are registered once per process; feeds of the same definition (a stage
# recreated in a test, two configs) share them.
_REGISTERED: dict[str, tuple[tuple[Any, ...], Any]] = {}


def _metric(cfg: "FeedConfig") -> Any:
    name = PREFIX + cfg.name
    from logwarden.sinks.config import label_name

    labels = [label_name(lbl) for lbl in cfg.labels]
    signature = (cfg.type, tuple(labels), tuple(cfg.buckets))
    known = _REGISTERED.get(name)
    if known is not None:
        if known[0] != signature:
            raise ValueError(f"metric {name} already exists in this process with other labels or buckets")
        return known[1]
    doc = cfg.description or f"Metrics feed {cfg.name}: {cfg.query}"
    if cfg.type == "counter":
        metric = Counter(name, doc, labels)
    else:
        metric = Histogram(name, doc, labels, buckets=cfg.buckets)
    _REGISTERED[name] = (signature, metric)
    return metric


class Feed:
    """One feed: its compiled query, its label getters and its bounded set of label values."""

    def __init__(self, cfg: "FeedConfig"):
        self.name = cfg.name
        self.metric_name = PREFIX + cfg.name
        self.type = cfg.type
        self.match = compile_query(cfg.query)
        self.label_names = list(cfg.labels)
        self.label_getters = [getter(f) for f in cfg.labels]
        self.value = getter(cfg.field) if cfg.field else None
        self.max_series = cfg.max_series
        self.metric = _metric(cfg)
        self.bounds = [float(b) for b in cfg.buckets]
        self.seen: set[tuple[str, ...]] = set()
        self.other = tuple(OTHER for _ in cfg.labels)
        # Cumulative state of this process's series, for the samples on the metrics topic.
        self.totals: dict[tuple[str, ...], list[float]] = {}

    def _key(self, doc: dict[str, Any]) -> tuple[str, ...]:
        getters = self.label_getters
        if len(getters) == 1:
            v = getters[0](doc)
            key: tuple[str, ...] = (v if v.__class__ is str else _label(v),)
        else:
            key = tuple(_label(g(doc)) for g in getters)
        if key in self.seen:
            return key
        if len(self.seen) >= self.max_series:
            return self.other
        self.seen.add(key)
        return key

    def observe(self, docs: list[dict[str, Any]]) -> None:
        match, value = self.match, self.value
        if self.type == "counter":
            counts: Tally[tuple[str, ...]] = Tally()
            for doc in docs:
                if match(doc):
                    counts[self._key(doc)] += 1
            self._add_counts(counts)
            return
        observed: dict[tuple[str, ...], list[float]] = {}
        for doc in docs:
            if not match(doc):
                continue
            v = value(doc)  # type: ignore[misc]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            observed.setdefault(self._key(doc), []).append(float(v))
        self._add_observations(observed)

    def _add_counts(self, counts: Tally[tuple[str, ...]]) -> None:
        for key, n in counts.items():
            (self.metric.labels(*key) if key else self.metric).inc(n)
            if key == self.other and self.other:
                OVERFLOW.labels(self.name).inc(n)
            total = self.totals.setdefault(key, [0.0])
            total[0] += n

    def _add_observations(self, observed: dict[tuple[str, ...], list[float]]) -> None:
        from logwarden.sinks.metrics_service import observe_many

        nb = len(self.bounds) + 1
        for key, values in observed.items():
            observe_many(self.metric.labels(*key) if key else self.metric, values)
            if key == self.other and self.other:
                OVERFLOW.labels(self.name).inc(len(values))
            # [count, sum, per-bucket (non-cumulative) counts..., +Inf bucket]
            state = self.totals.setdefault(key, [0.0, 0.0] + [0.0] * nb)
            state[0] += len(values)
            state[1] += sum(values)
            for v in values:
                state[2 + bisect_left(self.bounds, v)] += 1

    def samples(self, timestamp: float) -> list[dict[str, Any]]:
        """One JSON sample per series of this process: cumulative since it started."""
        out = []
        for key, state in self.totals.items():
            doc: dict[str, Any] = {"@timestamp": _iso(timestamp), "metric": {"name": self.metric_name, "type": self.type,
                                                                           "feed": self.name},
                                   "labels": dict(zip(self.label_names, key))}
            if self.type == "counter":
                doc["value"] = state[0]
            else:
                cumulative, running = {}, 0.0
                for bound, n in zip([*self.bounds, float("inf")], state[2:]):
                    running += n
                    cumulative["+Inf" if bound == float("inf") else repr(bound)] = running
                doc.update(count=state[0], sum=state[1], buckets=cumulative)
            out.append(doc)
        return out


def _iso(ts: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Feeds:
    """Every configured feed, evaluated per batch; samples for the metrics topic every interval."""

    def __init__(self, cfg: "MetricsConfig", topic: str):
        self.feeds = [Feed(f) for f in cfg.feeds]
        self.topic = topic
        self.interval = cfg.sample_interval_ms / 1000
        self.last = time.monotonic()

    def __bool__(self) -> bool:
        return bool(self.feeds)

    def observe(self, docs: Iterable[dict[str, Any]]) -> None:
        batch = docs if isinstance(docs, list) else list(docs)
        for feed in self.feeds:
            feed.observe(batch)

    def due_samples(self, now: float | None = None) -> list[dict[str, Any]]:
        """The samples of every series when sample_interval_ms has passed since the last ones, else []."""
        mono = time.monotonic() if now is None else now
        if not self.feeds or mono - self.last < self.interval:
            return []
        self.last = mono
        ts = time.time()
        return [s for f in self.feeds for s in f.samples(ts)]
