"""Syslog receivers: UDP (RFC 5426), TCP (RFC 6587) and TLS (RFC 5425) on asyncio.

Thin shells around `framing.SyslogFramer`: every datagram is one message; every stream
is fed to a framer of its own. Each message becomes a raw envelope produced without
waiting (syslog has no acknowledgement to give); when too many records are unacknowledged
a stream stops reading, which backs the sender off through TCP flow control.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
from typing import Any

from logwarden.model import parse_hostport

from logwarden.events import now_iso

from .envelope import Envelopes, SyslogTemplate
from .framing import SyslogFramer
from .producer import AsyncProducer

log = logging.getLogger(__name__)
READ_BYTES = 65536
UDP_RCVBUF_BYTES = 8 * 1048576  # datagrams that arrive while the loop is busy wait here instead of being dropped


def _peer(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(addr)


class SyslogReceiver:
    """Shared by the three transports: numbering, envelopes, producing."""

    def __init__(self, envelopes: Envelopes, producer: AsyncProducer, boot_id: str, max_bytes: int):
        self.envelopes = envelopes
        self.producer = producer
        self.boot_id = boot_id
        self.max_bytes = max_bytes
        self._conn_ids = itertools.count(1)
        self.received = 0
        self.framing_errors = 0

    def template(self, *, transport: str, listen: str, peer: str, conn: int) -> SyslogTemplate:
        return SyslogTemplate(self.envelopes, peer=peer, transport=transport, listen=listen, boot=self.boot_id, conn=conn)

    # -- UDP -----------------------------------------------------------------------------
    async def start_udp(self, listen: str) -> asyncio.DatagramTransport:
        host, port = parse_hostport(listen)
        loop = asyncio.get_running_loop()
        recv = self
        conn = next(self._conn_ids)  # one "connection" for the socket; datagrams are numbered
        counter = itertools.count()
        bound = ""
        templates: dict[str, SyslogTemplate] = {}

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                msg = data.rstrip(b"\r\n\x00")
                if not msg:
                    return
                peer = _peer(addr)
                tpl = templates.get(peer)
                if tpl is None:
                    if len(templates) > 10_000:  # many senders: keep the cache bounded
                        templates.clear()
                    tpl = templates[peer] = recv.template(transport="udp", listen=bound, peer=peer, conn=conn)
                cut = len(msg) > recv.max_bytes
                recv.producer.send_nowait(tpl.build(msg[: recv.max_bytes], next(counter), now_iso().encode(), cut), "syslog")
                recv.received += 1

        transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=(host, port))
        raw = transport.get_extra_info("socket")
        try:  # bursts outrun one loop turn; the kernel caps this at net.core.rmem_max
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF_BYTES)
        except OSError:
            pass
        sock = transport.get_extra_info("sockname")
        bound = f"{sock[0]}:{sock[1]}"
        log.info("syslog udp listening", extra={"listen": bound})
        return transport

    # -- TCP / TLS -----------------------------------------------------------------------
    async def start_stream(self, listen: str, ssl_ctx: ssl.SSLContext | None = None) -> asyncio.Server:
        host, port = parse_hostport(listen)
        transport_name = "tls" if ssl_ctx else "tcp"
        server = await asyncio.start_server(
            lambda r, w: self._serve(r, w, transport_name, server_name[0]), host, port, ssl=ssl_ctx)
        sock = server.sockets[0].getsockname()
        server_name = [f"{sock[0]}:{sock[1]}"]
        log.info(f"syslog {transport_name} listening", extra={"listen": server_name[0]})
        return server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str, listen: str) -> None:
        peer = _peer(writer.get_extra_info("peername"))
        conn = next(self._conn_ids)
        framer = SyslogFramer(self.max_bytes)
        tpl = self.template(transport=transport, listen=listen, peer=peer, conn=conn)
        send = self.producer.send_nowait
        position = 0
        try:
            while True:
                await self.producer.room()
                data = await reader.read(READ_BYTES)
                frames = framer.feed(data) if data else framer.close()
                ts = now_iso().encode()
                for f in frames:
                    send(tpl.build(f.data, position, ts, f.truncated), "syslog")
                    position += 1
                self.received += len(frames)
                if not data:
                    break
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            log.info("syslog connection dropped", extra={"peer": peer, "error": str(exc)})
            ts = now_iso().encode()
            for f in framer.close():
                send(tpl.build(f.data, position, ts, f.truncated), "syslog")
                position += 1
        finally:
            if framer.errors:
                self.framing_errors += framer.errors
                log.warning("syslog framing errors", extra={"peer": peer, "count": framer.errors})
            writer.close()


def tls_context(cert: str, key: str, client_ca: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
