"""What `logwarden replay` reads, decided without a broker (sans-IO).

A replay reads a fixed slice of a topic: per partition, from a start offset up to (not
including) an end offset, both settled before the first record is read. Fixing the end up
front is what lets a replay write into the topic it reads (logs.raw back into logs.raw after
a parser fix) without chasing its own output, and gives the progress bar its total.

    --from  (none)      the log start of every partition (all that is retained)
            N           offset N on every partition (clamped to what is retained)
            TIME        per partition, the first record whose timestamp is at or after TIME
    --to    (none)      the log end of every partition when the replay starts
            TIME        per partition, the first record whose timestamp is after TIME

TIME is ISO 8601 (`2026-12-01`, `2026-12-01T08:00:00Z`) or date math (`now-7d`, `now-1d/d`),
the same forms `logwarden search --from/--to` take (logwarden.sinks.query.datemath); a
date-only or rounded `--to` includes its whole day (or unit), as in search. Record
timestamps are Kafka's (the producer's create time), which for logs.ecs is when the parsers
wrote the event, not the event's @timestamp.

The broker answers the time lookups (ListOffsets by timestamp: the earliest offset whose
timestamp is at or after the one asked, or none). This module turns those answers and the
watermarks into `Span`s, and `Cursor` tracks a running replay: which records are inside the
slice, when each partition is finished, and how much is done.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from logwarden.sinks.query import datemath


@dataclass(frozen=True)
class From:
    """Where a replay starts: an offset for every partition, a time, or (neither) the log start."""

    offset: int | None = None
    time_ms: int | None = None

    @property
    def by_time(self) -> bool:
        return self.time_ms is not None


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def parse_from(text: str | None, now: datetime | None = None) -> From:
    """`--from`: none, `earliest`, a non-negative offset, or a time. ValueError says what is accepted."""
    if text is None or text.strip() in ("", "earliest"):
        return From()
    text = text.strip()
    if text.isdigit():
        return From(offset=int(text))
    try:
        return From(time_ms=_ms(datemath.parse(text, now or datetime.now(timezone.utc))))
    except ValueError:
        raise ValueError(f"--from: expected an offset (1200), a date (2026-12-01, 2026-12-01T08:00:00Z) "
                         f"or date math (now-7d, now-1d/d), got {text!r}") from None


def parse_to(text: str | None, now: datetime | None = None) -> int | None:
    """`--to`: None (the end offsets at start) or the last included time, in epoch ms."""
    if text is None or text.strip() == "":
        return None
    try:
        return _ms(datemath.parse(text.strip(), now or datetime.now(timezone.utc), round_up=True))
    except ValueError:
        raise ValueError(f"--to: expected a date (2026-12-01, 2026-12-01T08:00:00Z) or date math "
                         f"(now, now-1h, now-1d/d), got {text!r}") from None


@dataclass(frozen=True)
class Span:
    """Offsets [start, end) of one partition."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True)
class Plan:
    topic: str
    spans: tuple[Span, ...]

    @property
    def total(self) -> int:
        return sum(s.size for s in self.spans)

    @property
    def pending(self) -> list[Span]:
        """The spans with anything to read (the ones a replay assigns)."""
        return [s for s in self.spans if s.size]


def plan(topic: str, watermarks: dict[int, tuple[int, int]], start: From,
         start_by_time: dict[int, int] | None = None, end_by_time: dict[int, int] | None = None) -> Plan:
    """The slice of `topic` to replay.

    `watermarks`: partition -> (log start, log end) when the replay starts. `start_by_time`
    and `end_by_time`: the broker's answers to the time lookups of `--from TIME` and `--to TIME`
    (partition -> offset, -1 or absent when no record is that late: the log end)."""
    spans = []
    for p in sorted(watermarks):
        low, high = watermarks[p]
        if start.by_time:
            s = _found(start_by_time, p, high)
        elif start.offset is not None:
            s = start.offset
        else:
            s = low
        e = high if end_by_time is None else min(high, _found(end_by_time, p, high))
        s = min(max(s, low), high)
        spans.append(Span(topic, p, s, max(s, e)))
    return Plan(topic, tuple(spans))


def _found(answers: dict[int, int] | None, partition: int, high: int) -> int:
    off = (answers or {}).get(partition, -1)
    return high if off is None or off < 0 else off


@dataclass
class Cursor:
    """A running replay's position: which records belong to the slice, and when it is done.

    Records at or past a partition's end (written after the replay started, or by the replay
    itself into the topic it reads) are not part of it; the first one, or the partition's
    end-of-log event at or past the end, finishes that partition."""

    plan: Plan
    next: dict[int, int] = field(default_factory=dict)      # partition -> next offset expected
    finished: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ends = {s.partition: s.end for s in self.plan.spans}
        self.starts = {s.partition: s.start for s in self.plan.spans}
        for s in self.plan.spans:
            self.next.setdefault(s.partition, s.start)
            if not s.size:
                self.finished.add(s.partition)

    def take(self, partition: int, offset: int) -> bool:
        """True when the record at `offset` of `partition` is to be replayed."""
        end = self.ends.get(partition)
        if end is None or partition in self.finished or offset < self.starts[partition]:
            return False
        if offset >= end:
            self._finish(partition)
            return False
        self.next[partition] = offset + 1
        if offset + 1 >= end:
            self._finish(partition)
        return True

    def end_of_log(self, partition: int, offset: int) -> None:
        """The consumer reached the log end (`offset`) of `partition`: nothing more to come below it."""
        if partition in self.ends and offset >= self.ends[partition]:
            self._finish(partition)

    def _finish(self, partition: int) -> None:
        self.finished.add(partition)
        self.next[partition] = max(self.next.get(partition, 0), self.ends[partition])

    @property
    def done(self) -> bool:
        return len(self.finished) == len(self.ends)

    @property
    def progress(self) -> int:
        """Offsets of the slice behind the cursor (a gap, such as a compacted record, counts as done)."""
        return sum(min(self.next[p], self.ends[p]) - self.starts[p] for p in self.ends)


class PlanError(ValueError):
    """A replay that cannot be what was asked (unknown stage or topic, a topic the stage does
    not read): the command exits 2 with this message."""


# Worker stages a replay runs an instance of. The metrics stage is left out on purpose: its
# counters live in the process that serves /metrics, so a replay process's would vanish
# when it exits.
REPLAYABLE = ("parsers", "index", "rules")


@dataclass(frozen=True)
class Target:
    """Where replayed records go: an instance of a stage (`stage`), or a copy into `topic`."""

    stage: str | None = None
    topic: str | None = None


def resolve_target(into: str, topic: str, inputs: dict[str, list[str]], existing: set[str]) -> Target:
    """`--into` as a stage or a topic. `inputs`: stage name -> the topics it reads (for every
    stage of the registry, workers or not); `existing`: the broker's topics. A stage name wins
    over a topic of the same name."""
    if topic not in existing:
        raise PlanError(f"--topic {topic}: no such topic on the broker")
    if into in inputs:
        if into not in REPLAYABLE:
            why = ("its counters live in the process that serves /metrics; a replay's would vanish with it"
                   if into == "metrics" else "it is not a consumer stage")
            raise PlanError(f"--into {into}: cannot replay into the {into} stage ({why}); "
                            f"stages: {', '.join(REPLAYABLE)}, or a topic")
        if topic not in inputs[into]:
            raise PlanError(f"--into {into}: the {into} stage reads {', '.join(inputs[into])}, not {topic}")
        return Target(stage=into)
    if into not in existing:
        raise PlanError(f"--into {into}: neither a stage ({', '.join(REPLAYABLE)}) nor a topic on the broker "
                        f"(create it first with `logwarden topics create`)")
    return Target(topic=into)
