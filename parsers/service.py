"""The parser stage: `logwarden worker parsers` (and one or more children of `logwarden up`).

A thin shell around the sans-IO Engine, run by the core worker shell
(logwarden.worker.run_stage), which owns consuming, producing with acks=all and committing
offsets only after every output of a batch is acknowledged. `process` turns each message
of `logs.raw` into outputs (agent envelopes of access and sshd login lines first try the compiled
fast path, fastpath.py, which writes the same document from bytes to bytes; anything it
is not sure about comes here):

    parsed   -> one Output per topic from Engine.topics (logs.ecs, plus matching routes);
                auditd records of one serial are first merged (AuditJoiner, per batch)
    unparsed -> a line `auto` recognised as no format: one plain event tagged `unparsed` to
                logs.ecs (parsers.unrecognized: index, the default), counted apart
    failed   -> one Output to logs.dlq (the reason, the parser, the untouched envelope)
    dropped  -> nothing (a pipeline's `drop` processor, counted)

Nothing raises per event: a message that is not even JSON becomes a DLQ document too.

Scaling over cores: this process runs one consumer. The supervisor (`logwarden up`) starts
`parsers.workers` of them, all in the consumer group `logwarden-parsers`, so the broker
spreads the partitions of logs.raw across them; in the scaled-out form each
`logwarden worker parsers` process (or container replica) is one more member.
Output keys keep the input key, so events of one source stay ordered within a partition.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterable

import orjson
from prometheus_client import Counter

from logwarden import metrics
from logwarden.kafka import ensure_topics
from logwarden.stages import BY_NAME
from logwarden.worker import Output, run_stage

from .core import ParseFailure
from .dlq import dlq_document
from .engine import Engine
from .fastpath import ACCELERATED, FastPath
from .formats.auditd import AuditJoiner

if TYPE_CHECKING:
    from confluent_kafka import Message

    from logwarden.config import Config

log = logging.getLogger("logwarden.parsers")

OUTCOMES = Counter("logwarden_parsers_events_total", "Parser stage outcomes per event.", ["outcome"])
ROUTED = Counter("logwarden_parsers_routed_events_total", "Events written per output topic.", ["topic"])
DLQ_REASONS = Counter("logwarden_parsers_dlq_events_total", "Events dead-lettered, by the parser that failed.", ["parser"])


class ParserStage:
    name = "parsers"

    def __init__(self, cfg: "Config", engine: Engine | None = None):
        self.cfg = cfg
        self.engine = engine or Engine(cfg.parsers, output_topic=cfg.topics.ecs)
        self.topics = BY_NAME["parsers"].inputs(cfg.topics)  # the registry says what a stage reads
        self.output_topic = cfg.topics.ecs
        self.dlq_topic = cfg.topics.dlq
        self._parsed = OUTCOMES.labels("parsed")
        self._failed = OUTCOMES.labels("dlq")
        self._dropped = OUTCOMES.labels("dropped")
        self._unparsed = OUTCOMES.labels("unparsed")
        self._errors = metrics.ERRORS.labels("parsers", "dlq")
        self._routed: dict[str, Counter] = {}
        self.joiner = AuditJoiner() if cfg.parsers.auditd_join else None
        fast = FastPath(self.engine)
        self.fast = fast if fast.enabled and cfg.parsers.fast_path else None

    def process(self, msgs: list["Message"]) -> Iterable[Output]:
        if self.engine._geo:
            self.engine.reload_enrichment()  # a stat per file at most every parsers.geoip.reload_seconds
        if self.fast is None:
            return self._slow(msgs)
        self.fast.new_batch()
        # agent envelopes of access and sshd login lines: bytes to bytes; the rest stays a Message
        out, slow = self.fast.run(msgs, self.engine.clock().encode(), self.output_topic)
        done = len(out) - slow
        if done:
            self._parsed.inc(done)
            self._count_route(self.output_topic, done)
        return self._slow(out) if slow else out

    def _slow(self, msgs: Iterable[Any]) -> Iterable[Output]:
        """The generic path for every Message in `msgs`; Outputs (the fast path's) pass through
        in place, so events of one key keep their order."""
        parse = self.engine.parse
        topics_of = self.engine.topics
        dumps = orjson.dumps
        default_only = not self.engine.routes
        default_topic = self.output_topic
        joiner = self.joiner
        parsed = 0
        for m in msgs:
            if m.__class__ is Output:
                yield m
                continue
            value = m.value()
            key = m.key()
            try:
                raw = orjson.loads(value) if value is not None else None
            except orjson.JSONDecodeError as exc:
                text = value.decode("utf-8", "replace") if value is not None else ""
                yield self._dead(text, ParseFailure(f"envelope is not valid JSON: {exc}", "envelope"), key,
                                 (m.topic(), m.partition(), m.offset()))
                continue
            result = parse(raw)
            if result.__class__ is dict:
                if default_only and (joiner is None or "auditd" not in result):
                    try:  # the common case, inlined: one document to the default topic
                        body = dumps(result)
                    except (TypeError, orjson.JSONEncodeError):
                        pass  # _emit below dead-letters it with the reason
                    else:
                        parsed += 1
                        yield Output(default_topic, body, key)
                        continue
                if joiner is not None and "auditd" in result:
                    ready = joiner.feed(result, key)  # type: ignore[arg-type]
                else:
                    ready = ((result, key),)
                for doc, k in ready:
                    parsed += 1
                    out = self._emit(doc, k, dumps, default_only, default_topic, topics_of, raw)
                    if out.__class__ is Output:
                        yield out
                    else:
                        yield from out
            elif result is None:
                self._dropped.inc()
            else:
                yield self._dead(raw, result, key, (m.topic(), m.partition(), m.offset()))  # type: ignore[arg-type]
        if joiner is not None:
            for doc, k in joiner.flush():  # never hold a record past its batch's commit
                parsed += 1
                out = self._emit(doc, k, dumps, default_only, default_topic, topics_of, None)
                if out.__class__ is Output:
                    yield out
                else:
                    yield from out
        unparsed = self.engine.take_unparsed()  # lines `auto` recognised as nothing, indexed as they are
        if unparsed:
            self._unparsed.inc(unparsed)
        if parsed:
            if parsed > unparsed:
                self._parsed.inc(parsed - unparsed)
            if default_only:
                self._count_route(default_topic, parsed)

    def _emit(self, doc: dict, key: bytes | None, dumps, default_only: bool, default_topic: str, topics_of, raw: object) -> Output | list[Output]:
        try:
            body = dumps(doc)
        except (TypeError, orjson.JSONEncodeError) as exc:  # e.g. a pipeline `set` of a 65-bit integer
            ev = doc.get("event") or {}
            original = raw if raw is not None else {"message": ev.get("original"), "event": {"id": ev.get("id")}}
            return self._dead(original, ParseFailure(f"event cannot be serialised: {exc}", "engine"), key, ())
        if default_only:
            return Output(default_topic, body, key)
        outs = []
        for topic in topics_of(doc):
            self._count_route(topic)
            outs.append(Output(topic, body, key))
        return outs

    def _dead(self, raw: object, failure: ParseFailure, key: bytes | None, where: tuple[object, ...]) -> Output:
        self._failed.inc()
        self._errors.inc()
        DLQ_REASONS.labels(failure.parser).inc()
        return Output(self.dlq_topic, orjson.dumps(dlq_document(raw, failure, fallback_id=where)), key)

    def _count_route(self, topic: str, n: int = 1) -> None:
        c = self._routed.get(topic)
        if c is None:
            c = self._routed[topic] = ROUTED.labels(topic)
        c.inc(n)

    def checkpoint(self) -> None:
        """Nothing of ours to make durable: outputs are flushed by the shell before commits."""

    def close(self) -> None:
        pass


def run(cfg: "Config") -> None:
    """Run one parser consumer until SIGTERM/SIGINT; the supervisor starts parsers.workers of them."""
    stage = ParserStage(cfg)
    log.info("parser stage ready", extra={"pipelines": [p.name for p in stage.engine.pipelines],
                                          "routes": [r.name for r in stage.engine.routes],
                                          "default_format": cfg.parsers.default_format,
                                          "fast_path": "off" if stage.fast is None else "C" if ACCELERATED else "Python",
                                          "geoip": stage.engine.geoip.metadata() if stage.engine.geoip is not None else "off"})
    # Output topics too: a Kafka cluster with auto.create.topics.enable=false would refuse the
    # first produce, and a failed delivery stops the stage (offsets must not pass it).
    ensure_topics(cfg, BY_NAME["parsers"].outputs(cfg))
    run_stage(cfg, stage, batch_size=cfg.parsers.batch_size)
