"""The HTTP API and web UI as a Starlette app.

Routes (documented in docs/http-api.md):
  GET /api/search?q=&since=&limit=&offset=   {"total": n, "hits": [ECS docs, newest first]}
  GET /api/alerts?since=&limit=&q=           {"total": n, "hits": [alert docs, newest first]}
  GET /api/histogram?q=&since=&buckets=      event counts over time, for the UI chart
  GET /api/status                            the pipeline at a glance (logwarden/status.py)
  GET /health                                200 when every supervised child runs, else 503
  GET /metrics                               Prometheus text for all processes
  GET /                                      the web UI

Bad parameters and bad queries are the client's fault: 400 with a message that says what to
change; an unreachable search backend (Elasticsearch down) is a 503. The search backend runs in this process and reads the index the index worker
commits, so a slow query never stalls ingestion.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from logwarden import metrics
from logwarden.config import Config
from logwarden.durations import parse_duration

log = logging.getLogger("logwarden.http")
STATIC = Path(__file__).parent / "static"
DISK_LOW_MAX_BYTES = 64 * 1024 * 1024
DISK_LOW_MIN_BYTES = 1024 * 1024


def disk_full(data: Path) -> str | None:
    """Why the data directory's file system counts as full, or None.

    Full means less free than 1 % of it (at least 1 MiB, at most 64 MiB): the broker then
    answers produce with KAFKA_STORAGE_ERROR and the agent holds its offsets, so the
    appliance is up and waiting, not working, and /health must say so and why."""
    import shutil

    try:
        usage = shutil.disk_usage(data)
    except OSError:
        return None
    low = max(DISK_LOW_MIN_BYTES, min(DISK_LOW_MAX_BYTES, usage.total // 100))
    if usage.free >= low:
        return None
    return (f"disk full: the data directory {data} has {usage.free} bytes free of {usage.total}; the broker refuses "
            f"new records (KAFKA_STORAGE_ERROR) and the agent waits with its offsets held until space is freed")
MAX_LIMIT = 10_000


class BadRequest(Exception):
    pass


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def _since(request: Request) -> timedelta | None:
    raw = request.query_params.get("since")
    if not raw:
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise BadRequest(f"since: {exc}") from None


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: expected an integer, got {raw!r}") from None
    if not lo <= v <= hi:
        raise BadRequest(f"{name}: expected {lo}..{hi}, got {v}")
    return v


class Api:
    def __init__(self, cfg: Config):
        self.cfg = cfg

    @cached_property
    def service(self) -> Any:
        from logwarden.sinks.search import SearchService

        return SearchService(self.cfg)

    @cached_property
    def _errors(self) -> tuple[type[Exception], type[Exception]]:
        from logwarden.sinks.query import QueryError
        from logwarden.sinks.search import BackendUnavailable

        return QueryError, BackendUnavailable

    async def _call(self, fn: Any) -> Response:
        query_error, unavailable = self._errors
        try:
            return ORJSONResponse(fn())
        except BadRequest as exc:
            return ORJSONResponse({"error": str(exc)}, status_code=400)
        except query_error as exc:
            pos = getattr(exc, "position", None)
            return ORJSONResponse({"error": f"bad query: {exc}", "position": pos}, status_code=400)
        except unavailable as exc:
            # the search backend, not the request, is at fault: the client may retry
            log.warning("search backend unavailable", extra={"error": str(exc)})
            return ORJSONResponse({"error": f"search backend unavailable: {exc}"}, status_code=503)

    async def search(self, request: Request) -> Response:
        q = request.query_params.get("q", "")
        return await self._call(lambda: self.service.search(
            q, since=_since(request), limit=_int(request, "limit", 100, 1, MAX_LIMIT),
            offset=_int(request, "offset", 0, 0, 1_000_000)))

    async def alerts(self, request: Request) -> Response:
        q = request.query_params.get("q", "")
        return await self._call(lambda: self.service.alerts(
            since=_since(request), limit=_int(request, "limit", 100, 1, MAX_LIMIT), q=q))

    async def histogram(self, request: Request) -> Response:
        q = request.query_params.get("q", "")
        return await self._call(lambda: self.service.histogram(
            q, since=_since(request) or timedelta(hours=1), buckets=_int(request, "buckets", 60, 1, 1000)))

    @cached_property
    def rates(self) -> Any:
        from logwarden.status import Rates

        return Rates()

    async def status(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        from logwarden.status import collect

        # admin requests to the broker block for up to seconds: off the event loop
        body = await run_in_threadpool(collect, self.cfg, self.rates, self.service)
        return ORJSONResponse(body)

    async def health(self, request: Request) -> Response:
        status_file = self.cfg.data_path / "run" / "status.json"
        children: dict[str, Any] = {}
        if status_file.exists():
            try:
                children = orjson.loads(status_file.read_bytes()).get("children", {})
            except orjson.JSONDecodeError:
                children = {}
        down = sorted(name for name, c in children.items() if not c.get("running"))
        body = {"status": "ok" if not down else "degraded", "down": down, "children": children}
        full = disk_full(self.cfg.data_path)
        if full:
            body["status"], body["error"] = "degraded", full
        return ORJSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    async def metrics(self, request: Request) -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html")


def build_app(cfg: Config) -> Starlette:
    api = Api(cfg)
    routes = [
        Route("/", api.index),
        Route("/api/search", api.search),
        Route("/api/alerts", api.alerts),
        Route("/api/histogram", api.histogram),
        Route("/api/status", api.status),
        Route("/health", api.health),
        Route("/metrics", api.metrics),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)
