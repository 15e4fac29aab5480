"""SearchService: the read side of the index, called by the HTTP app in its own process.

One query language, two backends: the query text is parsed once into the AST
(`logwarden.sinks.query`) and compiled either to a tantivy query against the embedded
index under <data_dir>/index/{events,alerts}, or to Elasticsearch query DSL against
`<prefix>-events-*` / `<prefix>-alerts` when `index.type` is `elasticsearch` or
`opensearch` (the same DSL; each engine's client module sends it). Both return
the same shape: {"total": N, "hits": [ECS documents, newest first]}.

A bad query raises QueryError(message, position); the HTTP app answers 400 with it.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from logwarden.config import Config
from logwarden.sinks.embedded import IndexReader, index_path
from logwarden.sinks.query import QueryError, parse
from logwarden.sinks.query import to_es

__all__ = ["SearchService", "QueryError", "BackendUnavailable"]


class BackendUnavailable(RuntimeError):
    """Elasticsearch or OpenSearch could not be reached or failed (the HTTP app should answer 503)."""


def _client_module(kind: str) -> Any:
    """The module that speaks to a cluster of `index.type` `kind`: make_client, search,
    ERRORS, status, error_body, error_message."""
    if kind == "opensearch":
        from logwarden.sinks import opensearch
        return opensearch
    from logwarden.sinks import elasticsearch
    return elasticsearch


class SearchService:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self._es = None
        if cfg.index.type in ("elasticsearch", "opensearch"):
            self._engine = cfg.index.type
            self._client = _client_module(cfg.index.type)
            self._es = self._client.make_client(cfg.index)
            self._prefix = cfg.index.index_prefix
        else:
            self._events = IndexReader(index_path(cfg.data_path, "events"))
            self._alerts = IndexReader(index_path(cfg.data_path, "alerts"))

    # -- public API (contracts.md) --------------------------------------------------------

    def search(self, q: str, since: timedelta | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        node = parse(q or "")
        if self._es is not None:
            return self._es_search(f"{self._prefix}-events-*", node, since, limit, offset)
        return self._events.search(node, since, limit, offset)

    def alerts(self, since: timedelta | None = None, limit: int = 100, q: str = "", offset: int = 0) -> dict[str, Any]:
        node = parse(q or "")
        if self._es is not None:
            return self._es_search(f"{self._prefix}-alerts", node, since, limit, offset)
        return self._alerts.search(node, since, limit, offset)

    def histogram(self, q: str, since: timedelta | None = None, buckets: int = 60) -> list[dict[str, Any]]:
        """[{"time": ISO bucket start, "key": epoch ms, "count": n, "interval_ms": width}, ...]"""
        node = parse(q or "")
        if self._es is not None:
            return self._es_histogram(node, since, buckets)
        return self._events.histogram(node, since, buckets)

    # -- Elasticsearch ------------------------------------------------------------------

    def _es_call(self, index: str, request: dict[str, Any]) -> Any:
        c, engine = self._client, self._engine
        try:
            return c.search(self._es, index, request, ignore_unavailable=True, allow_no_indices=True)
        except c.ERRORS as exc:
            status = c.status(exc)
            if status is None:
                raise BackendUnavailable(f"{engine} unreachable: {exc}") from None
            if status == 400:
                # The cluster refused the query for its mapping: the user's to fix.
                raise QueryError(f"{engine}: {_reason(c.error_body(exc)) or c.error_message(exc)}", 0) from None
            raise BackendUnavailable(f"{engine} answered {status}: {c.error_message(exc)}") from None

    def _es_search(self, index: str, node, since, limit, offset) -> dict[str, Any]:
        query = to_es.with_since(to_es.compile(node), since.total_seconds() if since else None)
        resp = self._es_call(index, {"query": query, "size": max(0, min(limit, 10_000)), "from": max(0, offset),
                                     "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "date"}}],
                                     "track_total_hits": True})
        hits = resp["hits"]
        total = hits["total"]["value"] if isinstance(hits.get("total"), dict) else int(hits.get("total") or 0)
        return {"total": total, "hits": [h["_source"] for h in hits["hits"]]}

    def _es_histogram(self, node, since, buckets) -> list[dict[str, Any]]:
        span = since or timedelta(hours=24)
        interval_s = max(1, int(-(-span.total_seconds() // max(1, buckets))))
        now = datetime.now(timezone.utc)
        query = to_es.with_since(to_es.compile(node), span.total_seconds())
        resp = self._es_call(f"{self._prefix}-events-*", {
            "query": query, "size": 0,
            "aggs": {"h": {"date_histogram": {"field": "@timestamp", "fixed_interval": f"{interval_s}s",
                                              "min_doc_count": 0,
                                              "extended_bounds": {"min": int((now - span).timestamp() * 1000),
                                                                  "max": int(now.timestamp() * 1000)}}}}})
        out = []
        for b in resp.get("aggregations", {}).get("h", {}).get("buckets", []):
            out.append({"time": b.get("key_as_string") or datetime.fromtimestamp(b["key"] / 1000, timezone.utc).isoformat(),
                        "key": int(b["key"]), "count": int(b["doc_count"]), "interval_ms": interval_s * 1000})
        return out


def _reason(body: Any) -> str:
    """The most specific reason in an Elasticsearch error body."""
    if not isinstance(body, dict):
        return ""
    err = body.get("error")
    if isinstance(err, dict):
        causes = err.get("root_cause") or []
        if causes and isinstance(causes[0], dict) and causes[0].get("reason"):
            return str(causes[0]["reason"])
        return str(err.get("reason") or "")
    return str(err or "")
