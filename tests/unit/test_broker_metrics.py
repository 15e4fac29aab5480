"""Broker metrics move with what the handlers do (real storage, no sockets)."""
from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import REGISTRY

from logwarden.broker import metrics
from logwarden.broker.context import BrokerContext
from logwarden.broker.handlers.fetch import handle_fetch
from logwarden.broker.handlers.produce import handle_produce
from logwarden.broker.protocol.batches import build_batch
from logwarden.broker.storage import LogConfig, LogManager


def value(name: str, labels: dict | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_produce_and_fetch_are_counted(tmp_path):
    logs = LogManager(tmp_path, LogConfig())
    try:
        ctx = BrokerContext(logs, host="127.0.0.1", port=9092, default_partitions=1)
        session = SimpleNamespace(sendfile=False)
        hdr = SimpleNamespace(api_version=8)
        metrics.publish()  # what earlier tests in this process counted is not ours
        before = (value("logwarden_broker_produced_records_total"), value("logwarden_broker_fetched_bytes_total"),
                  value("logwarden_broker_produce_errors_total", {"error_code": "2"}))
        batch = build_batch([(None, b"a"), (None, b"b"), (None, b"c")], 0)
        req = {"transactional_id": None, "acks": -1, "timeout_ms": 1000,
               "topics": [{"name": "m", "partitions": [{"index": 0, "records": memoryview(batch)}]}]}
        assert handle_produce(ctx, session, hdr, req)["responses"][0]["partitions"][0]["error_code"] == 0
        bad = bytearray(batch)
        bad[-1] ^= 1
        req["topics"][0]["partitions"][0]["records"] = memoryview(bytes(bad))
        assert handle_produce(ctx, session, hdr, req)["responses"][0]["partitions"][0]["error_code"] == 2
        fetch = {"max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 20,
                 "topics": [{"topic": "m", "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20}]}]}
        handle_fetch(ctx, session, hdr, fetch)
        metrics.publish()  # the service does this every second
        after = (value("logwarden_broker_produced_records_total"), value("logwarden_broker_fetched_bytes_total"),
                 value("logwarden_broker_produce_errors_total", {"error_code": "2"}))
        assert after[0] - before[0] == 3
        assert after[1] - before[1] == len(batch)
        assert after[2] - before[2] == 1
    finally:
        logs.close()
