"""`logwarden broker`: open the logs, serve the Kafka protocol until SIGTERM/SIGINT.

Start-up recovers every partition (LogManager does that on open), replays committed
offsets from `__consumer_offsets`, then listens. Maintenance (segment roll by age,
retention, compaction, flush.ms fsyncs) runs on the storage's own background thread so an
fsync never stalls the event loop; all appends happen on the event-loop thread. Shutdown closes the
listener, flushes and closes every log, and returns so the process exits 0.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from typing import Any

from logwarden.model import parse_hostport

from . import metrics
from .context import BrokerContext
from .server import serve
from .storage.log import now_ms

log = logging.getLogger("logwarden.broker")

MAINTENANCE_INTERVAL_S = 1.0  # also drives flush.ms, whose default is 1000 ms
METRICS_INTERVAL_S = 1.0  # how often counted events reach the Prometheus series


def tls_context(bcfg: Any) -> ssl.SSLContext | None:
    if bcfg.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    if not (bcfg.tls_certfile and bcfg.tls_keyfile):
        raise ValueError(f"broker.security_protocol {bcfg.security_protocol} needs broker.tls_certfile and broker.tls_keyfile")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(bcfg.tls_certfile, bcfg.tls_keyfile)
    if bcfg.tls_cafile:
        ctx.load_verify_locations(bcfg.tls_cafile)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def build_context(cfg: Any, host: str, port: int) -> BrokerContext:
    from .storage import LogConfig, LogManager

    b = cfg.broker
    logs = LogManager(cfg.data_path, LogConfig())
    return BrokerContext(
        logs, host=host, port=port, auto_create_topics=b.auto_create_topics,
        default_partitions=b.default_partitions, max_frame_bytes=b.max_request_bytes,
        sasl_users={u: c.model_dump(exclude_none=True) for u, c in b.sasl_users.items()},
        sasl_mechanisms=list(b.sasl_mechanisms) if b.security_protocol.startswith("SASL") else [],
        connections_max_idle_ms=b.connections_max_idle_ms, authorizer=authorizer(b))


def authorizer(b: Any) -> Any:
    """The ACLs of `broker.acls` / `broker.super_users` as the handlers ask them."""
    from .security.acl import Authorizer, Entry

    entries = [Entry(a.principal, tuple(a.operations), "topic" if a.topic is not None else "group" if a.group is not None else "cluster",
                     a.topic or a.group or "kafka-cluster", a.permission == "allow") for a in b.acls]
    return Authorizer(entries, b.super_users)


async def main(cfg: Any, ready: asyncio.Future[int] | None = None) -> None:
    b = cfg.broker
    host, port = parse_hostport(b.listen)
    sslctx = tls_context(b)
    ctx = build_context(cfg, host, port)
    server = await serve(ctx, host, port, sslctx, needs_auth=b.security_protocol.startswith("SASL"))
    bound = server.sockets[0].getsockname()[1]
    ctx.port = bound
    log.info("broker listening on %s:%d (%s)", host, bound, b.security_protocol, extra={"listen": f"{host}:{bound}", "security_protocol": b.security_protocol,
                                        "data_dir": str(cfg.data_path / "broker")})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass  # not the main thread (an embedded broker): the caller cancels main(), and the finally below still flushes and closes
    if ready is not None:
        ready.set_result(bound)

    ctx.logs.start_background(MAINTENANCE_INTERVAL_S)

    async def housekeeping() -> None:
        idle_every = min(ctx.connections_max_idle_ms / 4000, 30.0)
        next_idle = loop.time() + idle_every
        while True:
            await asyncio.sleep(min(METRICS_INTERVAL_S, idle_every))
            metrics.publish()
            if loop.time() >= next_idle:
                ctx.close_idle(loop.time())
                ctx.producers.expire(now_ms())
                next_idle = loop.time() + idle_every

    reaper = asyncio.create_task(housekeeping())
    try:
        await stop.wait()
    finally:
        log.info("broker stopping")
        reaper.cancel()
        metrics.publish()
        server.close()
        for conn in list(ctx.connections):
            if conn.transport is not None:
                conn.transport.close()
        await server.wait_closed()
        ctx.logs.flush_all()
        ctx.logs.close()
        log.info("broker stopped")


def run(cfg: Any) -> None:
    asyncio.run(main(cfg))
