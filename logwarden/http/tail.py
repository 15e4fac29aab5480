"""`GET /api/tail?q=`: new matching events as server-sent events (the shell of sinks.tail).

    retry: 2000                      reconnect after 2 s (browsers' EventSource does)
    id: <event.ingested>|<event.id>  resume point: sent back as Last-Event-ID on reconnect
    event: hit                       one ECS document per event, JSON on one data line
    : heartbeat <time>               a comment every `heartbeat` seconds (default 15) so
                                     proxies keep the connection and clients see it is alive
    event: error                     the search backend failed; the tail keeps trying

The index is polled every POLL_S (it commits every index.commit_interval_ms, 1 s by default),
so an event is sent within about 1.5 s of becoming searchable. At most MAX_TAILS run at once.
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any, AsyncIterator

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

POLL_S = 0.5
MAX_TAILS = 16
_running = 0


async def tail_response(api: Any, request: Request) -> Response:
    from logwarden.http.app import ORJSONResponse, BadRequest, _int, _q
    from logwarden.sinks.query import QueryError
    from logwarden.sinks.tail import BadLastEventId, TailCursor

    global _running
    try:
        heartbeat = _int(request, "heartbeat", 15, 1, 300)
        last = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or None
        cursor = TailCursor(_q(request), last)
    except (BadRequest, BadLastEventId) as exc:
        return ORJSONResponse({"error": str(exc)}, status_code=400)
    except QueryError as exc:
        return ORJSONResponse({"error": f"bad query: {exc}", "position": exc.position}, status_code=400)
    if _running >= MAX_TAILS:
        return ORJSONResponse({"error": f"at most {MAX_TAILS} live tails at once; close one and retry"},
                              status_code=503, headers={"Retry-After": "5"})
    _, unavailable, _ = api._errors

    async def events() -> AsyncIterator[bytes]:
        global _running
        _running += 1
        try:
            yield b"retry: 2000\n\n"
            quiet_since = time.monotonic()
            while True:
                try:
                    docs = await anyio.to_thread.run_sync(cursor.poll, api.service.search)
                except unavailable as exc:
                    docs = []
                    yield b"event: error\ndata: " + orjson.dumps({"error": f"search backend unavailable: {exc}"}) + b"\n\n"
                from logwarden.sinks.tail import event_id_of

                for d in docs:
                    yield b"id: " + event_id_of(d).encode() + b"\nevent: hit\ndata: " + orjson.dumps(d) + b"\n\n"
                if docs:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= heartbeat:
                    yield f": heartbeat {datetime.now(timezone.utc).isoformat()}\n\n".encode()
                    quiet_since = time.monotonic()
                await asyncio.sleep(POLL_S)
        finally:
            _running -= 1

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
