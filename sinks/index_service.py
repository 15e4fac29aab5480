"""`logwarden worker index`: logs.ecs and alerts -> the search index (embedded or Elasticsearch).

A Stage for `logwarden.worker.run_stage`. Each consumed record is one JSON document; it is
written keyed by its `event.id`, so replays collapse (delete-by-term then add in tantivy,
`_id` in Elasticsearch). Durability order, which makes "each line exactly once in the
index" hold across a SIGKILL:

    process(batch)  -> documents added to the tantivy writer (not yet durable)
    checkpoint()    -> tantivy commit (+ archive fsync)       <- the shell calls this first
    shell           -> consumer offsets commit                <- only after it

A crash before the tantivy commit loses the uncommitted documents *and* leaves the offsets
behind, so they are consumed again; a crash after the commit but before the offset commit
replays documents that are already there, and the id-keyed write replaces them.

The checkpoint runs every `index.commit_interval_ms`, never per batch (committing every
5-10k documents halves tantivy's throughput). With `index.type: elasticsearch` each batch
is sent with `_bulk` inside process(); items Elasticsearch rejects for good (4xx) go to
logs.dlq with its reason, retryable ones (429/5xx) are retried, and a batch that still
fails raises so the process restarts and the batch is redelivered.

A record that is not a JSON object goes to logs.dlq with the reason; it never stops the stage.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterator, Protocol

import orjson
from prometheus_client import Counter

from logwarden import events, metrics
from logwarden.events import DLQ_TOPIC, event_id
from logwarden.worker import Output

if TYPE_CHECKING:
    from confluent_kafka import Message

    from logwarden.config import Config

log = logging.getLogger("logwarden.sinks.index")

DOCS = Counter("logwarden_index_documents_total", "Documents written to the search index.", ["index"])


class Rejected(Exception):
    """A document the backend refuses for good (it goes to the dead-letter topic)."""


class Backend(Protocol):
    def write(self, kind: str, docs: list[tuple[dict[str, Any], bytes]]) -> list[tuple[int, str]]:
        """Write documents; return (position, reason) of the ones rejected for good."""
        ...

    def checkpoint(self) -> None: ...

    def close(self) -> None: ...


def dead_letter(value: bytes, reason: str, doc: dict[str, Any] | None = None, *, topic: str = DLQ_TOPIC) -> Output:
    """The logs.dlq record for a record the index could not take (logwarden.events shape):
    `error.type` index, `event.original` the record's text, `raw` the document when it
    decoded as one, and the document's own `event.id` when it has one."""
    ev = doc.get("event") if isinstance(doc, dict) else None
    eid = (ev or {}).get("id") if isinstance(ev, dict) else None
    body = events.dead_letter(value, reason, "index", eid=eid or event_id("index-dlq", value), decoded=doc)
    return Output(topic, orjson.dumps(body), key=None)


class IndexStage:
    name = "index"

    def __init__(self, cfg: "Config", backend: Backend | None = None):
        self.cfg = cfg
        self.kind_by_topic = {cfg.topics.ecs: "events", cfg.topics.alerts: "alerts"}
        self.topics = list(self.kind_by_topic)
        self.dlq_topic = cfg.topics.dlq
        self.backend = backend or make_backend(cfg)
        self.archive = None
        if cfg.index.archive.enabled:
            from logwarden.sinks.archive import Archive

            self.archive = Archive(cfg.data_path / "archive")
        self._errors = metrics.ERRORS
        self.counter = None
        if cfg.index.count_events:
            # The metrics feed's per-event counts, from the events decoded here anyway
            # (sinks.metrics_service: a separate decode only to count cost more than indexing's share).
            from logwarden.sinks.metrics_service import EventCounter

            self.counter = EventCounter(cfg)

    def process(self, msgs: list["Message"]) -> Iterator[Output]:
        batches: dict[str, list[tuple[dict[str, Any], bytes]]] = {"events": [], "alerts": []}
        for m in msgs:
            value = m.value() or b""
            kind = self.kind_by_topic.get(m.topic(), "events")
            try:
                doc = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                self._errors.labels(self.name, "dead_letter").inc()
                yield self._dead_letter(value, f"not JSON: {exc}")
                continue
            if not isinstance(doc, dict):
                self._errors.labels(self.name, "dead_letter").inc()
                yield self._dead_letter(value, f"expected a JSON object, got {type(doc).__name__}")
                continue
            batches[kind].append((doc, value))
        for kind, docs in batches.items():
            if not docs:
                continue
            rejected = self.backend.write(kind, docs)
            for i, reason in rejected:
                self._errors.labels(self.name, "dead_letter").inc()
                yield self._dead_letter(docs[i][1], reason, docs[i][0])
            DOCS.labels(kind).inc(len(docs) - len(rejected))
            if self.archive is not None and kind == "events":
                bad = {i for i, _ in rejected}
                self.archive.write(d for i, d in enumerate(docs) if i not in bad)
        if self.counter is not None and batches["events"]:
            self.counter.observe([doc for doc, _ in batches["events"]])
        if self.counter is not None:
            yield from self.counter.samples()

    def idle(self) -> Iterator[Output]:
        """The metrics feeds' samples fall due with time, not only with events."""
        return iter(self.counter.samples()) if self.counter is not None else iter(())

    def _dead_letter(self, value: bytes, reason: str, doc: dict[str, Any] | None = None) -> Output:
        return dead_letter(value, reason, doc, topic=self.dlq_topic)

    def checkpoint(self) -> None:
        self.backend.checkpoint()
        if self.archive is not None:
            self.archive.flush()

    def close(self) -> None:
        try:
            self.backend.close()
        finally:
            if self.archive is not None:
                self.archive.close()


def make_backend(cfg: "Config") -> Backend:
    if cfg.index.type == "elasticsearch":
        from logwarden.sinks.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend(cfg.index)
    if cfg.index.type == "opensearch":
        from logwarden.sinks.opensearch import OpenSearchBackend

        return OpenSearchBackend(cfg.index)
    from logwarden.sinks.embedded import EmbeddedBackend

    return EmbeddedBackend(cfg)


def run(cfg: "Config") -> None:
    """Run the index stage until SIGTERM/SIGINT; the final checkpoint commits the index."""
    from logwarden.kafka import ensure_topics
    from logwarden.sinks.embedded import EmbeddedBackend
    from logwarden.sinks.topics import rewind_group
    from logwarden.stages import group_id
    from logwarden.worker import run_stage

    stage = IndexStage(cfg)
    ensure_topics(cfg, stage.topics + ([cfg.topics.metrics] if stage.counter is not None and stage.counter.feeds else []))
    backend = stage.backend
    if isinstance(backend, EmbeddedBackend) and any(w.created for w in backend.writers.values()):
        # A new embedded index (first start, or deleted to rebuild): read all that is retained.
        rewind_group(cfg, group_id(stage.name), stage.topics)
    run_stage(cfg, stage, batch_size=5000, checkpoint_interval_ms=cfg.index.commit_interval_ms)


__all__ = ["IndexStage", "run", "dead_letter"]
