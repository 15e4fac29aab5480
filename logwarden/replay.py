"""`logwarden replay`: re-run a slice of a topic's history through a stage, or into a topic.

    logwarden replay --topic logs.ecs --from now-7d --into rules      # new rules over last week
    logwarden replay --topic logs.raw --from 2026-12-01 --into parsers  # re-parse after a parser fix
    logwarden replay --topic logs.raw --into logs.raw                 # the same, through the live parsers

The slice is settled before anything is read (replay_plan.py): per partition a start offset
(`--from`) and an end offset (`--to`, or the log end at start), so a replay ends even while
live writers append, and can write into the topic it reads.

`--into STAGE` runs a separate instance of the stage's object (the same class the worker
runs) inside the worker shell's loop (logwarden.worker), so the durability order is the
shell's: outputs produced with acks=all, flushed, then the stage's checkpoint. What it does
not do is what would disturb the live stage:

* it never joins nor commits into the stage's consumer group: the consumer `assign()`s the
  slice under a group id of its own and commits nothing, so the live worker's offsets and
  partitions are untouched;
* the rules instance keeps its correlation windows and alerts in memory (no state store):
  it never writes `topics.rules_state`, which holds the live worker's checkpoint, and it
  sends no notifications unless `--notify` is given (its alerts go to the alerts topic and
  the index as the live worker's do; an alert id is the rule, key and episode start, so an
  alert the live worker already raised for the same events is updated, not doubled; at the
  end of the slice `RulesStage.settle()` decides the windows and recovers the alerts whose
  time is over, which nothing would do after this process exits);
* the parsers instance writes logs.ecs (and routes) like the live parsers: every consumer of
  logs.ecs sees the events again - the index collapses them by `event.id`, the rules stage
  skips ids it counted within `rules.dedup_window`, the metrics stage counts them again.

`--into TOPIC` copies each record (key, value, headers, timestamp; the partition chosen by
the key as for any producer) and is flushed before the command exits.

The embedded index admits one writer (tantivy's lock): `--into index` works against
Elasticsearch or OpenSearch, or while the appliance's index worker is stopped; otherwise
replay the index's input topic into itself (`--topic logs.ecs --into logs.ecs`) and the live
index collapses the copies by event.id.
"""
from __future__ import annotations

import logging
import sys
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

import click

from logwarden.cli import config_option, resolve
from logwarden.replay_plan import Cursor, Plan, PlanError, Target, parse_from, parse_to, plan, resolve_target
from logwarden.produce import produce_waiting
from logwarden.worker import _Shell

if TYPE_CHECKING:
    from confluent_kafka import Message

    from logwarden.config import Config
    from logwarden.worker import StopFlag

log = logging.getLogger("logwarden.replay")
TIMEOUT_S = 30.0


@dataclass
class Copy:
    """One record to copy as it is (what `Output` cannot carry: headers and the timestamp)."""

    topic: str
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]] | None
    timestamp: int | None


class TopicCopy:
    """The "stage" of `--into TOPIC`: every record becomes a Copy into `target`."""

    name = "copy"

    def __init__(self, source: str, target: str):
        self.topics = [source]
        self.target = target

    def process(self, msgs: list["Message"]) -> Iterable[Copy]:
        from confluent_kafka import TIMESTAMP_NOT_AVAILABLE

        for m in msgs:
            kind, ts = m.timestamp()
            yield Copy(self.target, m.value(), m.key(), m.headers(), None if kind == TIMESTAMP_NOT_AVAILABLE else ts)

    def checkpoint(self) -> None:
        """Nothing of its own: the shell's flush is what makes the copies durable."""

    def close(self) -> None:
        pass


def build_stage(cfg: "Config", name: str, *, notify: bool = False) -> Any:
    """A replay instance of worker stage `name`: the class its worker runs, without what only
    the live worker may own (the rules state topic; notifications unless `notify`)."""
    if name == "parsers":
        from logwarden.kafka import ensure_topics
        from logwarden.parsers.service import ParserStage
        from logwarden.stages import BY_NAME

        ensure_topics(cfg, BY_NAME["parsers"].outputs(cfg))  # as its run(): a refused produce would stop it
        return ParserStage(cfg)
    if name == "index":
        from logwarden.sinks.index_service import IndexStage

        where = cfg.data_path / "index"
        if cfg.index.type == "embedded" and not where.is_dir():  # a wrong data dir would start a new index
            raise PlanError(f"--into index: no embedded index under {where}: give the appliance's -c file or --data-dir")
        try:
            return IndexStage(cfg)
        except ValueError as exc:  # tantivy: the writer's lock file is held
            if "lock" not in str(exc).lower():
                raise
            raise PlanError(f"--into index: the embedded index under {cfg.data_path / 'index'} has a writer already "
                            f"(the appliance's index worker; only one process may write it). Replay into the topic "
                            f"it reads instead (--into {cfg.topics.ecs}): the index collapses the copies by event.id") from None
    if name == "rules":
        from logwarden.rules.mapping import PipelineError
        from logwarden.rules.service import RulesStage, rules_config

        try:
            return RulesStage(rules_config(cfg, **({} if notify else {"notifiers": []})), topics=cfg.topics, store=None)
        except PipelineError as exc:  # a broken custom mapping pipeline, as the worker reports it
            raise PlanError(f"--into rules: {exc}") from None
    raise PlanError(f"cannot replay into {name}")


class ReplayShell(_Shell):
    """The worker shell (logwarden.worker._Shell: producer, delivery checks, checkpoint order)
    driving a stage over a fixed slice instead of a consumer group's subscription."""

    def __init__(self, cfg: "Config", stage: Any, checkpoint_interval_ms: int):
        from confluent_kafka import Consumer

        from logwarden.kafka import consumer_settings

        # A group id of its own: assign() never joins a group, and nothing is ever committed
        # (self.pending stays empty, so the shell's checkpoint commits nothing) - the id only
        # makes sure that even a commit could not land in the live stage's group.
        group = f"logwarden-replay-{stage.name}-{uuid.uuid4().hex[:12]}"
        super().__init__(cfg, stage, group, checkpoint_interval_ms)
        self.consumer.close()  # the shell's own; a replay needs end-of-partition events
        self.consumer = Consumer(consumer_settings(cfg, group, **{"enable.partition.eof": True}))
        self.read = 0
        self.produced = 0

    def replay(self, plan: Plan, stop: "StopFlag", batch_size: int, on_progress: Callable[[int], None]) -> bool:
        """Run the slice through the stage; True when it was read to its end (False: stopped)."""
        from confluent_kafka import KafkaError, TopicPartition

        cursor = Cursor(plan)
        pending = plan.pending
        if self.assigned is not None:
            self.assigned([(s.topic, s.partition) for s in pending])
        if pending:
            self.consumer.assign([TopicPartition(s.topic, s.partition, s.start) for s in pending])
        last = time.monotonic()
        paused: set[int] = set()
        try:
            while not cursor.done and not stop.is_set():
                good = []
                for m in self.consumer.consume(batch_size, 0.2):
                    err = m.error()
                    if err is None:
                        if cursor.take(m.partition(), m.offset()):
                            good.append(m)
                    elif err.code() == KafkaError._PARTITION_EOF:
                        cursor.end_of_log(m.partition(), m.offset())
                    else:
                        log.warning("consume error", extra={"error": err.str()})
                done = cursor.finished - paused
                if done and not cursor.done:  # stop fetching what live writers append
                    self.consumer.pause([TopicPartition(plan.topic, p) for p in done])
                    paused |= done
                if good:
                    self.read += len(good)
                    self.received.inc(len(good))
                    for out in self.stage.process(good):
                        self._emit(out)
                self.producer.poll(0)
                on_progress(cursor.progress)
                if time.monotonic() - last >= self.interval:
                    self.checkpoint()
                    last = time.monotonic()
            settle = getattr(self.stage, "settle", None)  # rules: decide what is over (see RulesStage.settle)
            if cursor.done and settle is not None:
                for out in settle():
                    self._emit(out)
            self.checkpoint()
            on_progress(cursor.progress)
        finally:
            self.stage.close()
            self.consumer.close()
        return cursor.done

    def _emit(self, out: Any) -> None:
        self.produced += 1
        self.sent.inc()
        if not isinstance(out, Copy):
            self._produce(out)
            return
        produce_waiting(self.producer, out.topic, out.value, out.key, on_delivery=self._delivered,
                        headers=out.headers, timestamp=out.timestamp or 0)


def read_plan(cfg: "Config", topic: str, from_text: str | None, to_text: str | None,
              existing: set[str]) -> Plan:
    """Watermarks and the broker's time lookups -> the slice (replay_plan.plan)."""
    from confluent_kafka import Consumer, TopicPartition

    from logwarden.kafka import consumer_settings

    start = parse_from(from_text)
    to_ms = parse_to(to_text)
    c = Consumer(consumer_settings(cfg, f"logwarden-replay-plan-{uuid.uuid4().hex[:12]}"))
    try:
        md = c.list_topics(topic, timeout=TIMEOUT_S).topics[topic]
        tps = [TopicPartition(topic, p) for p in sorted(md.partitions)]
        watermarks = {tp.partition: c.get_watermark_offsets(tp, timeout=TIMEOUT_S) for tp in tps}

        def lookup(ms: int) -> dict[int, int]:
            found = c.offsets_for_times([TopicPartition(topic, tp.partition, ms) for tp in tps], timeout=TIMEOUT_S)
            return {tp.partition: tp.offset for tp in found}

        return plan(topic, watermarks, start,
                    start_by_time=lookup(start.time_ms) if start.by_time else None,
                    end_by_time=lookup(to_ms + 1) if to_ms is not None else None)  # first record after --to
    finally:
        c.close()


def _topics(cfg: "Config") -> set[str]:
    from confluent_kafka.admin import AdminClient

    from logwarden.kafka import client_settings

    # All topics, never one by name: a metadata request naming a topic may create it.
    return set(AdminClient(client_settings(cfg)).list_topics(timeout=TIMEOUT_S).topics)


class _Progress:
    """A rich progress bar on a terminal (stderr); nothing when stderr is not one."""

    def __init__(self, total: int, label: str):
        from rich.console import Console

        console = Console(stderr=True)
        self.bar = None
        if console.is_terminal and total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)
            self.task = self.bar.add_task(label, total=total)
            self.bar.start()

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.command("replay")
@config_option
@click.option("--topic", required=True, metavar="TOPIC", help="The topic to read (e.g. logs.ecs, logs.raw).")
@click.option("--from", "from_", metavar="OFFSET|TIME",
              help="Start: an offset on every partition (1200), or the first record at or after TIME: ISO 8601 "
                   "(2026-12-01T08:00:00Z) or date math (now-7d). Default: all that is retained.")
@click.option("--to", "to", metavar="TIME", help="Stop before the first record after TIME (same forms). "
                                                 "Default: the end of every partition when the replay starts.")
@click.option("--into", required=True, metavar="STAGE|TOPIC",
              help="A stage to run the records through (parsers, index, rules), or a topic to copy them into.")
@click.option("--broker", "broker_", metavar="H:P", help="Kafka bootstrap servers (default: the built-in broker of the config).")
@click.option("--data-dir", help="The appliance's data directory (for --into index with the embedded index).")
@click.option("--notify", is_flag=True, help="--into rules: also send the notifiers' notifications (default: alerts only).")
def replay(config_file: str | None, topic: str, from_: str | None, to: str | None, into: str,
           broker_: str | None, data_dir: str | None, notify: bool) -> None:
    """Re-run history: the records of TOPIC from --from to --to through a stage, or into a topic.

    The replay reads the slice settled when it starts and then exits; it never commits offsets
    for the live stage's consumer group, and a rules replay never writes the rules state topic.
    Progress is drawn on a terminal; the last line says what was read and produced.
    """
    from confluent_kafka import KafkaException

    from logwarden import logs
    from logwarden.stages import BY_NAME

    cfg = resolve(config_file, broker=broker_, data_dir=data_dir)
    logs.setup("replay", cfg.log_level, cfg.log_format)
    try:
        parse_from(from_)
        parse_to(to)
    except ValueError as exc:
        fail(str(exc))
    try:
        existing = _topics(cfg)
        target = resolve_target(into, topic, {s.name: s.inputs(cfg.topics) for s in BY_NAME.values()}, existing)
        the_plan = read_plan(cfg, topic, from_, to, existing)
    except PlanError as exc:
        fail(str(exc))
    except KafkaException as exc:
        fail(f"cannot reach the broker at {cfg.bootstrap_servers}: {exc}", 1)
    try:
        summary = run(cfg, the_plan, target, notify=notify)
    except PlanError as exc:
        fail(str(exc))
    click.echo(summary.line())
    if not summary.complete:
        sys.exit(130)


@dataclass
class Summary:
    plan: Plan
    into: str
    read: int
    produced: int
    seconds: float
    complete: bool

    def line(self) -> str:
        what = "replayed" if self.complete else "stopped after"
        return (f"{what} {self.read:,} of {self.plan.total:,} records of {self.plan.topic} into {self.into}: "
                f"{self.produced:,} outputs produced in {self.seconds:.1f} s")


def run(cfg: "Config", the_plan: Plan, target: Target, *, notify: bool = False,
        stop: "StopFlag | None" = None, batch_size: int = 5000) -> Summary:
    """Replay `the_plan` into `target`; returns when the slice is done (or `stop` is set)."""
    from logwarden.worker import StopFlag

    stop = stop or StopFlag().install()
    began = time.monotonic()
    if target.stage is not None:
        stage = build_stage(cfg, target.stage, notify=notify)
        interval = cfg.index.commit_interval_ms if target.stage == "index" else 1000
        into = f"the {target.stage} stage"
    else:
        stage = TopicCopy(the_plan.topic, target.topic or "")
        interval = 1000
        into = target.topic or ""
    shell = ReplayShell(cfg, stage, interval)
    progress = _Progress(the_plan.total, f"{the_plan.topic} -> {target.stage or target.topic}")
    try:
        complete = shell.replay(the_plan, stop, batch_size, progress.update)
    finally:
        progress.close()
    return Summary(the_plan, into, shell.read, shell.produced, time.monotonic() - began, complete)
