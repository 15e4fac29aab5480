"""Delayed fetch (long polling) wakes up for a produce that arrives before the waiting
coroutine first runs (real storage, the real handlers, no sockets).

The fetch handler reads, finds too little and hands the server a coroutine that waits; the
server starts it on a later pass of the event loop. A produce handled in between used to
find no waiter to wake, so the consumer got data already in the log only after all of
max_wait_ms (500 ms by librdkafka's default, seen under load). Kafka's purgatory watches
the partitions and then checks again; so does the handler now, in the same step as its read.
"""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

from logwarden.broker.context import BrokerContext
from logwarden.broker.handlers.fetch import handle_fetch
from logwarden.broker.handlers.produce import handle_produce
from logwarden.broker.protocol.batches import build_batch
from logwarden.broker.storage import LogConfig, LogManager


def test_a_produce_before_the_delayed_fetch_first_runs_wakes_it(tmp_path):
    async def scenario():
        logs = LogManager(tmp_path, LogConfig())
        try:
            ctx = BrokerContext(logs, host="127.0.0.1", port=9092, default_partitions=1)
            session, hdr = SimpleNamespace(sendfile=False), SimpleNamespace(api_version=8)
            logs.create_topic("w", 1)
            fetch = {"max_wait_ms": 60_000, "min_bytes": 1, "max_bytes": 1 << 20,
                     "topics": [{"topic": "w", "partitions": [{"partition": 0, "fetch_offset": 0,
                                                               "partition_max_bytes": 1 << 20}]}]}
            waiting = handle_fetch(ctx, session, hdr, fetch)
            assert asyncio.iscoroutine(waiting)
            assert ("w", 0) in ctx.waiters  # watched before anything else can run
            batch = build_batch([(None, b"late"), (None, b"but here")], 0)
            produce = {"transactional_id": None, "acks": -1, "timeout_ms": 1000,
                       "topics": [{"name": "w", "partitions": [{"index": 0, "records": memoryview(batch)}]}]}
            assert handle_produce(ctx, session, hdr, produce)["responses"][0]["partitions"][0]["error_code"] == 0
            assert ("w", 0) not in ctx.waiters  # the produce woke it
            # a safety net far below max_wait_ms, not a measurement: the answer is due at once
            resp = await asyncio.wait_for(waiting, 10)
            assert bytes(resp["responses"][0]["partitions"][0]["records"]) == batch
        finally:
            logs.close()

    asyncio.run(scenario())


def test_a_delayed_fetch_that_times_out_leaves_no_waiter_behind(tmp_path):
    async def scenario():
        logs = LogManager(tmp_path, LogConfig())
        try:
            ctx = BrokerContext(logs, host="127.0.0.1", port=9092, default_partitions=1)
            logs.create_topic("q", 2)
            fetch = {"max_wait_ms": 50, "min_bytes": 1, "max_bytes": 1 << 20,
                     "topics": [{"topic": "q", "partitions": [{"partition": i, "fetch_offset": 0,
                                                               "partition_max_bytes": 1 << 20} for i in (0, 1)]}]}
            resp = await handle_fetch(ctx, SimpleNamespace(sendfile=False), SimpleNamespace(api_version=8), fetch)
            assert [p["records"] for p in resp["responses"][0]["partitions"]] == [b"", b""]
            assert ctx.waiters == {}
        finally:
            logs.close()

    asyncio.run(scenario())
