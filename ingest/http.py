"""HTTP receiver: NDJSON at POST /ingest and the Elasticsearch `_bulk` API.

Shippers with an Elasticsearch output (Filebeat, Vector, Fluent Bit, Logstash, the
official clients' bulk helpers) point their `hosts` here. They first GET / and check the
version, so / answers an Elasticsearch-like info document, and every response carries
`X-Elastic-Product: Elasticsearch` (the official clients refuse servers without it).
`GET /_cluster/health` (Vector's health check) and `GET /_license` (Logstash, Beats)
answer too. Templates/ILM setup calls are not served: disable them in the shipper
(`setup.template.enabled: false`, `setup.ilm.enabled: false` in Filebeat).

A request is answered only after the broker acknowledged its records (acks=all): a 2xx
means durable. Items the broker did not take come back in `_bulk` as status 429
`es_rejected_execution_exception` (shippers retry those items); /ingest answers 503 and
the sender retries the whole request, which the deterministic event ids make harmless.

Errors: 401 without a valid token, 413 above `http_max_body_bytes` (checked on
Content-Length and again while streaming, gzip bodies after decompression), 400 for an
unreadable body — all with Elasticsearch's error document shape and a message that says
what to fix.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logwarden.events import now_iso

from . import bulk
from .auth import AuthError, Authenticator
from .config import IngestConfig, IngestToken
from .envelope import Envelopes, bulk_id, http_id
from .producer import AsyncProducer

JSON = "application/json"


class TooLarge(Exception):
    pass


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    h = {"X-Elastic-Product": "Elasticsearch"}
    if headers:
        h.update(headers)
    return Response(orjson.dumps(doc), status_code=status, media_type=JSON, headers=h)


def _error(status: int, etype: str, reason: str, headers: dict[str, str] | None = None) -> Response:
    return _json(bulk.error_body(status, etype, reason), status, headers)


class HttpReceiver:
    def __init__(self, cfg: IngestConfig, envelopes: Envelopes, producer: AsyncProducer, host_name: str, cluster_uuid: str):
        self.cfg = cfg
        self.envelopes = envelopes
        self.producer = producer
        self.auth = Authenticator(cfg.tokens)
        self.host_name = host_name
        self.cluster_uuid = cluster_uuid
        self.app = Starlette(routes=[
            Route("/", self.info, methods=["GET", "HEAD"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/_cluster/health", self.cluster_health, methods=["GET"]),
            Route("/_license", self.license, methods=["GET"]),
            Route("/ingest", self.ingest, methods=["POST", "PUT"]),
            Route("/_bulk", self.bulk, methods=["POST", "PUT"]),
            Route("/{index}/_bulk", self.bulk, methods=["POST", "PUT"]),
        ])

    # -- helpers -------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> IngestToken | None:
        return self.auth.check(request.headers.get("authorization"))

    async def _body(self, request: Request) -> bytes:
        limit = self.cfg.http_max_body_bytes
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise TooLarge()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge()
            chunks.append(chunk)
        body = b"".join(chunks)
        if request.headers.get("content-encoding", "").lower() in ("gzip", "x-gzip"):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                body = d.decompress(body, limit + 1)
            except zlib.error as exc:
                raise ValueError(f"body is not valid gzip: {exc}") from None
            if len(body) > limit or d.unconsumed_tail:
                raise TooLarge()
        return body

    def _peer(self, request: Request) -> str:
        c = request.client
        return f"{c.host}:{c.port}" if c else ""

    def _request_key(self, request: Request, body: bytes) -> str:
        key = request.headers.get("idempotency-key") or request.headers.get("x-request-id")
        return f"key:{key}" if key else "body:" + hashlib.blake2b(body, digest_size=16).hexdigest()

    async def _guarded(self, request: Request) -> tuple[IngestToken | None, bytes] | Response:
        try:
            source = self._authenticate(request)
        except AuthError as exc:
            return _error(401, "security_exception", f"{exc} for REST request [{request.url.path}]",
                          {"WWW-Authenticate": 'Bearer realm="logwarden", ApiKey, Basic realm="logwarden"'})
        try:
            body = await self._body(request)
        except TooLarge:
            return _error(413, "content_too_long_exception",
                          f"request body is larger than http_max_body_bytes ({self.cfg.http_max_body_bytes} bytes): send smaller batches")
        except ValueError as exc:
            return _error(400, "parse_exception", str(exc))
        if not body.strip():
            return _error(400, "parse_exception", "request body is required: send NDJSON, one event per line")
        return source, body

    # -- endpoints -----------------------------------------------------------------------
    async def info(self, request: Request) -> Response:
        try:
            self._authenticate(request)
        except AuthError as exc:
            return _error(401, "security_exception", f"{exc} for REST request [/]")
        return _json({
            "name": self.host_name, "cluster_name": "logwarden", "cluster_uuid": self.cluster_uuid,
            "version": {"number": self.cfg.es_version, "build_flavor": "default", "build_type": "logwarden",
                        "build_hash": "logwarden", "build_date": "2026-01-01T00:00:00.000Z", "build_snapshot": False,
                        "lucene_version": "9.12.0", "minimum_wire_compatibility_version": "7.17.0",
                        "minimum_index_compatibility_version": "7.0.0"},
            "tagline": "You Know, for Search",
        })

    async def cluster_health(self, request: Request) -> Response:
        """Vector's Elasticsearch sink health check (and curl habits) ask this."""
        try:
            self._authenticate(request)
        except AuthError as exc:
            return _error(401, "security_exception", f"{exc} for REST request [/_cluster/health]")
        return _json({"cluster_name": "logwarden", "status": "green", "timed_out": False, "number_of_nodes": 1,
                      "number_of_data_nodes": 1, "active_primary_shards": 0, "active_shards": 0, "relocating_shards": 0,
                      "initializing_shards": 0, "unassigned_shards": 0, "delayed_unassigned_shards": 0,
                      "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
                      "active_shards_percent_as_number": 100.0})

    async def license(self, request: Request) -> Response:
        """Logstash and Beats read the license before deciding which features to use: a basic one."""
        try:
            self._authenticate(request)
        except AuthError as exc:
            return _error(401, "security_exception", f"{exc} for REST request [/_license]")
        return _json({"license": {"status": "active", "uid": self.cluster_uuid, "type": "basic", "issue_date": "2026-01-01T00:00:00.000Z",
                                  "issue_date_in_millis": 1767225600000, "max_nodes": 1000, "max_resource_units": None,
                                  "issued_to": "logwarden", "issuer": "elasticsearch", "start_date_in_millis": -1}})

    async def health(self, request: Request) -> Response:
        return _json({"status": "ok", "inflight": self.producer.inflight})

    async def ingest(self, request: Request) -> Response:
        got = await self._guarded(request)
        if isinstance(got, Response):
            return got
        source, body = got
        fmt = request.query_params.get("format")
        peer, key, ts = self._peer(request), self._request_key(request, body), now_iso()
        sname = source.name if source else ""
        values = []
        for pos, line in enumerate(body.split(b"\n")):
            line = line.strip()
            if not line:
                continue
            values.append(self.envelopes.http(None, line, peer=peer, source=source, log_format=fmt, eid=http_id(sname, key, pos), timestamp=ts))
        if not values:
            return _error(400, "parse_exception", "request body is required: send NDJSON, one event per line")
        results = await self._wait(self.producer.send_batch(values, "http"), len(values))
        failed = [r for r in results if r is not None]
        if failed:
            return _error(503, "unavailable_shards_exception",
                          f"{len(failed)} of {len(results)} events were not acknowledged by the broker ({failed[0]}); retry the request")
        return _json({"accepted": len(results), "errors": False})

    async def bulk(self, request: Request) -> Response:
        started = time.monotonic()
        got = await self._guarded(request)
        if isinstance(got, Response):
            return got
        source, body = got
        try:
            items = bulk.parse(body, request.path_params.get("index"))
        except bulk.BulkRequestError as exc:
            return _error(400, exc.error_type, exc.reason)
        fmt = request.query_params.get("format")
        peer, key, ts = self._peer(request), self._request_key(request, body), now_iso()
        sname = source.name if source else ""
        pending: list[bulk.BulkItem] = []
        values: list[bytes] = []
        for pos, it in enumerate(items):
            if it.error is not None:
                continue
            eid = bulk_id(sname, it.index, it.id) if it.id else http_id(sname, key, pos)
            if it.id is None:
                it.id = eid
            values.append(self.envelopes.http(it.doc, it.source, peer=peer, source=source, log_format=fmt, eid=eid, timestamp=ts))
            pending.append(it)
        results = await self._wait(self.producer.send_batch(values, "http"), len(values))
        for it, err in zip(pending, results):
            if err is not None:
                it.error = (429, "es_rejected_execution_exception", f"the broker did not acknowledge the event: {err}; retry")
        return _json(bulk.response(items, int((time.monotonic() - started) * 1000)))

    async def _wait(self, future: "asyncio.Future[list[str | None]]", n: int) -> list[str | None]:
        """Per-record outcomes; records still unreported after the delivery timeout count as failed."""
        timeout = self.cfg.delivery_timeout_ms / 1000.0 + 5.0
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            return ["timed out waiting for the broker"] * n
