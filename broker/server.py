"""The thin asyncio shell around the sans-IO codec: one `KafkaConnection` per socket.

Bytes are received straight into the frame buffer (BufferedProtocol + FrameDecoder), each
frame's header picks `handlers.HANDLERS[api_key]`, the body is decoded with that API's
schema for the request's version, and the handler returns a response dict or an
awaitable of one (delayed fetch, group joins). Kafka promises that responses on one
connection come back in request order, so requests of a connection are handled strictly
one after another; a synchronous handler is run inline from data arrival, an awaitable one
parks the connection until it completes. Reading is paused while requests are queued so a
client that pipelines cannot make the broker buffer without bound.

Protocol violations close the connection with a log line: a frame size out of range, a
header that does not parse, an unknown API key or an unsupported version (except
ApiVersions, which answers UNSUPPORTED_VERSION with the supported list, as Kafka does).
"""
from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import os
import ssl
from typing import Any

from . import metrics
from .protocol import errors
from .protocol.frames import FrameDecoder, FrameError, RequestHeader, encode_response, parse_header
from .protocol.schemas import API_VERSIONS, APIS, SASL_AUTHENTICATE, SASL_HANDSHAKE
from .protocol.types import DecodeError, FileRegion

log = logging.getLogger("logwarden.broker.server")

# Requests a connection may have queued before reading from its socket pauses.
MAX_QUEUED_REQUESTS = 64
PRE_AUTH_APIS = {API_VERSIONS.key, SASL_HANDSHAKE.key, SASL_AUTHENTICATE.key}


class Session:
    """Per-connection state handlers may read or change (authentication, peer)."""

    def __init__(self, peer: Any, needs_auth: bool):
        self.peer = peer
        self.authenticated = not needs_auth
        self.principal: str | None = None
        self.sasl: Any = None  # the SASL mechanism state machine during authentication
        self.sasl_mechanism: str | None = None
        self.raw_sasl = False  # SaslHandshake v0: the next frames are bare SASL tokens
        self.client_id: str | None = None
        self.local: Any = None  # (host, port) the client connected to: what Metadata advertises
        self.sendfile = False  # plaintext socket: Fetch may hand out FileRegions for sendfile
        self.close_after_response: str | None = None  # a handler's verdict: answer, then close (why)


# Kafka's sasl.server.max.receive.size: the largest frame a connection may send before it
# has authenticated, so that nobody without credentials can make the broker allocate
# max_request_bytes per connection.
PRE_AUTH_MAX_FRAME_BYTES = 512 * 1024


class KafkaConnection(asyncio.BufferedProtocol):
    def __init__(self, broker: Any, needs_auth: bool):
        self.broker = broker
        self.needs_auth = needs_auth
        self.decoder = FrameDecoder(min(broker.max_frame_bytes, PRE_AUTH_MAX_FRAME_BYTES) if needs_auth
                                    else broker.max_frame_bytes)
        self.queue: collections.deque[memoryview] = collections.deque()
        self.busy = False
        self.paused = False
        self.write_paused = False  # the peer is not reading: answer nothing more until it does
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.inflight: asyncio.Future[None] | None = None  # a parked request (delayed fetch, join)
        self.last_active = 0.0  # loop.time() of the last complete request (idle connection reaping)

    # -- asyncio callbacks --------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.session = Session(transport.get_extra_info("peername"), self.needs_auth)
        self.session.local = transport.get_extra_info("sockname")
        self.session.sendfile = transport.get_extra_info("sslcontext") is None and hasattr(os, "sendfile")
        self.broker.connections.add(self)
        self.last_active = asyncio.get_running_loop().time()
        metrics.CONNECTIONS.inc()

    def connection_lost(self, exc: Exception | None) -> None:
        metrics.CONNECTIONS.dec()
        self.closed = True
        self.queue.clear()
        self.broker.connections.discard(self)
        if self.inflight is not None and not self.inflight.done():
            self.inflight.cancel()  # e.g. a delayed fetch nobody will read any more

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.decoder.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            frame = self.decoder.buffer_updated(nbytes)
        except FrameError as exc:
            self._abort(f"bad frame: {exc}", "bad_frame")
            return
        if frame is None:
            return
        self.last_active = asyncio.get_running_loop().time()
        self.queue.append(frame)
        if len(self.queue) >= MAX_QUEUED_REQUESTS and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        if not self.busy:
            self._drain()

    def eof_received(self) -> bool | None:
        return None

    def pause_writing(self) -> None:
        # The transport's buffer passed its high-water mark (a client that pipelines fetches
        # but does not read the answers): stop handling its requests so memory stays bounded;
        # the request queue then fills and pauses reading as well.
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.busy and self.queue and not self.closed:
            self._drain()

    # -- request processing -------------------------------------------------------
    def _abort(self, why: str, reason: str = "protocol", flush: bool = False) -> None:
        """Close the connection, logged and counted: at once (abort), or once what was
        written has gone out (flush: the answer to a failed SASL step)."""
        metrics.closed(reason)
        peer = str(self.session.peer if self.session else None)
        log.warning("closing connection from %s: %s", peer, why, extra={"peer": peer, "reason": why})
        self.closed = True
        self.queue.clear()
        if self.transport is not None:
            self.transport.close() if flush else self.transport.abort()

    def _drain(self) -> None:
        """Handle queued frames in order until one needs to wait."""
        self.busy = True
        try:
            while self.queue and not self.closed and not self.write_paused:
                frame = self.queue.popleft()
                result = self._dispatch(frame)
                if result is None:
                    continue
                hdr, out = result
                if inspect.isawaitable(out):
                    self.inflight = asyncio.ensure_future(self._finish(hdr, out))
                    return  # stay busy until _finish resumes draining
                pending = self._send(hdr, out)
                if pending is not None:
                    self.inflight = asyncio.ensure_future(self._finish(hdr, None, pending))
                    return
                if self.session.close_after_response:  # type: ignore[union-attr]
                    self._abort(self.session.close_after_response, "unauthenticated", flush=True)  # type: ignore[union-attr]
                    return
            self.busy = False
            if self.paused and not self.closed and len(self.queue) < MAX_QUEUED_REQUESTS // 2:
                self.paused = False
                self.transport.resume_reading()
        except Exception:
            self.busy = False
            log.exception("request handling failed")
            self._abort("internal error", "internal_error")

    async def _finish(self, hdr: RequestHeader, awaitable: Any, sending: Any = None) -> None:
        try:
            if sending is None:
                body = await awaitable
                if self.closed:
                    return
                sending = self._send(hdr, body)
            if sending is not None:
                await sending
        except asyncio.CancelledError:
            return
        except (ConnectionError, OSError) as exc:
            self._abort(f"send failed: {exc}", "send_failed")
            return
        except Exception:
            log.exception("request handling failed", extra={"api_key": hdr.api_key})
            self._abort("internal error", "internal_error")
            return
        if self.session is not None and self.session.close_after_response:
            self._abort(self.session.close_after_response, "unauthenticated", flush=True)
            return
        if not self.closed:
            self._drain()

    def _send(self, hdr: RequestHeader, body: Any) -> Any:
        """Write a response; returns an awaitable when part of it goes out by sendfile."""
        if body is None:  # acks=0 produce: no response at all
            return None
        if isinstance(body, (bytes, bytearray)):  # SaslHandshake v0 raw token
            self.transport.write(len(body).to_bytes(4, "big") + body)
            return None
        chunks = encode_response(hdr.correlation_id, hdr.api_key, hdr.api_version, body)
        if any(type(c) is FileRegion for c in chunks):
            return self._send_files(chunks)
        write = self.transport.write
        for c in chunks:  # not writelines: it would join (copy) every chunk into one bytes
            write(c)
        return None

    async def _send_files(self, chunks: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        for c in chunks:
            if self.closed:
                return
            if type(c) is FileRegion:
                await loop.sendfile(self.transport, c.fileobj, c.position, c.size)
            else:
                self.transport.write(c)

    def _dispatch(self, frame: memoryview) -> tuple[RequestHeader, Any] | None:
        session = self.session
        assert session is not None
        if session.raw_sasl:
            from .handlers.sasl import raw_token
            try:
                token = raw_token(self.broker, session, bytes(frame))
            except ConnectionAbortedError as exc:
                self._abort(f"SASL authentication failed: {exc}", "unauthenticated")
                return None
            self._lift_frame_limit()
            return RequestHeader(-1, 0, 0, None), token
        try:
            hdr, pos = parse_header(frame)
        except DecodeError as exc:
            self._abort(f"malformed request header: {exc}", "malformed")
            return None
        api = APIS.get(hdr.api_key)
        if api is None:
            self._abort(f"unknown api_key {hdr.api_key}", "unknown_api")
            return None
        session.client_id = hdr.client_id
        if not api.min_version <= hdr.api_version <= api.max_version:
            if hdr.api_key == API_VERSIONS.key:
                # KIP-511: answer in v0 form so any client can read the supported list.
                from .protocol.schemas import api_versions_table
                return RequestHeader(hdr.api_key, 0, hdr.correlation_id, hdr.client_id), {
                    "error_code": errors.UNSUPPORTED_VERSION, "api_keys": api_versions_table()}
            self._abort(f"unsupported version {hdr.api_version} of {api.name}", "unsupported_version")
            return None
        if not session.authenticated and (hdr.api_key not in PRE_AUTH_APIS or (
                session.sasl is not None and hdr.api_key != SASL_AUTHENTICATE.key)):
            # before authentication only ApiVersions and the SASL requests; once the
            # handshake chose a mechanism, only SaslAuthenticate (Kafka's authenticator)
            self._abort(f"{api.name} before SASL authentication", "unauthenticated")
            return None
        try:
            body, end = api.codecs(hdr.api_version)[0].decode(frame, pos)
        except DecodeError as exc:
            self._abort(f"malformed {api.name} v{hdr.api_version} request: {exc}", "malformed")
            return None
        metrics.request(api.name)
        from .handlers import HANDLERS
        try:
            out = HANDLERS[hdr.api_key](self.broker, session, hdr, body)
        except errors.CloseConnection as exc:
            self._abort(str(exc), exc.reason)
            return None
        self._lift_frame_limit()
        return hdr, out

    def _lift_frame_limit(self) -> None:
        """Authenticated: frames up to max_request_bytes from now on."""
        if self.session is not None and self.session.authenticated:
            self.decoder.max_frame_bytes = self.broker.max_frame_bytes


async def serve(broker: Any, host: str, port: int, ssl_context: ssl.SSLContext | None = None,
                needs_auth: bool = False) -> asyncio.base_events.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: KafkaConnection(broker, needs_auth), host, port,
                                    ssl=ssl_context, reuse_address=True, backlog=1024)
