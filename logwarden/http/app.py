"""The HTTP API and web UI as a Starlette app.

Routes (documented in docs/http-api.md); every search route takes q= and the time window
since= or from=/to= (ISO 8601 or date math):
  GET /api/search?limit=&offset=&sort=&search_after=  {"total", "hits": [ECS docs], "next": cursor}
  GET /api/alerts?... (the same)                      alert documents
  GET /api/histogram?buckets=&interval=&split=        event counts over time, for the UI chart
  GET /api/fields?sample=                             fields of the matching events (Discover's sidebar)
  GET /api/top?field=&size=                           top values of a field, plus the other count
  GET /api/stats?field=                               count/min/max/avg/p50/p95/p99 of a numeric field
  GET /api/tail                                       new matching events as server-sent events
  GET /api/status                                    the pipeline at a glance (logwarden/status.py)
  POST /api/login, POST /api/logout, GET /api/session   browser sessions (logwarden/http/auth.py)
  GET /api/alerts/{id}, POST /api/alerts/{id}/triage, GET /api/triage   alert page (alert_routes.py)
  GET /api/rules, GET /api/rules/{id}                 loaded rules, load errors, one rule (rule_routes.py)
  GET /api/openapi.json                              the OpenAPI description of all of these (openapi.py)
  GET /health                                200 when every supervised child runs, else 503
  GET /metrics                               Prometheus text for all processes
  GET / /discover /tail /alerts /rules /pipeline   the web UI (one page, routed in the browser)

Every /api/* route needs a session or an API token (logwarden/http/auth.py); /health and
/metrics are open unless http.auth.open_paths says otherwise.

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
# the page's own paths (one page, routed in the browser): a link to any of them opens that view
PAGES = ("/", "/login", "/discover", "/tail", "/alerts", "/alerts/{alert_id}", "/rules", "/rules/{rule_id}", "/pipeline")


MAX_QUERY_CHARS = 10_000      # a query longer than this is refused (400), not parsed


class BadRequest(Exception):
    pass


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def _q(request: Request) -> str:
    q = request.query_params.get("q", "")
    if len(q) > MAX_QUERY_CHARS:
        raise BadRequest(f"q: at most {MAX_QUERY_CHARS} characters, got {len(q)}")
    return q


def _since(request: Request) -> timedelta | None:
    raw = request.query_params.get("since")
    if not raw:
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise BadRequest(f"since: {exc}") from None


def _window(request: Request, default_since: timedelta | None = None) -> Any:
    """`since`, or `from`/`to` (ISO 8601 or date math), resolved once; None when none is given."""
    from logwarden.sinks.query.timerange import resolve

    since = _since(request)
    from_, to = request.query_params.get("from") or None, request.query_params.get("to") or None
    if since is None and from_ is None and to is None:
        since = default_since
        if since is None:
            return None
    try:
        return resolve(since, from_, to)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


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


def _interval(request: Request) -> int | None:
    raw = request.query_params.get("interval")
    if not raw or raw == "auto":
        return None
    try:
        ms = int(parse_duration(raw).total_seconds() * 1000)
    except ValueError as exc:
        raise BadRequest(f"interval: {exc} (or auto)") from None
    if ms < 1000 or ms % 1000:
        raise BadRequest(f"interval: whole seconds, at least 1s, got {raw!r}")
    return ms


def _sort(request: Request) -> Any:
    from logwarden.sinks.paging import parse_sort

    return parse_sort(request.query_params.get("sort"))


def _index(request: Request) -> str:
    """`index=events` (the default) or `alerts`: which index an aggregation counts over."""
    index = request.query_params.get("index") or "events"
    if index not in ("events", "alerts"):
        raise BadRequest(f"index: events or alerts, got {index[:40]!r}")
    return index


def _required(request: Request, name: str) -> str:
    v = request.query_params.get(name)
    if not v:
        raise BadRequest(f"{name}: required (e.g. {name}=source.ip)")
    return v


class Api:
    def __init__(self, cfg: Config):
        self.cfg = cfg

    @cached_property
    def service(self) -> Any:
        from logwarden.sinks.search import SearchService

        return SearchService(self.cfg)

    @cached_property
    def _errors(self) -> tuple[type[Exception], type[Exception], type[Exception]]:
        from logwarden.sinks.paging import BadParameter
        from logwarden.sinks.query import QueryError
        from logwarden.sinks.search import BackendUnavailable

        return QueryError, BackendUnavailable, BadParameter

    async def _call(self, fn: Any) -> Response:
        query_error, unavailable, bad_parameter = self._errors
        try:
            return ORJSONResponse(fn())
        except BadRequest as exc:
            return ORJSONResponse({"error": str(exc)}, status_code=400)
        except query_error as exc:
            pos = getattr(exc, "position", None)
            return ORJSONResponse({"error": f"bad query: {exc}", "position": pos}, status_code=400)
        except bad_parameter as exc:
            return ORJSONResponse({"error": str(exc)}, status_code=400)
        except unavailable as exc:
            # the search backend, not the request, is at fault: the client may retry
            log.warning("search backend unavailable", extra={"error": str(exc)})
            return ORJSONResponse({"error": f"search backend unavailable: {exc}"}, status_code=503)

    async def search(self, request: Request) -> Response:
        return await self._call(lambda: self.service.search(
            _q(request), since=_window(request), limit=_int(request, "limit", 100, 1, MAX_LIMIT),
            offset=_int(request, "offset", 0, 0, 1_000_000), sort=_sort(request),
            search_after=request.query_params.get("search_after") or None))

    async def alerts(self, request: Request) -> Response:
        return await self._call(lambda: self.service.alerts(
            since=_window(request), limit=_int(request, "limit", 100, 1, MAX_LIMIT), q=_q(request),
            offset=_int(request, "offset", 0, 0, 1_000_000), sort=_sort(request),
            search_after=request.query_params.get("search_after") or None))

    async def histogram(self, request: Request) -> Response:
        return await self._call(lambda: self.service.histogram(
            _q(request), since=_window(request, default_since=timedelta(hours=1)),
            buckets=_int(request, "buckets", 60, 1, 1000), interval_ms=_interval(request),
            split=request.query_params.get("split") or None))

    async def fields(self, request: Request) -> Response:
        from logwarden.sinks.field_summary import FIELDS_SAMPLE, MAX_SAMPLE

        return await self._call(lambda: self.service.fields(
            _q(request), since=_window(request), sample=_int(request, "sample", FIELDS_SAMPLE, 1, MAX_SAMPLE)))

    async def top(self, request: Request) -> Response:
        from logwarden.sinks.aggregations import MAX_TOP

        return await self._call(lambda: self.service.top(
            _q(request), _required(request, "field"), size=_int(request, "size", 10, 1, MAX_TOP), since=_window(request),
            index=_index(request)))

    async def stats(self, request: Request) -> Response:
        return await self._call(lambda: self.service.stats(_q(request), _required(request, "field"), since=_window(request)))

    async def tail(self, request: Request) -> Response:
        from logwarden.http.tail import tail_response

        return await tail_response(self, request)

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
    from starlette.middleware import Middleware

    from logwarden.http.auth import Auth, AuthMiddleware, AuthRoutes

    from logwarden.http.alert_routes import AlertRoutes
    from logwarden.http.openapi import spec
    from logwarden.http.rule_routes import RuleRoutes

    api = Api(cfg)
    auth = Auth(cfg)
    sessions = AuthRoutes(auth)
    alert_routes = AlertRoutes(api)
    rule_routes = RuleRoutes(api)
    openapi = spec()

    async def openapi_json(request: Request) -> Response:
        return ORJSONResponse(openapi)

    routes = [
        # -- the web UI's own routes (issue 12): sessions, alert triage, OpenAPI, page paths --
        Route("/api/login", sessions.login, methods=["POST", "GET"]),
        Route("/api/logout", sessions.logout, methods=["POST"]),
        Route("/api/session", sessions.session),
        Route("/api/alerts/{alert_id}", alert_routes.detail),
        Route("/api/alerts/{alert_id}/triage", alert_routes.triage, methods=["POST"]),
        Route("/api/triage", alert_routes.current),
        Route("/api/rules", rule_routes.list),
        Route("/api/rules/{rule_id}", rule_routes.detail),
        Route("/api/openapi.json", openapi_json),
        *(Route(path, api.index) for path in PAGES),
        # -- search and pipeline --
        Route("/api/search", api.search),
        Route("/api/alerts", api.alerts),
        Route("/api/histogram", api.histogram),
        Route("/api/fields", api.fields),
        Route("/api/top", api.top),
        Route("/api/stats", api.stats),
        Route("/api/tail", api.tail),
        Route("/api/status", api.status),
        Route("/health", api.health),
        Route("/metrics", api.metrics),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(AuthMiddleware, auth=auth)])
