"""The alert page's routes: one alert with its events and its triage, and triage changes.

  GET  /api/alerts/{alert_id}          {"alert", "events": {"total", "hits"}, "triage": [records, oldest first]}
  POST /api/alerts/{alert_id}/triage   {"state": open|acknowledged|closed, "note"} -> the record (admin)
  GET  /api/triage                     {alert id: newest record} for every triaged alert

Triage is stored by logwarden/triage.py; the user recorded is the session's user (or
`token:<id>` for a script).
"""
from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from logwarden.triage import TriageError, TriageLog

MAX_EVENTS = 200


def _quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


class AlertRoutes:
    def __init__(self, api: Any):
        self.api = api
        self.log = TriageLog(api.cfg.data_path)

    def _find(self, alert_id: str) -> dict[str, Any] | None:
        hits = self.api.service.alerts(since=None, limit=1, q=f"event.id:{_quote(alert_id)}")["hits"]
        return hits[0] if hits else None

    async def detail(self, request: Request) -> Response:
        from logwarden.http.app import ORJSONResponse

        alert_id = request.path_params["alert_id"]

        def load() -> dict[str, Any]:
            alert = self._find(alert_id)
            if alert is None:
                return {}
            query = (alert.get("alert") or {}).get("query") or ""
            events = self.api.service.search(query, since=None, limit=MAX_EVENTS) if query else {"total": 0, "hits": []}
            return {"alert": alert, "events": events, "triage": self.log.history(alert_id)}

        try:
            body = await run_in_threadpool(load)
        except Exception as exc:   # a bad query or an unreachable backend answers as the search routes do
            return await self.api._call(lambda: _raise(exc))
        if not body:
            return ORJSONResponse({"error": f"no alert {alert_id!r}"}, status_code=404)
        return ORJSONResponse(body)

    async def triage(self, request: Request) -> Response:
        from logwarden.http.app import ORJSONResponse
        from logwarden.http.auth import principal

        alert_id = request.path_params["alert_id"]
        try:
            body = orjson.loads(await request.body())
            if not isinstance(body, dict):
                raise TypeError
        except (orjson.JSONDecodeError, TypeError):
            return ORJSONResponse({"error": 'expected JSON {"state": "acknowledged", "note": "..."}'}, status_code=400)
        try:
            found = await run_in_threadpool(self._find, alert_id)
        except Exception as exc:
            return await self.api._call(lambda: _raise(exc))
        if found is None:
            return ORJSONResponse({"error": f"no alert {alert_id!r}"}, status_code=404)
        try:
            rec = self.log.record(alert_id, body.get("state", ""), body.get("note", ""), principal(request).name)
        except TriageError as exc:
            return ORJSONResponse({"error": str(exc)}, status_code=400)
        return ORJSONResponse(rec)

    async def current(self, request: Request) -> Response:
        from logwarden.http.app import ORJSONResponse

        return ORJSONResponse(self.log.current())


def _raise(exc: Exception) -> Any:
    raise exc
