"""The rules page's routes: the loaded rule set with its load errors, and one rule.

  GET /api/rules              {"rules": [summary, ...], "errors": [{file, line, reason}], "summary",
                               "matches_since": "24h", "matches_error": str | None}
  GET /api/rules/{rule_id}    {"rule": summary + description, references, ..., "yaml": its document's text,
                               "alerts": {"total", "hits"} (newest first)}

The HTTP process loads the rules exactly as the rules stage does (`rules.ruleset.load` on
`rule_paths(rules.paths, rules.bundled)` with `rules.mapping` and `rules.placeholders`), so
the page lists what the stage runs and the errors it logs. Compiling ~300 rules takes about
0.3 s, so the set is kept and loaded again only when the files' (path, mtime, size)
signature changes - the check the stage's hot reload makes.

Matches are alerts: one terms aggregation of `rule.id` over the alerts index for the last
24 h (SearchService.top with index="alerts"). When the search backend cannot answer, the
rules are still listed, with `matches_24h` null and the reason in `matches_error`.
"""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

MATCHES_SINCE = timedelta(hours=24)
RECENT_ALERTS = 50
MAX_RULE_ID = 200   # longer is no rule id (ids are UUIDs or 32 hex characters): 404 without a look-up


def _quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def document_text(doc: Any) -> str:
    """The YAML text of one document of its file: only that document of a multi-document file
    (its lines, from the node tree's start and end marks), as the file has it now."""
    try:
        lines = Path(doc.file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return f"# cannot read {doc.file}: {exc}"
    node = doc.nodes
    if node is None:
        return "\n".join(lines)
    start, end = node.start_mark.line, node.end_mark.line + (1 if node.end_mark.column else 0)
    body = lines[start:end]
    while body and body[-1].strip() in ("", "---", "..."):
        body.pop()
    return "\n".join(body)


def _summary(doc: Any, kind: str) -> dict[str, Any]:
    data = doc.data
    return {"id": doc.id, "title": doc.title, "name": doc.name, "kind": kind, "level": doc.level or "medium",
            "tags": list(doc.tags), "status": str(data.get("status") or "") or None, "author": doc.author or None,
            "file": doc.file, "line": doc.line}


class RuleCatalog:
    """The rule set the rules stage runs, compiled once per change of its files."""

    def __init__(self, cfg: Any):
        from logwarden.rules.ruleset import rule_paths

        self.rules_cfg = cfg.rules
        self.paths = rule_paths(cfg.rules.paths, cfg.rules.bundled)
        self._lock = threading.Lock()
        self._sig: tuple | None = None
        self._docs: dict[str, tuple[Any, str]] = {}
        self._errors: list[dict[str, Any]] = []
        self._summary: dict[str, int] = {}
        self.loads = 0   # how many times the set was compiled (the cache's test reads it)

    def current(self) -> tuple[dict[str, tuple[Any, str]], list[dict[str, Any]], dict[str, int]]:
        """({rule id: (SigmaDoc, kind)}, load errors, summary), loading again after a file changed."""
        from logwarden.rules.ruleset import load, signature

        sig = signature(self.paths)
        with self._lock:
            if sig != self._sig:
                rc = self.rules_cfg
                rs = load(self.paths, rc.mapping, rc.placeholders)
                docs: dict[str, tuple[Any, str]] = {r.doc.id: (r.doc, "rule") for r in rs.rules}
                docs |= {c.doc.id: (c.doc, "correlation") for c in rs.correlations}
                self._docs = docs
                self._errors = [{"file": e.file, "line": e.line, "reason": e.reason} for e in rs.errors]
                self._summary = rs.summary()
                self._sig = sig
                self.loads += 1
            return self._docs, self._errors, self._summary


class RuleRoutes:
    def __init__(self, api: Any):
        self.api = api
        self.catalog = RuleCatalog(api.cfg)

    def _matches(self, n: int) -> tuple[dict[str, int] | None, str | None]:
        from logwarden.sinks.aggregations import MAX_TOP

        try:
            top = self.api.service.top("", "rule.id", size=max(1, min(n, MAX_TOP)), since=MATCHES_SINCE, index="alerts")
        except (*self.api._errors, OSError, ValueError) as exc:   # an unreachable backend must not hide the rules
            return None, f"{type(exc).__name__}: {exc}"
        return {v["value"]: v["count"] for v in top["values"]}, None

    def _list(self) -> dict[str, Any]:
        docs, errors, summary = self.catalog.current()
        counts, err = self._matches(len(docs))
        rules = []
        for doc, kind in docs.values():
            row = _summary(doc, kind)
            row["matches_24h"] = None if counts is None else counts.get(doc.id, 0)
            rules.append(row)
        rules.sort(key=lambda r: (r["title"].lower(), r["id"]))
        return {"rules": rules, "errors": errors, "summary": summary, "matches_since": "24h", "matches_error": err}

    async def list(self, request: Request) -> Response:
        from logwarden.http.app import ORJSONResponse

        return ORJSONResponse(await run_in_threadpool(self._list))

    async def detail(self, request: Request) -> Response:
        from logwarden.http.app import ORJSONResponse

        rule_id = request.path_params["rule_id"]
        if len(rule_id) > MAX_RULE_ID:
            return ORJSONResponse({"error": f"no rule {rule_id[:MAX_RULE_ID]!r}…"}, status_code=404)
        docs, _, _ = await run_in_threadpool(self.catalog.current)
        found = docs.get(rule_id)
        if found is None:
            return ORJSONResponse({"error": f"no rule {rule_id!r} is loaded"}, status_code=404)
        doc, kind = found
        data = doc.data
        rule = _summary(doc, kind) | {
            "description": str(data.get("description") or "").strip() or None,
            "references": [str(r) for r in data.get("references") or []] if isinstance(data.get("references"), list) else [],
            "falsepositives": [str(r) for r in data.get("falsepositives") or []] if isinstance(data.get("falsepositives"), list) else [],
            "date": str(data["date"]) if data.get("date") else None,
            "modified": str(data["modified"]) if data.get("modified") else None,
            "logsource": doc.logsource or None,
        }
        body: dict[str, Any] = {"rule": rule, "yaml": await run_in_threadpool(document_text, doc), "alerts_query": f"rule.id:{_quote(doc.id)}"}

        def alerts() -> Any:
            return self.api.service.alerts(since=None, limit=RECENT_ALERTS, q=body["alerts_query"])

        try:
            body["alerts"] = await run_in_threadpool(alerts)
            body["alerts_error"] = None
        except (*self.api._errors, OSError, ValueError) as exc:   # the rule is still shown; its alerts say why not
            body["alerts"], body["alerts_error"] = {"total": 0, "hits": []}, f"{type(exc).__name__}: {exc}"
        return ORJSONResponse(body)
