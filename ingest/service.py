"""`logwarden ingest`: syslog UDP/TCP/TLS and HTTP receivers producing to `logs.raw`.

Everything runs on one asyncio loop: the syslog servers, uvicorn serving the Starlette
app (its own signal handling switched off, so one SIGTERM stops the whole service), and
the producer's poll task. On SIGTERM/SIGINT the listeners close, in-flight requests get
their answers, and the producer is flushed before `run` returns.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import uuid
from typing import Any

import uvicorn

import logwarden
from logwarden import exposure
from logwarden.config import Config
from logwarden.kafka import producer_settings
from logwarden.model import parse_hostport
from logwarden.spool import Spool

from .config import IngestConfig
from .envelope import Envelopes
from .http import HttpReceiver
from .producer import AsyncProducer
from .syslog import SyslogReceiver, tls_context

log = logging.getLogger("logwarden.ingest")
SHUTDOWN_FLUSH_S = 10.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the service owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn
        pass


class Ingest:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.icfg: IngestConfig = cfg.ingest
        host = socket.gethostname()
        self.boot_id = uuid.uuid4().hex
        agent = {"type": "logwarden-ingest", "version": logwarden.__version__, "id": self.boot_id, "name": host}
        self.envelopes = Envelopes(host, agent, self.icfg.syslog_format)
        self.producer = AsyncProducer(producer_settings(cfg, **{
            "client.id": "logwarden-ingest", "message.timeout.ms": self.icfg.delivery_timeout_ms,
            "linger.ms": 5,  # HTTP senders wait for the acknowledgement: latency over batch size
            "logger": logging.getLogger("logwarden.ingest.librdkafka")}), cfg.topics.raw,
            spool=Spool(cfg.data_path / "ingest" / "spool", self.icfg.spool_max_bytes, 16 * 1048576) if self.icfg.spool_max_bytes else None,
            backoff_ms=self.icfg.retry_backoff_ms, backoff_max_ms=self.icfg.retry_backoff_max_ms)
        self.syslog = SyslogReceiver(self.envelopes, self.producer, self.boot_id, self.icfg.syslog_max_message_bytes)
        self.http = HttpReceiver(self.icfg, self.envelopes, self.producer, host, str(uuid.uuid5(uuid.NAMESPACE_DNS, host)))
        self.addresses: dict[str, tuple[str, int]] = {}
        self._closers: list[Any] = []
        self._uvicorn: _Server | None = None
        self._uvicorn_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind every configured listener (port 0 picks a free one; see `addresses`)."""
        ic = self.icfg
        self.producer.start()
        if ic.syslog_udp:
            t = await self.syslog.start_udp(ic.syslog_udp)
            self.addresses["syslog_udp"] = t.get_extra_info("sockname")[:2]
            self._closers.append(t.close)
        if ic.syslog_tcp:
            s = await self.syslog.start_stream(ic.syslog_tcp)
            self.addresses["syslog_tcp"] = s.sockets[0].getsockname()[:2]
            self._closers.append(s.close)
        if ic.syslog_tls:
            s = await self.syslog.start_stream(ic.syslog_tls, tls_context(ic.tls_cert_file or "", ic.tls_key_file or "", ic.tls_client_ca_file))
            self.addresses["syslog_tls"] = s.sockets[0].getsockname()[:2]
            self._closers.append(s.close)
        if ic.http:
            host, port = parse_hostport(ic.http)
            for warning in exposure.warnings(self.cfg, "ingest.http"):
                log.warning(warning, extra={"listen": ic.http})
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(1024)
            self.addresses["http"] = sock.getsockname()[:2]
            tls = {}
            if ic.http_tls:  # the same certificate as the TLS syslog listener; TLS 1.2 at least
                tls = {"ssl_certfile": ic.tls_cert_file, "ssl_keyfile": ic.tls_key_file, "ssl_ca_certs": ic.tls_client_ca_file,
                       "ssl_cert_reqs": ssl.CERT_REQUIRED if ic.tls_client_ca_file else ssl.CERT_NONE}
            config = uvicorn.Config(self.http.app, log_config=None, access_log=False, lifespan="off", **tls)
            self._uvicorn = _Server(config)
            self._uvicorn_task = asyncio.get_running_loop().create_task(self._uvicorn.serve(sockets=[sock]))
            while not self._uvicorn.started and not self._uvicorn_task.done():
                await asyncio.sleep(0.01)
            if self._uvicorn_task.done():
                self._uvicorn_task.result()
        log.info("ingest started", extra={"listeners": {k: f"{h}:{p}" for k, (h, p) in self.addresses.items()},
                                          "bootstrap_servers": self.cfg.bootstrap_servers})

    async def stop(self) -> None:
        for close in self._closers:
            close()
        if self._uvicorn is not None and self._uvicorn_task is not None:
            self._uvicorn.should_exit = True
            await self._uvicorn_task
        await self.producer.close(SHUTDOWN_FLUSH_S)
        log.info("ingest stopped", extra={"syslog_received": self.syslog.received})


async def serve(cfg: Config, stop: asyncio.Event) -> None:
    ingest = Ingest(cfg)
    await ingest.start()
    try:
        await stop.wait()
    finally:
        await ingest.stop()


def run(cfg: Config) -> None:
    """Entry point of `logwarden ingest`: blocks until SIGTERM/SIGINT, then flushes."""
    ic = cfg.ingest
    if not (ic.syslog_udp or ic.syslog_tcp or ic.syslog_tls or ic.http):
        log.warning("no ingest listener configured (ingest.syslog_udp / syslog_tcp / syslog_tls / http): nothing to do")
        return

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(cfg, stop)

    asyncio.run(main())
