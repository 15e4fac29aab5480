"""The embedded search index: tantivy directories under <data_dir>/index/{events,alerts}.

Writes are keyed by `event.id`: a document whose id may already be in the index is written
as delete-by-term(id) followed by add, inside the same tantivy commit, so a replayed or
re-delivered event replaces its earlier copy instead of adding a second one. tantivy
applies a delete to every document added before it (committed or not), which is what
makes replays within one batch collapse too.

Commits are made by the caller on time (the worker shell's checkpoint), never per batch:
committing every 5-10k documents halves indexing throughput (measured when the stage was
designed). Only one
process may hold an index's writer (tantivy takes a lock file); any number of readers in
other processes open the same directory and `reload()` to see new commits.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import orjson
import tantivy
from prometheus_client import Histogram
from tantivy import FieldType, Occur, Query

from logwarden.events import event_id
from logwarden.sinks import tantivy_schema as S
from logwarden.sinks.embedded_paging import TimePager, field_sorted
from logwarden.sinks.aggregations import (PERCENTS, SPLIT_TOP, empty_stats, histogram_interval, keyword_field,
                                          numeric_field, split_result, stats_result)
from logwarden.sinks.aggregations import buckets as _buckets
from logwarden.sinks.paging import TIME_SORT, BadParameter, Sort
from logwarden.sinks.query import Exists, Match, Node, parse
from logwarden.sinks.query.timerange import Window, query_bounds
from logwarden.sinks.query.to_tantivy import TantivyCompiler

if TYPE_CHECKING:
    from logwarden.config import Config

log = logging.getLogger(__name__)

WRITER_HEAP_BYTES = 128_000_000   # tantivy flushes a segment when its indexing heap fills
MAX_LIMIT = 10_000                # deepest page a search returns (as ES's max_result_window)


def index_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "index" / name


class IncompatibleIndex(RuntimeError):
    """The directory holds an index with another schema (written by another version)."""


SCHEMA_MARK = "logwarden-schema.txt"   # beside tantivy's meta.json: the S.SCHEMA_VERSION it was created with


def open_or_create(path: Path) -> tuple[tantivy.Index, bool]:
    """The index at `path` and whether it was created just now."""
    path.mkdir(parents=True, exist_ok=True)
    mark = path / SCHEMA_MARK
    if tantivy.Index.exists(str(path)):
        found = mark.read_text().strip() if mark.exists() else "unknown"
        if found != str(S.SCHEMA_VERSION):
            raise IncompatibleIndex(
                f"{path}: index schema version {found}, this Logwarden writes version {S.SCHEMA_VERSION}; "
                f"stop the index worker, delete {path} and start it again: a new index is rebuilt from "
                f"what the broker still retains of logs.ecs and alerts")
        return tantivy.Index.open(str(path)), False
    mark.write_text(f"{S.SCHEMA_VERSION}\n")   # first: a crash before the index exists leaves no stale mark
    return tantivy.Index(S.build_schema(), path=str(path), reuse=True), True


class IndexWriter:
    """Adds ECS documents idempotently; `commit()` makes them durable and visible.

    Idempotence costs a delete-by-term only when the id may already be there: tantivy
    applies every queued delete to every segment at commit, which measured 3x slower than
    the adds themselves when issued for every document. An id is deleted first when it
    was added since the last commit (kept in a set) or when the committed index's term
    dictionary knows it (`doc_freq`, which may over-count deleted documents: a harmless
    extra delete). A replay after a crash therefore still replaces, never duplicates.
    """

    def __init__(self, path: Path, heap_bytes: int = WRITER_HEAP_BYTES, num_threads: int = 1):
        self.path = Path(path)
        self.index, self.created = open_or_create(self.path)
        self._writer = self.index.writer(heap_size=heap_bytes, num_threads=num_threads)
        self._uncommitted: set[str] = set()
        self._refresh()
        self.pending = 0

    def _refresh(self) -> None:
        self.index.reload()
        self._searcher = self.index.searcher()
        self._committed_docs = self._searcher.num_docs

    @staticmethod
    def key(doc: dict[str, Any], source: bytes) -> str:
        """The write key: `event.id`, or for a document without one a hash of its bytes."""
        ev = doc.get("event")
        doc_id = ev.get("id") if isinstance(ev, dict) else None
        if not doc_id:
            doc_id = event_id("source", source)  # no id: the content is the identity
        return str(doc_id)

    def add(self, doc: dict[str, Any], source: bytes | None = None, *, known: bool | None = None) -> str:
        """Write (or replace) one document; returns the id it was keyed by.

        `known`: whether the committed index holds the id, when the caller has already
        looked (`add_batch`); None looks it up here."""
        if source is None:
            source = orjson.dumps(doc)
        doc_id = self.key(doc, source)
        body = S.to_json(doc, source, doc_id)
        if known is None:
            known = bool(self._committed_docs and self._searcher.doc_freq(S.ID, doc_id))
        if known or doc_id in self._uncommitted:
            self._writer.delete_documents_by_term(S.ID, doc_id)
        try:
            self._writer.add_json(body)
        except ValueError:
            # Most likely a malformed address in an IP field: index it without the IP
            # fields (the value stays searchable as a keyword). Anything else re-raises.
            self._writer.add_json(S.to_json(doc, source, doc_id, with_ips=False))
        self._uncommitted.add(doc_id)
        self.pending += 1
        return doc_id

    def committed_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of `ids` the committed index holds (may include deleted copies: a harmless
        extra delete). Looked up in sorted order: one term-dictionary walk per segment per
        id either way, but neighbouring keys share the walk's cache lines (about 25 % less
        than in arrival order, which profiled as the single largest cost of the stage's
        main thread under bench/e2e.py: the index has a segment per commit until merged)."""
        if not self._committed_docs:
            return set()
        doc_freq = self._searcher.doc_freq
        return {i for i in sorted(set(ids)) if doc_freq(S.ID, i)}

    def add_batch(self, docs: list[tuple[dict[str, Any], bytes]]) -> list[tuple[int, Exception]]:
        """`add` each document in order (a later copy of an id replaces an earlier one);
        returns (position, error) of the documents tantivy refused."""
        keys = [self.key(doc, source) for doc, source in docs]
        known = self.committed_ids(k for k in keys if k not in self._uncommitted)
        bad = []
        for i, (doc, source) in enumerate(docs):
            try:
                self.add(doc, source, known=keys[i] in known)
            except (ValueError, TypeError, OverflowError) as exc:
                bad.append((i, exc))
        return bad

    def expire(self, before: datetime) -> None:
        """Queue the deletion of every document with @timestamp < before (applied at commit)."""
        q = Query.range_query(self.index.schema, S.TS, FieldType.Date, None, before, include_upper=False)
        self._writer.delete_documents_by_query(q)
        self.pending += 1  # make the next commit happen even without new documents

    def commit(self) -> int:
        """Commit pending writes; returns how many operations were committed."""
        n = self.pending
        if n:
            self._writer.commit()
            self.pending = 0
            self._uncommitted.clear()
            self._refresh()
        return n

    def close(self) -> None:
        self.commit()
        self._writer.wait_merging_threads()


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


class IndexReader:
    """Searches one index directory written by another process; reloads on every query."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._index: tantivy.Index | None = None
        self._mark: int | None = None

    def _open(self) -> tantivy.Index | None:
        try:
            mark = (self.path / SCHEMA_MARK).stat().st_mtime_ns
        except FileNotFoundError:
            mark = None
        if self._index is None or mark != self._mark:
            # First use, or the index was deleted and rebuilt (perhaps with a new schema).
            if not (self.path / "meta.json").exists():
                self._index = None
                return None  # the writer has not created it yet: an empty result, not an error
            self._index = tantivy.Index.open(str(self.path))
            self._mark = mark
        self._index.reload()
        return self._index

    def _query(self, index: tantivy.Index, node: Node, since: timedelta | Window | None, now: datetime) -> Query:
        q = TantivyCompiler(index, now).compile(node)
        w = Window(now - since, None) if isinstance(since, timedelta) else since
        if isinstance(since, Window) and w.start is not None:
            # The timestamp field holds whole seconds: from= counts from the start of its second,
            # as to= already reaches the end of its own (a window is widened to whole seconds).
            w = Window(w.start.replace(microsecond=0), w.end)
        if w is not None and (w.start is not None or w.end is not None):
            tq = Query.range_query(index.schema, S.TS, FieldType.Date, w.start, w.end)
            q = Query.boolean_query([(Occur.Must, q), (Occur.Must, tq)])
        return q

    def search(self, q: str | Node, since: timedelta | Window | None = None, limit: int = 100, offset: int = 0,
               now: datetime | None = None, sort: Sort = TIME_SORT, search_after: str | None = None) -> dict[str, Any]:
        """{"total", "hits", "next"}: `since` is a duration back from now or a resolved Window;
        `next` (time sorts) is the cursor for `search_after`."""
        node = parse(q) if isinstance(q, str) else q
        now = now or datetime.now(timezone.utc)
        index = self._open()
        if index is None:
            return {"total": 0, "hits": []}
        limit = max(0, min(limit, MAX_LIMIT))
        query = self._query(index, node, since, now)
        if sort.by_time:
            return TimePager(index, query, sort).page(limit, max(offset, 0), search_after)
        if search_after:
            raise BadParameter("search_after: only time-sorted searches have cursors; page a field sort with offset")
        return field_sorted(index, query, sort, limit, max(offset, 0), now)

    def histogram(self, q: str | Node, since: timedelta | Window | None = None, buckets: int = 60,
                  now: datetime | None = None, interval_ms: int | None = None,
                  split: str | None = None) -> list[dict[str, Any]] | dict[str, Any]:
        """Counts per time bucket over the window (or the matching events' time span).

        The interval is `interval_ms`, or the readable one (1 s ... 1 d) giving about
        `buckets` buckets. With `split`, {"interval_ms", "buckets", "series": [one per top
        value of that field, up to SPLIT_TOP, with its own buckets], "other": [rest]}."""
        node = parse(q) if isinstance(q, str) else q
        now = now or datetime.now(timezone.utc)
        index = self._open()
        if index is None:
            return [] if split is None else {"interval_ms": None, "buckets": [], "series": [], "other": []}
        searcher = index.searcher()
        window = Window(now - since, now) if isinstance(since, timedelta) else since or Window()
        if window.start is not None and window.end is None:
            window = Window(window.start, now)
        query = self._query(index, node, window, now)
        span = window.intersect(query_bounds(node, now))
        start, end = span.start, span.end
        if start is None or end is None:
            stats = searcher.aggregate(query, {"s": {"stats": {"field": S.TS}}})["s"]
            if not stats.get("count"):
                return [] if split is None else {"interval_ms": None, "buckets": [], "series": [], "other": []}
            start = start or datetime.fromtimestamp(stats["min"] / 1e9, timezone.utc)  # stats on a date field are in ns
            end = end or datetime.fromtimestamp(stats["max"] / 1e9, timezone.utc) + timedelta(milliseconds=1)
        if end < start:
            end = start
        interval = histogram_interval(_ms(end) - _ms(start), buckets, interval_ms)
        hist = {"date_histogram": {"field": S.TS, "fixed_interval": f"{interval // 1000}s", "min_doc_count": 0,
                                   "extended_bounds": {"min": _ms(start), "max": _ms(end)}}}
        if split is None:
            return _buckets(searcher.aggregate(query, {"h": hist})["h"]["buckets"], interval)
        path = f"{S.KW}.{keyword_field(split, 'split')}"
        res = searcher.aggregate(query, {"h": hist, "s": {"terms": {"field": path, "size": SPLIT_TOP}, "aggs": {"h": hist}}})
        total = _buckets(res["h"]["buckets"], interval)
        series = [{"value": b["key"], "count": int(b["doc_count"]), "buckets": _buckets(b["h"]["buckets"], interval)}
                  for b in res["s"]["buckets"]]
        return split_result(interval, total, series)

    def top(self, q: str | Node, field: str, size: int = 10, since: timedelta | Window | None = None,
            now: datetime | None = None) -> dict[str, Any]:
        """Top values of a keyword/numeric field with counts, the count of other values and
        of matching events without the field."""
        node = parse(q) if isinstance(q, str) else q
        now = now or datetime.now(timezone.utc)
        index = self._open()
        path = f"{S.KW}.{keyword_field(field)}"
        if index is None:
            return {"field": field, "total": 0, "values": [], "other": 0, "missing": 0}
        searcher = index.searcher()
        query = self._query(index, node, since, now)
        total = searcher.search(query, limit=1, count=True).count
        res = searcher.aggregate(query, {"t": {"terms": {"field": path, "size": size}}})["t"]
        compiler = TantivyCompiler(index, now)
        missing = searcher.search(Query.boolean_query([(Occur.Must, query), (Occur.MustNot, compiler.compile(Exists(field)))]),
                                  limit=1, count=True).count
        values, other = [], int(res.get("sum_other_doc_count") or 0)
        for b in res["buckets"]:
            approx = int(b["doc_count"])
            # tantivy's terms aggregation keeps each segment's top values only (as Elasticsearch
            # does per shard), so a value outside some segment's top is under-counted: with
            # 1M events of many near-equal values every count came out low (2 for 3). The
            # values shown are counted again exactly, one term count each (10 by default).
            exact = max(approx, self._count_value(searcher, compiler, query, field, b["key"]))
            values.append({"value": b["key"], "count": exact})
            other -= exact - approx
        return {"field": field, "total": total, "values": values, "other": max(0, other), "missing": missing}

    @staticmethod
    def _count_value(searcher: Any, compiler: TantivyCompiler, query: Any, field: str, key: Any) -> int:
        """Matching events whose `field` has the value `key` (a terms bucket's key), or 0 when
        the key cannot be written back as a term (the approximate count is kept then)."""
        text = str(int(key)) if isinstance(key, float) and key.is_integer() else str(key)
        try:
            term = compiler.compile(Match(field, text, phrase=True))
        except Exception:  # noqa: BLE001 - a key the query language cannot express: keep the estimate
            return 0
        return searcher.search(Query.boolean_query([(Occur.Must, query), (Occur.Must, term)]), limit=1, count=True).count

    def stats(self, q: str | Node, field: str, since: timedelta | Window | None = None,
              now: datetime | None = None) -> dict[str, Any]:
        """count, min, max, avg, sum and p50/p95/p99 of a numeric field over the matching events."""
        node = parse(q) if isinstance(q, str) else q
        now = now or datetime.now(timezone.utc)
        path = f"{S.KW}.{numeric_field(field)}"
        index = self._open()
        if index is None:
            return empty_stats(field)
        searcher = index.searcher()
        query = self._query(index, node, since, now)
        res = searcher.aggregate(query, {"s": {"stats": {"field": path}},
                                         "p": {"percentiles": {"field": path, "percents": list(PERCENTS)}}})
        return stats_result(field, res["s"], res["p"].get("values") or {})

    def count(self) -> int:
        index = self._open()
        return 0 if index is None else index.searcher().num_docs


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).glob("*") if f.is_file()) if os.path.isdir(path) else 0


COMMITS = Histogram("logwarden_index_commit_seconds", "Time to make indexed documents durable (tantivy commit).",
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

RETENTION_CHECK_S = 3600   # how often documents past index.retention_days are deleted


class EmbeddedBackend:
    """The index stage's embedded backend (a `sinks.index_service.Backend`): two tantivy
    writers, <data_dir>/index/events and <data_dir>/index/alerts."""

    def __init__(self, cfg: "Config"):
        heap = cfg.index.writer_heap_bytes
        self.writers = {
            # tantivy splits the heap among its threads and wants at least ~15 MB each
            "events": IndexWriter(index_path(cfg.data_path, "events"), heap_bytes=max(heap, 16_000_000 * cfg.index.writer_threads),
                                  num_threads=cfg.index.writer_threads),
            "alerts": IndexWriter(index_path(cfg.data_path, "alerts"), heap_bytes=max(16_000_000, heap // 4)),
        }
        self.retention = timedelta(days=cfg.index.retention_days) if cfg.index.retention_days else None
        self.commit_max_docs = cfg.index.commit_max_docs
        self._last_expiry = float("-inf")

    def write(self, kind: str, docs: list[tuple[dict[str, Any], bytes]]) -> list[tuple[int, str]]:
        writer = self.writers[kind]
        bad = [(i, f"index: {exc}") for i, exc in writer.add_batch(docs)]
        if writer.pending >= self.commit_max_docs:
            # Commit on size too: bounds the uncommitted work a long checkpoint interval can
            # pile up. Committing ahead of the offsets is safe: a replay rewrites by id.
            writer.commit()
        return bad

    def checkpoint(self) -> None:
        t0 = time.perf_counter()
        if self.retention is not None and time.monotonic() - self._last_expiry >= RETENTION_CHECK_S:
            cutoff = datetime.now(timezone.utc) - self.retention
            for w in self.writers.values():
                w.expire(cutoff)
            self._last_expiry = time.monotonic()
            logging.getLogger("logwarden.sinks.index").info("expiring documents", extra={"before": cutoff.isoformat()})
        n = sum(w.commit() for w in self.writers.values())
        if n:
            COMMITS.observe(time.perf_counter() - t0)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
