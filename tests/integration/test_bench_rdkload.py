"""bench/rdkload.c, the broker benchmark's lean librdkafka load generator, against the built-in
broker in a real process.

The benchmark trusts rdkload's "records=N" line: these tests check that it builds the way
bench/broker.py builds it, that what it says it produced is in the log (partition by
partition) and comes back through its consumer, and that failed deliveries make it exit 1,
so a benchmark figure cannot come from records that were never stored. Needs gcc and
Debian's librdkafka-dev headers (.ci/run installs both); under CI=true their absence fails.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "broker.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("logwarden_bench_broker", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = _bench_module()


@pytest.fixture(scope="module")
def rdkload(tmp_path_factory) -> Path:
    binary, why = bench.build_rdkload(tmp_path_factory.mktemp("rdkload"))
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"rdkload must build in CI: {why}")
        pytest.skip(why)
    return binary


def new_topic(broker, partitions: int, config: dict[str, str] | None = None) -> str:
    name = f"rdk-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                  config=config or {})])[name].result(10)
    return name


def run(rdkload: Path, *args: str, settings: dict | None = None) -> subprocess.CompletedProcess[str]:
    props = [f"{k}={v}" for k, v in (settings or {}).items()]
    return subprocess.run([str(rdkload), *args, *props], capture_output=True, text=True, timeout=120)


def fields(out: str) -> dict[str, str]:
    return dict(f.split("=", 1) for f in out.split() if "=" in f)


def test_rdkload_produces_what_it_reports_and_reads_it_back(rdkload, broker):
    n, partitions = 40_000, 4
    topic = new_topic(broker, partitions)
    prod = run(rdkload, "produce", broker.bootstrap, topic, str(partitions), str(n), settings=bench.KCAT_PRODUCER)
    assert prod.returncode == 0, prod.stderr
    out = fields(prod.stdout)
    assert out["records"] == str(n) and float(out["elapsed"]) > 0 and float(out["rate"]) > 0

    # In the log: chunks of 10,000 round robin over the partitions, so 10,000 in each.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "rdk-check"})
    try:
        ends = [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(partitions)]
    finally:
        c.close()
    assert ends == [(0, n // partitions)] * partitions

    cons = run(rdkload, "consume", broker.bootstrap, topic, str(partitions), str(n), settings=bench.KCAT_CONSUMER)
    assert cons.returncode == 0, cons.stderr
    assert fields(cons.stdout)["records"] == str(n)


def test_rdkload_fails_when_the_broker_refuses_the_records(rdkload, broker):
    # max.message.bytes below one batch of 100-byte records: every produce is refused with
    # MESSAGE_TOO_LARGE, and rdkload must say so instead of printing a rate.
    topic = new_topic(broker, 1, {"max.message.bytes": "1024"})
    prod = run(rdkload, "produce", broker.bootstrap, topic, "1", "5000", settings=bench.KCAT_PRODUCER)
    assert prod.returncode == 1
    assert "records=" not in prod.stdout
    assert "deliveries failed" in prod.stderr and "too large" in prod.stderr.lower(), prod.stderr
