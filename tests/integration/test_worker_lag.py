"""The worker shell reports its consumer lag (logwarden_component_consumer_lag_events).

Regression: the gauge was declared in logwarden/metrics.py and never set, so /metrics said
nothing about a stage falling behind. Run a slow stage through the real worker shell
against a real broker process: while it works through a backlog the gauge is the events
between its position and the log end, and it reaches 0 once it has caught up.
"""
from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Producer

from logwarden import metrics
from logwarden.config import Config
from logwarden.worker import StopFlag, run_stage
from lwtest import Broker

pytestmark = [pytest.mark.integration]

TOTAL = 400


class SlowStage:
    """Takes 50 ms per batch of at most 10 messages and produces nothing."""

    name = "lagtest"

    def __init__(self, topic: str):
        self.topics = [topic]
        self.seen = 0

    def process(self, msgs):
        time.sleep(0.05)
        self.seen += len(msgs)
        return ()

    def checkpoint(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_the_worker_shell_sets_the_lag_gauge_from_its_partitions(tmp_path):
    broker = Broker(tmp_path).start()
    try:
        p = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(TOTAL):
            p.produce("lag.in", f"m{i}".encode())
        assert p.flush(30) == 0
        cfg = Config()
        cfg.kafka.bootstrap_servers = broker.bootstrap
        stage, stop = SlowStage("lag.in"), StopFlag()
        gauge = metrics.LAG.labels(stage.name)
        seen: list[float] = []
        t = threading.Thread(target=run_stage, args=(cfg, stage),
                             kwargs={"group_id": "lag-test", "batch_size": 10, "checkpoint_interval_ms": 100, "stop": stop})
        t.start()
        try:
            deadline = time.monotonic() + 60
            while stage.seen < TOTAL and time.monotonic() < deadline:
                seen.append(gauge._value.get())
                time.sleep(0.05)
            assert stage.seen == TOTAL, f"the stage read {stage.seen} of {TOTAL}"
            assert max(seen) > 0, "the lag gauge never rose while a backlog was read"
            assert max(seen) <= TOTAL
            deadline = time.monotonic() + 30
            while gauge._value.get() != 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert gauge._value.get() == 0, "the lag did not come back to 0 after the backlog"
        finally:
            stop.set()
            t.join(60)
        assert not t.is_alive()
    finally:
        broker.stop()
