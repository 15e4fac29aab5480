"""Fetch with delayed fetch (long polling).

A fetch reads whole batches from each requested partition (PartitionLog.read, at least one
batch even if it exceeds partition_max_bytes, like Kafka), stopping once the response
max_bytes is used up. If fewer than min_bytes were found and max_wait_ms > 0, the request
waits: a future is registered for each of its partitions, Produce resolves those futures,
and the fetch is re-read when one fires or max_wait_ms passes (Kafka's DelayedFetch).

Record data is never decoded: a large slice on a plaintext connection goes out as a
FileRegion that the server sends with sendfile (page cache -> socket, no copy through
Python); small slices and TLS connections get one pread. Single replica: high watermark =
last stable offset = log end.
"""
from __future__ import annotations

import asyncio
from typing import Any

from logwarden.broker import metrics
from logwarden.broker.producers import slice_bytes
from logwarden.broker.protocol import errors as E
from logwarden.broker.protocol.types import FileRegion
from logwarden.broker.storage.errors import StorageError


# Below this, one pread is cheaper than a sendfile round (which first drains the transport).
SENDFILE_MIN_BYTES = 256 * 1024


def _read(ctx: Any, req: dict[str, Any], sendfile: bool = False, denied: frozenset[str] = frozenset()) -> tuple[dict[str, Any], int, bool]:
    """`denied`: topics the connection may not Read (answered TOPIC_AUTHORIZATION_FAILED, at once)."""
    budget = req.get("max_bytes", 0x7FFFFFFF)
    if budget <= 0:
        budget = 0x7FFFFFFF
    total = 0
    error = False
    responses = []
    for t in req["topics"]:
        topic = t["topic"]
        parts = []
        for p in t["partitions"]:
            idx = p["partition"]
            entry: dict[str, Any] = {"partition_index": idx, "error_code": E.NONE, "high_watermark": -1,
                                     "last_stable_offset": -1, "log_start_offset": -1,
                                     "aborted_transactions": None, "preferred_read_replica": -1, "records": b""}
            parts.append(entry)
            if topic in denied:
                entry["error_code"] = E.TOPIC_AUTHORIZATION_FAILED
                error = True
                continue
            try:
                plog = ctx.logs.get(topic, idx)
                hw = plog.log_end_offset
                entry["high_watermark"] = entry["last_stable_offset"] = hw
                entry["log_start_offset"] = plog.log_start_offset
                offset = p["fetch_offset"]
                if offset == hw and offset >= plog.log_start_offset:
                    continue
                if budget - total <= 0:
                    continue
                limit = min(p["partition_max_bytes"], budget - total)
                if limit <= 0:
                    continue
                sl = plog.read(offset, limit)
            except StorageError as exc:
                # as Kafka's error answers: no watermarks (OFFSET_OUT_OF_RANGE, unknown partition)
                entry.update(error_code=exc.kafka_error_code, high_watermark=-1, last_stable_offset=-1,
                             log_start_offset=-1)
                error = True
                continue
            if sl.size:
                fileobj = getattr(sl, "fileobj", None)
                if sendfile and fileobj is not None and sl.size >= SENDFILE_MIN_BYTES:
                    entry["records"] = FileRegion(fileobj, sl.position, sl.size)
                else:
                    entry["records"] = slice_bytes(sl)
                total += sl.size
        responses.append({"topic": topic, "partitions": parts})
    return {"throttle_time_ms": 0, "error_code": E.NONE, "session_id": 0, "responses": responses}, total, error


def _watch(ctx: Any, keys: list[tuple[str, int]]) -> asyncio.Future[None]:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    for k in keys:
        ctx.waiters.setdefault(k, []).append(fut)
    return fut


def _unwatch(ctx: Any, keys: list[tuple[str, int]], fut: asyncio.Future[None]) -> None:
    for k in keys:
        lst = ctx.waiters.get(k)
        if lst is not None:
            try:
                lst.remove(fut)
            except ValueError:
                pass
            if not lst:
                ctx.waiters.pop(k, None)


async def _delayed(ctx: Any, req: dict[str, Any], sendfile: bool, keys: list[tuple[str, int]],
                   fut: asyncio.Future[None], deadline: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    while True:
        try:
            await asyncio.wait_for(asyncio.shield(fut), max(deadline - loop.time(), 0))
        except asyncio.TimeoutError:
            pass
        finally:
            _unwatch(ctx, keys, fut)
        resp, total, error = _read(ctx, req, sendfile)
        if total >= req["min_bytes"] or error or loop.time() >= deadline:
            metrics.STATS.fetched_bytes += total
            return resp
        fut = _watch(ctx, keys)  # in the same step as the read: no produce can fall in between


def handle_fetch(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> Any:
    denied = frozenset(t["topic"] for t in req["topics"] if not ctx.allowed(session, "Read", "topic", t["topic"]))
    resp, total, error = _read(ctx, req, session.sendfile, denied)
    if total >= req["min_bytes"] or error or req["max_wait_ms"] <= 0 or not req["topics"]:
        metrics.STATS.fetched_bytes += total
        return resp
    # Watch the partitions now, as Kafka's purgatory does (watch, then check): the coroutine
    # returned here first runs on a later pass of the event loop, and a produce handled in
    # between used to find nobody to wake, leaving the fetch asleep for all of max_wait_ms.
    keys = [(t["topic"], p["partition"]) for t in req["topics"] for p in t["partitions"]]
    deadline = asyncio.get_running_loop().time() + req["max_wait_ms"] / 1000
    return _delayed(ctx, req, session.sendfile, keys, _watch(ctx, keys), deadline)
