"""The stage compliance suite: every consumer stage meets the same contract.

After Vector's component specification: the stages `logwarden worker NAME` runs in the
worker shell (logwarden/worker.py: parsers, index, rules, metrics) are each started as a
real process against a real built-in broker (`fresh_broker`) and put through the same checks:

* metrics - the component series every stage exposes (logwarden/metrics.py, read by
  `logwarden status` and the UI): `logwarden_component_received_events_total` counts every
  record consumed and `logwarden_component_sent_events_total` is exposed, collected from
  PROMETHEUS_MULTIPROC_DIR as `logwarden up`'s /metrics collects them;
* dead letters - a record the stage cannot take becomes one logs.dlq document of the shape
  logwarden/events.py documents (`error.message`, `error.type`, the input under
  `event.original`, `event.kind: pipeline_error`), counted in
  `logwarden_component_errors_total`, and the stage carries on past it;
* commit after durable - the group's committed input offset never passes what is durable
  downstream (records in the output topic, documents in the index, the alert's count,
  the counters), and when outputs cannot become durable no offset moves at all;
* SIGTERM - the process exits 0 within a deadline, with every consumed offset committed.

A new stage in logwarden.stages.WORKERS must get a `Spec` here: test_every_worker_stage_is_covered
fails until it does.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from logwarden.stages import WORKERS
from logwarden.events import ALERTS_TOPIC, DLQ_TOPIC, ECS_TOPIC, RAW_TOPIC
from lwtest import Broker, Proc, Stack, fill, wait_until

pytestmark = pytest.mark.integration

N = 300            # good records per check
DEADLINE_S = 120   # generous: a busy 2-core machine, one JVM-free stage start included

CURL_RULE = """title: Curl to pastebin
id: 0b7e2d1c-5a4f-4e3d-9c2b-1a0f9e8d7c6b
level: medium
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: /curl
    CommandLine|contains: pastebin
  condition: sel
"""


def envelope(i: int) -> bytes:
    """A logs.raw record as the agent ships it (a syslog line the parsers turn into ECS)."""
    return orjson.dumps({
        "@timestamp": "2026-11-26T10:00:00.000Z",
        "message": f"Nov 26 10:00:{i % 60:02d} web-1 sshd[42]: Failed password for root from 203.0.113.{i % 250} port {i} ssh2",
        "log": {"file": {"path": "/var/log/auth.log", "inode": "7", "device_id": "2049"}, "offset": i * 100},
        "host": {"name": "web-1"}, "agent": {"type": "logwarden", "version": "0.1.0", "id": "t", "name": "web-1"},
        "input": {"type": "filestream"}, "fields": {"log_format": "syslog"}})


def curl_event(i: int) -> bytes:
    """A logs.ecs event that the curl rule matches (every one: the rules stage's output then
    is one alert whose count is the number of events it covers)."""
    return orjson.dumps({
        "@timestamp": f"2026-11-26T10:02:{i % 60:02d}Z", "message": f"curl {i}",
        "event": {"id": f"proc-{i}", "category": ["process"], "type": ["start"], "dataset": "compliance", "outcome": "success"},
        "process": {"executable": "/usr/bin/curl", "command_line": f"/usr/bin/curl https://pastebin.com/raw/{i}"},
        "host": {"name": "web-1"}})


# -- what durable means, per stage ----------------------------------------------------------

def topic_records(bootstrap: str, topic: str) -> int:
    """Records acknowledged on `topic` (the sum of its high watermarks; 0 before it exists)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compliance-watermarks", "log_level": 3})
    try:
        t = c.list_topics(topic, timeout=10).topics.get(topic)
        if t is None or t.error is not None:
            return 0
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in t.partitions)
    finally:
        c.close()


def indexed(stack: "Running") -> int:
    from logwarden.sinks.embedded import IndexReader, index_path

    path = index_path(stack.data, "events")
    return IndexReader(path).count() if path.exists() else 0


class AlertCount:
    """The largest `alert.count` on the alerts topic so far: the events the alert covers.
    Each call reads up to the topic's high watermarks at that moment, so what it returns is
    never behind what the broker had acknowledged when it was called."""

    def __init__(self, bootstrap: str):
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compliance-alerts", "enable.auto.commit": False,
                           "log_level": 3})
        self.assigned: dict[int, int] = {}   # partition -> next offset to read
        self.best = 0

    def __call__(self, stack: "Running") -> int:
        t = self.c.list_topics(ALERTS_TOPIC, timeout=10).topics.get(ALERTS_TOPIC)
        if t is None or t.error is not None:
            return self.best
        if set(t.partitions) != set(self.assigned):
            self.assigned = {p: self.assigned.get(p, 0) for p in t.partitions}
            self.c.assign([TopicPartition(ALERTS_TOPIC, p, o) for p, o in self.assigned.items()])
        ends = {p: self.c.get_watermark_offsets(TopicPartition(ALERTS_TOPIC, p), timeout=10)[1] for p in self.assigned}
        wait_until(lambda: self._read(ends), f"the alerts topic read up to {ends}", 30, 0)
        return self.best

    def _read(self, ends: dict[int, int]) -> bool:
        for m in self.c.consume(1000, 0.2):
            if m.error() is None:
                self.best = max(self.best, orjson.loads(m.value())["alert"]["count"])
                self.assigned[m.partition()] = m.offset() + 1
        return all(self.assigned[p] >= end for p, end in ends.items())

    def close(self) -> None:
        self.c.close()


def counted(stack: "Running") -> int:
    """Events the metrics stage counted (logwarden_events_total, all datasets and outcomes)."""
    return int(sum(v for (name, labels), v in stack.metrics().items() if name == "logwarden_events_total"))


@dataclass
class Spec:
    """How to run one stage through the suite."""

    name: str
    input_topic: str
    good: Callable[[int], bytes]
    durable: Callable[["Running"], int]   # how many of the good inputs are durable downstream
    config: Callable[[Path], dict[str, Any]] = lambda tmp: {}
    bad: bytes | None = b"{not json"       # None: the stage writes no dead letters (see `why_no_dlq`)
    why_no_dlq: str = ""
    refuse: str | None = None             # how test_no_offset_moves_while_outputs_are_refused blocks the outputs
    why_no_refusal: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # settings under which only the shutdown checkpoint commits (for the SIGTERM check);
    # a stage without a checkpoint interval setting commits every second as well
    no_periodic_commit: dict[str, Any] = field(default_factory=dict)


def _rules_config(tmp: Path) -> dict[str, Any]:
    rules = tmp / "rules"
    rules.mkdir()
    (rules / "curl.yml").write_text(CURL_RULE)
    return {"rules": {"paths": [str(rules)]}}


SPECS = {
    "parsers": Spec("parsers", RAW_TOPIC, envelope, lambda s: topic_records(s.bootstrap, ECS_TOPIC),
                    lambda tmp: {"parsers": {"timezone": "UTC"}}, refuse="output-topic", extra={"output": ECS_TOPIC}),
    "index": Spec("index", ECS_TOPIC, curl_event, indexed,
                  lambda tmp: {"index": {"commit_interval_ms": 200, "writer_heap_bytes": 16_000_000}}, refuse="disk-full",
                  no_periodic_commit={"index": {"commit_interval_ms": 3_600_000, "writer_heap_bytes": 16_000_000}}),
    "rules": Spec("rules", ECS_TOPIC, curl_event, None, _rules_config,  # durable: an AlertCount per test
                  refuse="output-topic", extra={"output": ALERTS_TOPIC}),
    "metrics": Spec("metrics", ECS_TOPIC, curl_event, counted,
                    why_no_dlq="the metrics stage writes no dead letters: a bad logs.ecs record is the index "
                               "stage's to dead-letter (counting it here too would count it twice), a bad "
                               "logs.dlq record is counted as type 'unknown'",
                    bad=None,
                    why_no_refusal="the metrics stage's only outputs are counters in memory (or the multiprocess "
                                   "files): there is nothing downstream that could refuse them"),
}


def test_every_worker_stage_is_covered():
    assert sorted(SPECS) == sorted(WORKERS)


# -- running one stage ----------------------------------------------------------------------

class Running:
    """One stage process (`logwarden worker NAME`) against the test's broker, its metrics
    in a PROMETHEUS_MULTIPROC_DIR of its own and its data dir in <tmp>/stage."""

    def __init__(self, spec: Spec, broker: Broker, tmp: Path, data: Path | None = None, settings: dict[str, Any] | None = None):
        self.spec = spec
        self.bootstrap = broker.bootstrap
        self.data = data or tmp / "stage"
        self.metrics_dir = tmp / "prometheus"
        self.metrics_dir.mkdir()
        cfg = {"data_dir": str(self.data), "kafka": {"bootstrap_servers": broker.bootstrap}, **spec.config(tmp), **(settings or {})}
        self.stack = Stack(tmp, cfg, env={"PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)})
        self.proc: Proc = self.stack.start("worker", spec.name)
        self.producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
        self.durable = spec.durable if spec.durable is not None else AlertCount(broker.bootstrap)

    def produce(self, values: list[bytes], topic: str | None = None) -> None:
        for v in values:
            self.producer.produce(topic or self.spec.input_topic, v)
        assert self.producer.flush(30) == 0

    def committed(self) -> int:
        """The stage group's committed offsets on its input topic, summed over partitions."""
        topic = self.spec.input_topic
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"logwarden-{self.spec.name}", "log_level": 3})
        try:
            t = c.list_topics(topic, timeout=10).topics.get(topic)
            if t is None or t.error is not None:
                return 0
            tps = c.committed([TopicPartition(topic, p) for p in t.partitions], timeout=10)
            return sum(max(tp.offset, 0) for tp in tps)
        finally:
            c.close()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample the process wrote, by (name, labels)."""
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.metrics_dir))
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for fam in registry.collect() for s in fam.samples}

    def component(self, metric: str, **labels: str) -> float | None:
        want = {"component": self.spec.name, **labels}
        found = [v for (name, lb), v in self.metrics().items() if name == metric and want.items() <= dict(lb).items()]
        return sum(found) if found else None

    def output(self) -> str:
        return f"\n--- {self.spec.name} ---\n{self.proc.output()}"

    def wait(self, check, what: str, timeout: float = DEADLINE_S):
        return wait_until(check, f"{self.spec.name}: {what}", timeout, 0.2, self.output, procs=[self.proc])

    def close(self) -> None:
        if isinstance(self.durable, AlertCount):
            self.durable.close()
        self.stack.kill_all()
        self.producer = None   # its threads go now, not after the broker (noise in the next test)


@pytest.fixture
def run_stage(fresh_broker, tmp_path):
    started: list[Running] = []

    def start(spec: Spec, data: Path | None = None, settings: dict[str, Any] | None = None) -> Running:
        r = Running(spec, fresh_broker, tmp_path, data, settings)
        started.append(r)
        return r

    yield start
    for r in started:
        r.close()


# -- the checks -----------------------------------------------------------------------------

@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_exposes_the_component_metrics(run_stage, spec):
    s = run_stage(spec)
    s.produce([spec.good(i) for i in range(N)])
    s.wait(lambda: s.component("logwarden_component_received_events_total") == N, f"received_events_total = {N}")
    assert s.component("logwarden_component_sent_events_total") is not None, s.metrics()
    s.wait(lambda: s.durable(s) >= N, f"all {N} inputs durable downstream")
    assert s.component("logwarden_component_received_events_total") == N   # counted once, not per retry


DLQ_SPECS = [pytest.param(s, id=s.name if s.bad is not None else f"{s.name}-writes-no-dead-letters") for s in SPECS.values()]


@pytest.mark.parametrize("spec", DLQ_SPECS)
def test_a_bad_record_becomes_one_documented_dead_letter_and_the_stage_carries_on(run_stage, spec):
    s = run_stage(spec)
    if spec.bad is None:
        # spec.why_no_dlq: what the stage does instead - it takes the record, writes nothing
        # to logs.dlq and commits past it
        assert spec.why_no_dlq
        s.produce([b"{not json", spec.good(0)])
        s.wait(lambda: s.committed() == 2, "offsets committed past the bad record")
        assert topic_records(s.bootstrap, DLQ_TOPIC) == 0
        return
    s.produce([spec.bad, spec.good(0)])
    s.wait(lambda: s.committed() == 2, "offsets committed past the bad record")
    c = Consumer({"bootstrap.servers": s.bootstrap, "group.id": "compliance-dlq", "auto.offset.reset": "earliest", "log_level": 3})
    c.subscribe([DLQ_TOPIC])
    try:
        docs: list[dict] = []

        def got() -> list[dict]:
            docs.extend(orjson.loads(m.value()) for m in c.consume(10, 0.5) if m.error() is None)
            return docs

        s.wait(got, "a document on logs.dlq", 60)
        docs.extend(orjson.loads(m.value()) for m in c.consume(10, 2.0) if m.error() is None)
    finally:
        c.close()
    assert len(docs) == 1, docs   # the good record is no dead letter, the bad one is one
    (doc,) = docs
    assert isinstance(doc["@timestamp"], str) and doc["@timestamp"], doc
    assert doc["event"]["kind"] == "pipeline_error", doc
    assert isinstance(doc["event"]["id"], str) and doc["event"]["id"], doc
    assert doc["event"]["original"] == spec.bad.decode(), doc
    assert isinstance(doc["error"]["message"], str) and doc["error"]["message"], doc
    assert isinstance(doc["error"]["type"], str) and doc["error"]["type"], doc
    assert s.proc.alive(), s.output()
    s.wait(lambda: s.durable(s) >= 1, "the good record after the bad one durable")


ERROR_SPECS = [pytest.param(s, id=s.name) for s in SPECS.values() if s.bad is not None]


@pytest.mark.parametrize("spec", ERROR_SPECS)
def test_a_dead_letter_counts_as_a_component_error(run_stage, spec):
    s = run_stage(spec)
    s.produce([spec.bad, spec.good(0)])
    s.wait(lambda: s.committed() == 2, "offsets committed past the bad record")
    assert s.component("logwarden_component_errors_total") == 1, s.metrics()


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_the_committed_offset_never_passes_what_is_durable(run_stage, spec):
    s = run_stage(spec)
    s.produce([spec.good(i) for i in range(N)])
    samples: list[tuple[int, int]] = []

    def all_committed() -> bool:
        committed = s.committed()         # first the offset, then the outputs: outputs only grow
        durable = s.durable(s)
        samples.append((committed, durable))
        assert committed <= durable, f"{spec.name} committed {committed} inputs with {durable} durable (samples {samples[-5:]})"
        return committed == N

    s.wait(all_committed, f"all {N} offsets committed")
    assert len(samples) > 1, samples


REFUSAL_SPECS = [pytest.param(s, id=s.name if s.refuse else f"{s.name}-nothing-to-refuse") for s in SPECS.values()]


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "logwarden-compliance", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")


@pytest.mark.parametrize("spec", REFUSAL_SPECS)
def test_no_offset_moves_while_outputs_are_refused(run_stage, fresh_broker, tmp_path, spec):
    """The durability order seen from outside: outputs that cannot become durable (an output
    topic refusing every record, a full disk under the index) must stop the stage before it
    commits a single input offset (worker.py: a failed delivery aborts the process)."""
    if spec.refuse is None:
        # spec.why_no_refusal; what holds instead: the counters cover every committed offset
        assert spec.why_no_refusal
        s = run_stage(spec)
        s.produce([spec.good(i) for i in range(N)])
        s.wait(lambda: s.committed() == N and s.durable(s) >= N, f"{N} counted and committed")
        return
    data = None
    if spec.refuse == "output-topic":
        admin = AdminClient({"bootstrap.servers": fresh_broker.bootstrap})
        admin.create_topics([NewTopic(spec.extra["output"], 1, 1, config={"max.message.bytes": "64"})])[spec.extra["output"]].result(15)
    else:
        data = tmp_path / "small"
        _mount_tmpfs(data, "24m")
    try:
        s = run_stage(spec, data)
        if spec.refuse == "disk-full":
            s.wait(lambda: indexed(s) == 0 and (data / "index").exists(), "the index opened")
            filler = fill(data)
            assert filler.stat().st_size > 0
        s.produce([spec.good(i) for i in range(N)])
        wait_until(lambda: not s.proc.alive(), f"{spec.name} giving up on outputs it cannot make durable",
                   DEADLINE_S, 0.2, s.output)
        assert s.proc.proc.returncode != 0, s.output()
        assert s.component("logwarden_component_received_events_total"), "it died before consuming:" + s.output()
        assert s.committed() == 0, s.output()
    finally:
        if data is not None:
            subprocess.run(["umount", "-l", str(data)], check=False)


@pytest.mark.parametrize("spec", SPECS.values(), ids=list(SPECS))
def test_sigterm_exits_zero_with_every_consumed_offset_committed(run_stage, spec):
    s = run_stage(spec, settings=spec.no_periodic_commit)
    s.produce([spec.good(i) for i in range(N)])
    s.wait(lambda: s.component("logwarden_component_received_events_total") == N, f"all {N} consumed")
    code = s.proc.stop(30)    # SIGTERM; a stage still running after 30 s fails here
    assert code == 0, s.output()
    assert s.committed() == N, s.output()
    assert s.durable(s) >= N
