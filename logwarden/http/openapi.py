"""The OpenAPI 3.1 description of the JSON API, served at GET /api/openapi.json.

Written by hand next to docs/http-api.md (which explains the semantics); a unit test checks
that every /api route the app serves is described here and nothing else is.
"""
from __future__ import annotations

from typing import Any

import logwarden

_Q = {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Query language (docs/search.md); empty = everything."}
_SINCE = {"name": "since", "in": "query", "schema": {"type": "string", "example": "15m"}, "description": "The last so long: 30s, 15m, 2h, 7d."}
_FROM = {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "Window start: ISO 8601 or date math (now-15m)."}
_TO = {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "Window end: ISO 8601 or date math."}
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}}
_OFFSET = {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1000000, "default": 0}}
_FIELD = {"name": "field", "in": "query", "required": True, "schema": {"type": "string", "example": "source.ip"}}
_SORT = {"name": "sort", "in": "query", "schema": {"type": "string", "example": "@timestamp:desc"}}
_AFTER = {"name": "search_after", "in": "query", "schema": {"type": "string"}, "description": "The `next` cursor of the previous page."}
_ID = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "The alert's event.id."}


def _json(desc: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {"schema": schema or {"type": "object"}}}}


_ERR = {"400": _json("Bad parameter or query", {"$ref": "#/components/schemas/Error"}),
        "401": _json("No session or token", {"$ref": "#/components/schemas/Error"}),
        "503": _json("Search backend unavailable", {"$ref": "#/components/schemas/Error"})}
_HITS = {"$ref": "#/components/schemas/Hits"}


def _get(summary: str, params: list[dict[str, Any]], ok: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params, "responses": {"200": ok, **_ERR}}}


PATHS: dict[str, dict[str, Any]] = {
    "/api/login": {"post": {
        "summary": "Log in: a session cookie (HttpOnly, SameSite=Strict) and the CSRF token", "security": [],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["username", "password"],
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}},
        "responses": {"200": _json("Logged in", {"$ref": "#/components/schemas/Session"}),
                      "401": _json("Wrong user name or password"), "415": _json("Not JSON"),
                      "429": _json("Too many failed logins; see Retry-After")}}},
    "/api/logout": {"post": {"summary": "End the browser session", "responses": {"200": _json("Logged out"), **_ERR}}},
    "/api/session": _get("Who is asking", [], _json("The user or token", {"$ref": "#/components/schemas/Session"})),
    "/api/search": _get("Search events, newest first", [_Q, _SINCE, _FROM, _TO, _LIMIT, _OFFSET, _SORT, _AFTER], _json("Hits", _HITS)),
    "/api/alerts": _get("Search alerts, newest first", [_Q, _SINCE, _FROM, _TO, _LIMIT, _OFFSET, _SORT, _AFTER], _json("Alert hits", _HITS)),
    "/api/histogram": _get("Event counts over time", [_Q, _SINCE, _FROM, _TO,
                           {"name": "buckets", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                           {"name": "interval", "in": "query", "schema": {"type": "string", "example": "auto"}},
                           {"name": "split", "in": "query", "schema": {"type": "string"}, "description": "A keyword field: stacked series of its top values."}],
                           _json("Buckets (a list), or with split {interval_ms, buckets, series, other}")),
    "/api/fields": _get("Fields of the newest matching events with types and top values (Discover's sidebar)",
                        [_Q, _SINCE, _FROM, _TO, {"name": "sample", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}}],
                        _json("Fields")),
    "/api/top": _get("Top values of a field", [_Q, _SINCE, _FROM, _TO, _FIELD,
                     {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}},
                     {"name": "index", "in": "query", "schema": {"type": "string", "enum": ["events", "alerts"], "default": "events"}}],
                     _json("Values with counts, other and missing")),
    "/api/stats": _get("count, min, max, avg, sum, p50, p95, p99 of a numeric field", [_Q, _SINCE, _FROM, _TO, _FIELD], _json("Stats")),
    "/api/tail": {"get": {"summary": "New matching events as server-sent events (event: hit; Last-Event-ID resumes)",
                          "parameters": [_Q, {"name": "heartbeat", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 300}}],
                          "responses": {"200": {"description": "An event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                                        **_ERR}}},
    "/api/status": _get("The pipeline at a glance: stages, lag, topics, dead letters, alerts, disk", [], _json("Snapshot")),
    "/api/alerts/{alert_id}": _get("One alert with its matched events and its triage history", [_ID],
                                   _json("The alert", {"type": "object", "properties": {
                                       "alert": {"type": "object"}, "events": _HITS,
                                       "triage": {"type": "array", "items": {"$ref": "#/components/schemas/Triage"}}}})),
    "/api/alerts/{alert_id}/triage": {"post": {
        "summary": "Acknowledge, close or reopen an alert with a note (admin)", "parameters": [_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["state"],
            "properties": {"state": {"enum": ["open", "acknowledged", "closed"]}, "note": {"type": "string", "maxLength": 4000}}}}}},
        "responses": {"200": _json("Recorded", {"$ref": "#/components/schemas/Triage"}), "403": _json("Not an admin, or CSRF"),
                      "404": _json("No such alert"), **_ERR}}},
    "/api/triage": _get("The newest triage record of every triaged alert", [],
                        _json("By alert id", {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Triage"}})),
    "/api/rules": _get("Every loaded rule and correlation with its alerts in the last 24 h, and the load errors", [],
                       _json("The rule set", {"type": "object", "properties": {
                           "rules": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}},
                           "errors": {"type": "array", "items": {"$ref": "#/components/schemas/LoadError"}},
                           "summary": {"type": "object"}, "matches_since": {"type": "string"},
                           "matches_error": {"type": ["string", "null"]}}})),
    "/api/rules/{rule_id}": {"get": {
        "summary": "One loaded rule: its metadata, the YAML of its document and its recent alerts",
        "parameters": [{"name": "rule_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "The rule's id (its Sigma `id`)."}],
        "responses": {"200": _json("The rule", {"type": "object", "properties": {
                          "rule": {"$ref": "#/components/schemas/Rule"}, "yaml": {"type": "string"},
                          "alerts_query": {"type": "string"}, "alerts": _HITS, "alerts_error": {"type": ["string", "null"]}}}),
                      "404": _json("No loaded rule has this id", {"$ref": "#/components/schemas/Error"}), **_ERR}}},
    "/api/openapi.json": _get("This description", [], _json("OpenAPI 3.1")),
}


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Logwarden HTTP API", "version": logwarden.__version__,
                 "description": "See docs/http-api.md. Every /api route needs a session cookie (with X-CSRF-Token on "
                                "state changes) or a bearer token (logwarden token create)."},
        "paths": PATHS,
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "lw_session"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}, "position": {"type": ["integer", "null"]}}},
                "Hits": {"type": "object", "properties": {"total": {"type": "integer"},
                                                          "hits": {"type": "array", "items": {"type": "object"}},
                                                          "next": {"type": "string"}}},
                "Session": {"type": "object", "properties": {"user": {"type": "string"}, "role": {"enum": ["viewer", "admin"]},
                                                             "kind": {"enum": ["session", "token"]}, "csrf": {"type": ["string", "null"]}}},
                "Rule": {"type": "object", "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "name": {"type": ["string", "null"]},
                    "kind": {"enum": ["rule", "correlation"]},
                    "level": {"enum": ["informational", "low", "medium", "high", "critical"]},
                    "tags": {"type": "array", "items": {"type": "string"}}, "status": {"type": ["string", "null"]},
                    "author": {"type": ["string", "null"]}, "file": {"type": "string"}, "line": {"type": "integer"},
                    "matches_24h": {"type": ["integer", "null"], "description": "Alerts of this rule in the last 24 h (list only)."}}},
                "LoadError": {"type": "object", "properties": {"file": {"type": "string"}, "line": {"type": "integer"},
                                                               "reason": {"type": "string"}}},
                "Triage": {"type": "object", "properties": {"alert_id": {"type": "string"},
                                                            "state": {"enum": ["open", "acknowledged", "closed"]},
                                                            "note": {"type": "string"}, "user": {"type": "string"},
                                                            "time": {"type": "string", "format": "date-time"}}},
            },
        },
    }
