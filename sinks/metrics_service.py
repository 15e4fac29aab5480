"""`logwarden worker metrics`: the metrics feed — Prometheus counters derived from logs.ecs.

For every ECS event it counts

    logwarden_events_total{dataset, outcome}                       events per dataset/outcome
    logwarden_http_responses_total{dataset, status_code}           web access logs by status
    logwarden_http_response_bytes_total{dataset}                   bytes served
    logwarden_event_delay_seconds{dataset}                         @timestamp -> event.ingested
    logwarden_dead_letters_total{type}                             logs.dlq records by error.type
                                                                   (the parser or stage that refused)

so `rate(logwarden_events_total{outcome="failure"}[5m])` is a failed-login or error rate
without a search. Counts are aggregated per batch in a dict and added to the Prometheus
metrics once per label set (the delay histogram too: its buckets are tallied per batch),
which keeps the per-event cost to a few dict lookups. Label values are bounded
(MAX_DATASETS; status codes outside 100-599 become "other") so a noisy source cannot
explode the series count.

Who counts the events: under `logwarden up` (`index.count_events` true, which the
supervisor sets when it is left empty) the index stage, which decodes every logs.ecs record
anyway, calls `EventCounter.observe` on its decoded batch, and this worker reads only
logs.dlq. A separate consumer that decodes every event again only to count it measured
14-21 µs of CPU per event under bench/e2e.py (consume, decode, the shell's per-message
work), more than the parsers; counting inside the index stage costs 1-2 µs. Workers run
on their own (compose, Kubernetes) keep the separate count unless `index.count_events:
true` is set, because there only this worker serves /metrics.

The log-to-metric feeds of `metrics.feeds` (sinks.feeds: logwarden_feed_<name>, and
JSON samples on topics.metrics) are evaluated inside `EventCounter.observe`, so they run
wherever the events are counted, in the index stage or here, by one code path.

Multiprocess: under `logwarden up` PROMETHEUS_MULTIPROC_DIR is set and the HTTP app's
/metrics aggregates this process with the others. Run on its own, set `index.metrics_listen`
to serve /metrics from this process. Counters are at-least-once like the rest of the
pipeline: a crash between a batch and the offset commit counts that batch twice.
"""
from __future__ import annotations

import logging
from bisect import bisect_left
from collections import Counter as Tally
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import orjson
from prometheus_client import Counter, Histogram

from logwarden.sinks.feeds import Feeds
from logwarden.stages import BY_NAME
from logwarden.worker import Output

if TYPE_CHECKING:
    from confluent_kafka import Message

    from logwarden.config import Config

log = logging.getLogger("logwarden.sinks.metrics")

MAX_DATASETS = 200          # distinct dataset labels before the rest count as "other"

EVENTS = Counter("logwarden_events_total", "ECS events by dataset and outcome.", ["dataset", "outcome"])
HTTP_RESPONSES = Counter("logwarden_http_responses_total", "HTTP responses in access logs by status code.", ["dataset", "status_code"])
HTTP_BYTES = Counter("logwarden_http_response_bytes_total", "Response body bytes in access logs.", ["dataset"])
DEAD_LETTERS = Counter("logwarden_dead_letters_total", "Records on logs.dlq by error.type (the refusing parser or stage).", ["type"])
MAX_DLQ_TYPES = 50
DELAY_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400)
DELAY = Histogram("logwarden_event_delay_seconds", "Delay from the event's @timestamp to its ingestion.", ["dataset"],
                  buckets=DELAY_BUCKETS)


def _ts(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def observe_many(child: Any, values: list[float]) -> None:
    """`child.observe(v)` for every v, with one increment per bucket touched.

    Uses prometheus_client's Histogram internals (`_upper_bounds`, `_buckets` holding
    per-bucket, non-cumulative counts, `_sum`), as `observe` does: an observe per event
    cost a lock and an mmap write each under the multiprocess collector. Falls back to
    `observe` if a client version lays them out otherwise."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for v in values:
            child.observe(v)
        return
    counts = Tally(bisect_left(bounds, v) for v in values)   # the first bucket with v <= bound, as observe()
    total.inc(sum(values))
    for i, n in counts.items():
        buckets[i].inc(n)


class EventCounter:
    """The per-event metrics of logs.ecs, counted over decoded batches; label values bounded.

    With a config, also the log-to-metric feeds of `metrics.feeds` (sinks.feeds), so that
    they run wherever the events are counted; `samples()` gives their JSON samples for
    topics.metrics when they fall due."""

    def __init__(self, cfg: "Config | None" = None) -> None:
        self._datasets: set[str] = set()
        self.feeds: Feeds | None = None
        if cfg is not None and cfg.metrics.feeds:
            self.feeds = Feeds(cfg.metrics, cfg.topics.metrics)

    def samples(self) -> list[Output]:
        """The feeds' samples as records for topics.metrics, once per metrics.sample_interval_ms."""
        if self.feeds is None:
            return []
        topic = self.feeds.topic
        return [Output(topic, orjson.dumps(s), key=s["metric"]["name"].encode()) for s in self.feeds.due_samples()]

    def _dataset(self, value: Any) -> str:
        name = value if isinstance(value, str) and value else "unknown"
        if name in self._datasets:
            return name
        if len(self._datasets) >= MAX_DATASETS:
            return "other"
        self._datasets.add(name)
        return name

    def observe(self, docs: Iterable[dict[str, Any]]) -> None:
        if self.feeds is not None:
            docs = docs if isinstance(docs, list) else list(docs)
            self.feeds.observe(docs)
        events: Tally[tuple[str, str]] = Tally()
        statuses: Tally[tuple[str, str]] = Tally()
        body_bytes: Tally[str] = Tally()
        delays: dict[str, list[float]] = {}
        stamps: dict[Any, float | None] = {}   # @timestamp repeats within a second: parse each once
        known = self._datasets
        for doc in docs:
            ev = doc.get("event")
            ev = ev if isinstance(ev, dict) else {}
            name = ev.get("dataset")
            dataset = name if name.__class__ is str and name in known else self._dataset(name)
            outcome = ev.get("outcome")
            events[(dataset, outcome if outcome in ("success", "failure", "unknown") else "none")] += 1
            http = doc.get("http")
            if isinstance(http, dict):
                resp = http.get("response")
                if isinstance(resp, dict):
                    code = resp.get("status_code")
                    if isinstance(code, int) and not isinstance(code, bool):
                        statuses[(dataset, str(code) if 100 <= code <= 599 else "other")] += 1
                    body = resp.get("body")
                    n = body.get("bytes") if isinstance(body, dict) else None
                    if isinstance(n, int) and not isinstance(n, bool) and n >= 0:
                        body_bytes[dataset] += n
            ingested = ev.get("ingested")
            if ingested is None:
                continue
            ts = doc.get("@timestamp")
            try:
                t0 = stamps[ts]
            except KeyError:
                t0 = stamps[ts] = _ts(ts)
            except TypeError:        # an unhashable @timestamp (a list, an object): not a date
                t0 = None
            t1 = _ts(ingested) if t0 is not None else None
            if t1 is not None and t1 >= t0:
                delays.setdefault(dataset, []).append(t1 - t0)
        for (dataset, outcome), n in events.items():
            EVENTS.labels(dataset, outcome).inc(n)
        for (dataset, code), n in statuses.items():
            HTTP_RESPONSES.labels(dataset, code).inc(n)
        for dataset, n in body_bytes.items():
            HTTP_BYTES.labels(dataset).inc(n)
        for dataset, values in delays.items():
            observe_many(DELAY.labels(dataset), values)


class MetricsStage:
    name = "metrics"

    def __init__(self, cfg: "Config"):
        # What the registry says it reads, less logs.ecs when the index stage counts the
        # events (index.count_events)
        inputs = BY_NAME["metrics"].inputs(cfg.topics)
        self.topics = [t for t in inputs if t != cfg.topics.ecs] if cfg.index.count_events else inputs
        self.dlq_topic = cfg.topics.dlq
        # The feeds run where the events are counted: here only when this stage reads logs.ecs.
        self.counter = EventCounter(None if cfg.index.count_events else cfg)
        self._dlq_types: set[str] = set()

    def observe(self, docs: list[dict[str, Any]]) -> None:
        self.counter.observe(docs)

    def observe_dead_letters(self, docs: list[dict[str, Any]]) -> None:
        counts: Tally[str] = Tally()
        for doc in docs:
            err = doc.get("error")
            kind = err.get("type") if isinstance(err, dict) else None
            kind = kind if isinstance(kind, str) and kind else "unknown"
            if kind not in self._dlq_types:
                if len(self._dlq_types) >= MAX_DLQ_TYPES:
                    kind = "other"
                else:
                    self._dlq_types.add(kind)
            counts[kind] += 1
        for kind, n in counts.items():
            DEAD_LETTERS.labels(kind).inc(n)

    def process(self, msgs: list["Message"]) -> Iterator[Output]:
        docs, dead = [], []
        dlq_topic = self.dlq_topic
        for m in msgs:
            try:
                doc = orjson.loads(m.value() or b"")
            except orjson.JSONDecodeError:
                if m.topic() == dlq_topic:
                    dead.append({})
                continue  # on logs.ecs the index stage dead-letters it: counting it here would count it twice
            if not isinstance(doc, dict):
                continue
            (dead if m.topic() == dlq_topic else docs).append(doc)
        self.observe(docs)
        self.observe_dead_letters(dead)
        return iter(self.counter.samples())

    def idle(self) -> Iterator[Output]:
        """The metrics feeds' samples fall due with time, not only with events."""
        return iter(self.counter.samples())

    def checkpoint(self) -> None:
        """Counters live in memory (or the multiprocess files): nothing to make durable."""

    def close(self) -> None:
        pass


def run(cfg: "Config") -> None:
    from logwarden.worker import run_stage

    if cfg.index.metrics_listen:
        from prometheus_client import start_http_server

        from logwarden.model import parse_hostport

        host, port = parse_hostport(cfg.index.metrics_listen)
        start_http_server(port, addr=host)
        log.info("serving /metrics", extra={"listen": cfg.index.metrics_listen})

    stage = MetricsStage(cfg)  # run_stage creates its input topics; the feeds' output topic here
    if stage.counter.feeds:
        from logwarden.kafka import ensure_topics

        ensure_topics(cfg, [cfg.topics.metrics])
    run_stage(cfg, stage, batch_size=5000, checkpoint_interval_ms=1000)
