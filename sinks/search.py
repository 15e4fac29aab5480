"""SearchService: the read side of the index, called by the HTTP app in its own process.

One query language, two backends: the query text is parsed once into the AST
(`logwarden.sinks.query`) and compiled either to a tantivy query against the embedded
index under <data_dir>/index/{events,alerts}, or to Elasticsearch query DSL against
`<prefix>-events-*` / `<prefix>-alerts` when `index.type` is `elasticsearch` or
`opensearch` (the same DSL; each engine's client module sends it). Both return the same
shape: {"total": N, "hits": [ECS documents, newest first], "next": cursor}, and the same
aggregations (top values, stats, histograms; `aggregations.py`).

A bad query raises QueryError(message, position), a bad parameter BadParameter; the HTTP
app answers 400 with either.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from logwarden.config import Config
from logwarden.sinks.aggregations import PERCENTS, SPLIT_TOP, histogram_interval, keyword_field, numeric_field, split_result, stats_result
from logwarden.sinks.aggregations import buckets as buckets_of
from logwarden.sinks.embedded import IndexReader, index_path
from logwarden.sinks.field_summary import FIELDS_SAMPLE, field_summary
from logwarden.sinks.paging import MAX_WINDOW, TIME_SORT, BadParameter, Sort, decode_cursor, encode_cursor
from logwarden.sinks.query import Node, QueryError, parse
from logwarden.sinks.query import to_es
from logwarden.sinks.query.timerange import Window, query_bounds

__all__ = ["SearchService", "QueryError", "BackendUnavailable", "BadParameter"]

INDICES = ("events", "alerts")   # what top() counts over


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

    # -- public API (what the HTTP API of docs/http-api.md and the CLI call) ---------------
    # `since` is a duration back from now (the original API) or a resolved timerange.Window
    # (`from`/`to`, see timerange.resolve); either is ANDed with the query's own @timestamp.

    def search(self, q: str | Node, since: timedelta | Window | None = None, limit: int = 100, offset: int = 0,
               sort: Sort = TIME_SORT, search_after: str | None = None) -> dict[str, Any]:
        node = q if isinstance(q, Node) else parse(q or "")
        _one_paging(offset, search_after)
        if self._es is not None:
            return self._es_search(f"{self._prefix}-events-*", node, since, limit, offset, sort, search_after)
        return self._events.search(node, since, limit, offset, sort=sort, search_after=search_after)

    def alerts(self, since: timedelta | Window | None = None, limit: int = 100, q: str = "", offset: int = 0,
               sort: Sort = TIME_SORT, search_after: str | None = None) -> dict[str, Any]:
        node = parse(q or "")
        _one_paging(offset, search_after)
        if self._es is not None:
            return self._es_search(f"{self._prefix}-alerts", node, since, limit, offset, sort, search_after)
        return self._alerts.search(node, since, limit, offset, sort=sort, search_after=search_after)

    def histogram(self, q: str, since: timedelta | Window | None = None, buckets: int = 60,
                  interval_ms: int | None = None, split: str | None = None) -> list[dict[str, Any]] | dict[str, Any]:
        """[{"time": ISO bucket start, "key": epoch ms, "count": n, "interval_ms": width}, ...];
        with `split`, {"interval_ms", "buckets", "series": [{"value", "count", "buckets"}], "other"}."""
        node = parse(q or "")
        if self._es is not None:
            return self._es_histogram(node, since, buckets, interval_ms, split)
        return self._events.histogram(node, since, buckets, interval_ms=interval_ms, split=split)

    def top(self, q: str, field: str, size: int = 10, since: timedelta | Window | None = None,
            index: str = "events") -> dict[str, Any]:
        """{"field", "total", "values": [{"value", "count"}], "other": n, "missing": n}.

        `index` is "events" or "alerts": the rules page counts alerts by `rule.id` with the
        same one aggregation the Discover sidebar uses for events."""
        node = parse(q or "")
        if index not in INDICES:
            raise BadParameter(f"index: expected one of {', '.join(INDICES)}, got {index!r}")
        if self._es is not None:
            return self._es_top(node, field, size, since, index)
        return (self._alerts if index == "alerts" else self._events).top(node, field, size, since)

    def stats(self, q: str, field: str, since: timedelta | Window | None = None) -> dict[str, Any]:
        """{"field", "count", "min", "max", "avg", "sum", "p50", "p95", "p99"} of a numeric field."""
        node = parse(q or "")
        if self._es is not None:
            return self._es_stats(node, field, since)
        return self._events.stats(node, field, since)

    def fields(self, q: str, since: timedelta | Window | None = None, sample: int = FIELDS_SAMPLE) -> dict[str, Any]:
        """Discover's field list: the fields of the newest `sample` matching events, each
        with its type, how many of them have it and its top values (the same on both backends)."""
        res = self.search(q, since, limit=sample)
        return field_summary(res["hits"], res["total"])

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

    @staticmethod
    def _es_query(node, since, now: datetime) -> dict[str, Any]:
        if isinstance(since, Window):
            return to_es.with_window(to_es.compile(node), since)
        return to_es.with_since(to_es.compile(node), since.total_seconds() if since else None)

    def _es_search(self, index: str, node, since, limit, offset, sort: Sort = TIME_SORT,
                   search_after: str | None = None) -> dict[str, Any]:
        query = self._es_query(node, since, datetime.now(timezone.utc))
        order = sort.order
        if sort.by_time:
            es_sort = [{"@timestamp": {"order": order, "unmapped_type": "date"}},
                       {"event.id": {"order": order, "unmapped_type": "keyword"}}]
        else:
            if offset + limit > MAX_WINDOW:
                raise BadParameter(f"offset + limit: at most {MAX_WINDOW} when sorting by a field other than @timestamp, "
                                   f"got {offset + limit}")
            if search_after:
                raise BadParameter("search_after: only time-sorted searches have cursors; page a field sort with offset")
            es_sort = [{sort.field: {"order": order, "missing": "_last", "unmapped_type": "keyword"}},
                       {"@timestamp": {"order": "desc", "unmapped_type": "date"}}]
        request: dict[str, Any] = {"query": query, "size": max(0, min(limit, 10_000)), "sort": es_sort,
                                   "track_total_hits": True}
        if search_after:
            request["search_after"] = decode_cursor(search_after, self._engine, sort)
        else:
            request["from"] = max(0, offset)
        resp = self._es_call(index, request)
        hits = resp["hits"]
        total = hits["total"]["value"] if isinstance(hits.get("total"), dict) else int(hits.get("total") or 0)
        out: dict[str, Any] = {"total": total, "hits": [h["_source"] for h in hits["hits"]]}
        if sort.by_time and limit and len(hits["hits"]) == limit and hits["hits"][-1].get("sort"):
            out["next"] = encode_cursor(self._engine, sort, hits["hits"][-1]["sort"])
        return out

    def _es_histogram(self, node, since, buckets, interval_ms=None, split=None) -> list[dict[str, Any]] | dict[str, Any]:
        now = datetime.now(timezone.utc)
        window = since if isinstance(since, Window) else Window(now - since, now) if since else Window()
        if window.start is not None and window.end is None:
            window = Window(window.start, now)
        span = window.intersect(query_bounds(node, now))
        query = self._es_query(node, window, now)
        index = f"{self._prefix}-events-*"
        start, end = span.start, span.end
        if start is None or end is None:
            resp = self._es_call(index, {"query": query, "size": 0,
                                         "aggs": {"lo": {"min": {"field": "@timestamp"}}, "hi": {"max": {"field": "@timestamp"}}}})
            aggs = resp.get("aggregations", {})
            lo, hi = (aggs.get("lo") or {}).get("value"), (aggs.get("hi") or {}).get("value")
            if lo is None or hi is None:
                return [] if split is None else {"interval_ms": None, "buckets": [], "series": [], "other": []}
            start = start or datetime.fromtimestamp(lo / 1000, timezone.utc)
            end = end or datetime.fromtimestamp(hi / 1000, timezone.utc) + timedelta(milliseconds=1)
        if end < start:
            end = start
        lo_ms, hi_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        interval = histogram_interval(hi_ms - lo_ms, buckets, interval_ms)
        hist = {"date_histogram": {"field": "@timestamp", "fixed_interval": f"{interval // 1000}s", "min_doc_count": 0,
                                   "extended_bounds": {"min": lo_ms, "max": hi_ms}}}
        aggs = {"h": hist}
        if split is not None:
            aggs["s"] = {"terms": {"field": keyword_field(split, "split"), "size": SPLIT_TOP}, "aggs": {"h": hist}}
        resp = self._es_call(index, {"query": query, "size": 0, "aggs": aggs})
        got = resp.get("aggregations", {})
        total = buckets_of(got.get("h", {}).get("buckets", []), interval)
        if split is None:
            return total
        series = [{"value": b["key"], "count": int(b["doc_count"]), "buckets": buckets_of(b["h"]["buckets"], interval)}
                  for b in got.get("s", {}).get("buckets", [])]
        return split_result(interval, total, series)

    def _es_top(self, node, field, size, since, index: str = "events") -> dict[str, Any]:
        field = keyword_field(field)
        name = f"{self._prefix}-alerts" if index == "alerts" else f"{self._prefix}-events-*"
        resp = self._es_call(name, {
            "query": self._es_query(node, since, datetime.now(timezone.utc)), "size": 0, "track_total_hits": True,
            "aggs": {"t": {"terms": {"field": field, "size": size}}, "m": {"missing": {"field": field}}}})
        hits = resp["hits"]
        total = hits["total"]["value"] if isinstance(hits.get("total"), dict) else int(hits.get("total") or 0)
        aggs = resp.get("aggregations", {})
        t = aggs.get("t", {})
        return {"field": field, "total": total,
                "values": [{"value": b["key"], "count": int(b["doc_count"])} for b in t.get("buckets", [])],
                "other": int(t.get("sum_other_doc_count") or 0), "missing": int(aggs.get("m", {}).get("doc_count") or 0)}

    def _es_stats(self, node, field, since) -> dict[str, Any]:
        field = numeric_field(field)
        resp = self._es_call(f"{self._prefix}-events-*", {
            "query": self._es_query(node, since, datetime.now(timezone.utc)), "size": 0,
            "aggs": {"s": {"stats": {"field": field}}, "p": {"percentiles": {"field": field, "percents": list(PERCENTS)}}}})
        aggs = resp.get("aggregations", {})
        return stats_result(field, aggs.get("s", {}), aggs.get("p", {}).get("values") or {})


def _one_paging(offset: int, search_after: str | None) -> None:
    if offset and search_after:
        raise BadParameter("offset and search_after: page with one of them (a cursor already says where the page starts)")


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
