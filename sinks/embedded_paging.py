"""Sorted pages of the embedded index: by @timestamp with `event.id` as tiebreaker, or by a field.

tantivy sorts by one fast field, and the `timestamp` field holds seconds, so events of one
second come in index order, which changes as segments merge: a cursor of (second, position)
would repeat or skip events of that second between pages. The canonical order is therefore
(second, event.id), as an Elasticsearch sort with a tiebreaker: tantivy finds the seconds a
page touches, and within a second that a page only partly covers, a `terms` aggregation on
`event.id` ordered by key picks exactly which events belong to the page. A cursor is the
last hit's (second, event.id); the next page is `second < s OR (second = s AND id < id)`.

A field sort has no such fast field: a `terms` aggregation ordered by key finds the value
the page ends at, then the hits above it (fewer than offset + limit, at most MAX_WINDOW)
and the needed part of the ties at it (newest first) are fetched and ordered here. Hits
without the field come last, as Elasticsearch's `missing: _last`.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import orjson
import tantivy
from tantivy import FieldType, Occur, Order, Query

from logwarden.events import get_path
from logwarden.sinks import tantivy_schema as S
from logwarden.sinks.paging import MAX_WINDOW, BadParameter, Sort, decode_cursor, encode_cursor
from logwarden.sinks.query import fields
from logwarden.sinks.query.ast import Exists, Match, Range
from logwarden.sinks.query.to_tantivy import TantivyCompiler

BACKEND = "embedded"
_ID_PATH = f"{S.KW}.event.id"
_RANGE_UNSAFE = re.compile(r'[\s()\[\]{}"\\:]')


def _and(*qs: Query) -> Query:
    return Query.boolean_query([(Occur.Must, q) for q in qs])


def _doc(searcher: tantivy.Searcher, addr: Any) -> dict[str, Any]:
    return orjson.loads(bytes(searcher.doc(addr)[S.SOURCE][0]))


def _eid(doc: dict[str, Any]) -> str:
    ev = doc.get("event")
    v = ev.get("id") if isinstance(ev, dict) else None
    return v if isinstance(v, str) else ""


class TimePager:
    def __init__(self, index: tantivy.Index, query: Query, sort: Sort):
        self.index = index
        self.schema = index.schema
        self.query = query
        self.desc = sort.desc
        self.sort = sort
        self.searcher = index.searcher()

    def _second(self, key_ns: int) -> Query:
        t = datetime.fromtimestamp(key_ns // 1_000_000_000, timezone.utc)
        return Query.range_query(self.schema, S.TS, FieldType.Date, t, t)

    def _after(self, key_ns: int, eid: str) -> Query:
        """Hits after the cursor (key, id) in this order."""
        t = datetime.fromtimestamp(key_ns // 1_000_000_000, timezone.utc)
        if self.desc:
            beyond = Query.range_query(self.schema, S.TS, FieldType.Date, None, t, include_upper=False)
            ids = f"{_ID_PATH}:{{* TO {eid}}}"
        else:
            beyond = Query.range_query(self.schema, S.TS, FieldType.Date, t, None, include_lower=False)
            ids = f"{_ID_PATH}:{{{eid} TO *}}"
        alts = [(Occur.Should, beyond)]
        if eid:
            alts.append((Occur.Should, _and(self._second(key_ns), self.index.parse_query(ids, []))))
        return Query.boolean_query(alts)

    def page(self, limit: int, offset: int, search_after: str | None) -> dict[str, Any]:
        q = self.query
        if search_after:
            values = decode_cursor(search_after, BACKEND, self.sort)
            if len(values) != 2 or not isinstance(values[0], int) or not isinstance(values[1], str) \
                    or _RANGE_UNSAFE.search(values[1]):
                raise BadParameter("search_after: not a cursor of this index; pass the `next` value unchanged")
            q = _and(q, self._after(values[0], values[1]))
        need = offset + limit
        order = Order.Desc if self.desc else Order.Asc
        # limit=0 panics inside tantivy: ask for one and only read the count.
        res = self.searcher.search(q, limit=max(need, 1), order_by_field=S.TS, order=order, count=True)
        total = res.count if not search_after else self.searcher.search(self.query, limit=1, count=True).count
        hits = res.hits[:need]
        if limit == 0 or offset >= len(hits):
            return {"total": total, "hits": []}
        docs = self._canonical(q, hits, offset, min(need, len(hits)), complete=len(hits) < need)
        out: dict[str, Any] = {"total": total, "hits": [d for _, d in docs]}
        if len(docs) == limit and docs[-1][0] is not None:
            key, doc = docs[-1]
            out["next"] = encode_cursor(BACKEND, self.sort, [key, _eid(doc)])
        return out

    def _canonical(self, q: Query, hits: list, start: int, end: int, complete: bool) -> list[tuple[int, dict[str, Any]]]:
        """Positions [start, end) of the (second, event.id) order of `q`'s hits; `hits` is
        tantivy's top `end` by second (ties in index order)."""
        keys = [k for k, _ in hits]
        out: list[tuple[int, dict[str, Any]]] = []
        i = start
        while i < end:
            key = keys[i]
            a = i                                         # the second's first position (walk back:
            while a > 0 and keys[a - 1] == key:           # a deep offset must not rescan the list)
                a -= 1
            b = a
            while b + 1 < len(keys) and keys[b + 1] == key:
                b += 1
            lo, hi = i - a, min(end - 1, b) - a           # ranks within the second needed on this page
            whole = a >= start and (complete or b < len(keys) - 1) and b < end
            if key is None:                                # no @timestamp: index order, nothing to break ties by
                out += [(key, _doc(self.searcher, addr)) for _, addr in hits[i:min(end, b + 1)]]
            elif whole:
                group = [_doc(self.searcher, addr) for _, addr in hits[a:b + 1]]
                group.sort(key=_eid, reverse=self.desc)
                out += [(key, d) for d in group]
            else:
                out += [(key, d) for d in self._ranks(q, key, lo, hi)]
            i = a + hi + 1
        return out

    def _ranks(self, q: Query, key: int, lo: int, hi: int) -> list[dict[str, Any]]:
        """Hits lo..hi (by event.id in this order) of the second `key`."""
        in_second = _and(q, self._second(key))
        agg = {"ids": {"terms": {"field": _ID_PATH, "size": hi + 1, "order": {"_key": "desc" if self.desc else "asc"}}}}
        ids = [b["key"] for b in self.searcher.aggregate(in_second, agg)["ids"]["buckets"]]
        want = ids[lo:hi + 1]
        docs: list[dict[str, Any]] = []
        if want:
            got = self.searcher.search(_and(in_second, Query.term_set_query(self.schema, S.ID, want)), limit=len(want) * 2)
            by_id = {}
            for _, addr in got.hits:
                d = _doc(self.searcher, addr)
                by_id.setdefault(_eid(d), d)
            docs = [by_id[i] for i in want if i in by_id]
        missing = (hi - lo + 1) - len(docs)
        if missing > 0:
            # events without event.id (written by something else than Logwarden): after the others
            skip = max(0, lo - len(ids))
            no_id = _and(in_second, Query.boolean_query([(Occur.Must, Query.all_query()),
                                                          (Occur.MustNot, Query.exists_query(_ID_PATH, json_subpaths=False))]))
            got = self.searcher.search(no_id, limit=missing, offset=skip)
            docs += [_doc(self.searcher, addr) for _, addr in got.hits]
        return docs


def _value(doc: dict[str, Any], field: str, desc: bool) -> Any:
    v = get_path(doc, field)
    if isinstance(v, list):
        v = [x for x in v if x is not None and not isinstance(x, (dict, list))]
        if not v:
            return None
        try:
            return max(v) if desc else min(v)   # Elasticsearch's sort mode for arrays
        except TypeError:
            return v[0]
    return None if isinstance(v, dict) else v


def _bound(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).lower() if isinstance(v, bool) else str(v)


def field_sorted(index: tantivy.Index, query: Query, sort: Sort, limit: int, offset: int, now: datetime) -> dict[str, Any]:
    """A page of hits ordered by `sort.field` (then newest first); see the module docstring."""
    need = offset + limit
    if need > MAX_WINDOW:
        raise BadParameter(f"offset + limit: at most {MAX_WINDOW} when sorting by a field other than @timestamp, got {need}")
    searcher = index.searcher()
    total = searcher.search(query, limit=1, count=True).count
    if limit == 0 or offset >= total:
        return {"total": total, "hits": []}
    comp = TantivyCompiler(index, now)
    path = f"{S.KW}.{sort.field}"
    agg = {"v": {"terms": {"field": path, "size": need, "order": {"_key": "desc" if sort.desc else "asc"}}}}
    buckets = searcher.aggregate(query, agg)["v"]["buckets"]
    picked: list[dict[str, Any]] = []
    seen: set[str] = set()

    def take(q: Query, n: int) -> list[dict[str, Any]]:
        res = searcher.search(q, limit=max(n, 1), order_by_field=S.TS, order=Order.Desc)
        out = []
        for _, addr in res.hits[:n]:
            d = _doc(searcher, addr)
            if _eid(d) not in seen or not _eid(d):
                seen.add(_eid(d))
                out.append(d)
        return out

    cum = 0
    cut = None
    for b in buckets:
        cum += int(b["doc_count"])
        cut = b["key"]
        if cum >= need:
            break
    if cut is not None:
        try:
            beyond = comp.compile(Range(sort.field, None, _bound(cut), True, False) if not sort.desc else
                                  Range(sort.field, _bound(cut), None, False, True))
            at = comp.compile(Match(sort.field, _bound(cut)))
        except ValueError as exc:
            raise BadParameter(f"sort: cannot sort by {sort.field} here: {exc}") from None
        above = take(_and(query, beyond), need)    # newest first; the stable sort keeps that among equal values
        above.sort(key=lambda d: _sortable(_value(d, sort.field, sort.desc)), reverse=sort.desc)
        picked = above + take(_and(query, at), need - len(above))
    if len(picked) < need:
        missing = Query.boolean_query([(Occur.Must, query), (Occur.MustNot, comp.compile(Exists(sort.field)))])
        picked += take(missing, need - len(picked))
    return {"total": total, "hits": picked[offset:need]}


def _sortable(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, (int, float)):
        return (0, v)
    return (1, str(v))
