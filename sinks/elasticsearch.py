"""The Elasticsearch bulk sink (`index.type: elasticsearch`).

Documents go to `<prefix>-events-YYYY.MM.DD` (the day of their @timestamp, so a replayed
event always lands in the same index) and alerts to `<prefix>-alerts`, with `_id` set to
`event.id`: a re-delivered event overwrites itself, which is what makes at-least-once
delivery look exactly-once in the index.

`_bulk` can succeed as a request and still fail some of its items (Vector's "success reply
with item errors"); each item is judged on its own status by `bulk_retry.py`, which holds
the whole table (sans-IO, unit-tested apart from any cluster):

    2xx                 written
    429, 5xx            retried (only those items), with exponential backoff
    other 4xx           dead-lettered with Elasticsearch's reason (e.g. a mapping conflict)

A whole request that fails with a connection error, 429 or 5xx is retried the same way.
When retries run out the batch raises: the worker process exits without committing
offsets, the supervisor restarts it and the batch is delivered again. This module does the
sending and the waiting between attempts.

Uses the official `elasticsearch` client. The 9.x client speaks only to Elasticsearch 9
(it sends `compatible-with=9`); for an 8.x cluster install `elasticsearch>=8.12,<9`, the
calls here exist in both. OpenSearch is refused by that client's product check (7.14+) or
answers its compatible-with header with 406 (8.x, 9.x): `index.type: opensearch` uses
`sinks/opensearch.py`, which subclasses this backend and swaps only the client calls
(`_connect`, `_put_template`, `_send`, `status`); the retries, the item judgement, the daily
indices and retention are this module's.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import orjson
from elasticsearch import ApiError, Elasticsearch, TransportError

from logwarden.events import event_id
from logwarden.sinks.bulk_retry import Action, Verdict, judge_reply, judge_request_error
from logwarden.sinks.config import IndexConfig
from logwarden.sinks.es_template import templates

log = logging.getLogger("logwarden.sinks.elasticsearch")

RETENTION_CHECK_S = 3600   # how often daily indices past index.retention_days are deleted


def make_client(cfg: IndexConfig) -> Elasticsearch:
    if not cfg.elasticsearch_url:
        raise ValueError("index.elasticsearch_url is required when index.type is elasticsearch")
    kw: dict[str, Any] = {"request_timeout": 30}
    if cfg.elasticsearch_api_key:
        kw["api_key"] = cfg.elasticsearch_api_key
    elif cfg.elasticsearch_username:
        kw["basic_auth"] = (cfg.elasticsearch_username, cfg.elasticsearch_password or "")
    if cfg.elasticsearch_ca_certs:
        kw["ca_certs"] = cfg.elasticsearch_ca_certs
    return Elasticsearch(cfg.elasticsearch_url, **kw)


def index_name(prefix: str, kind: str, doc: dict[str, Any]) -> str:
    if kind == "alerts":
        return f"{prefix}-alerts"
    ts = doc.get("@timestamp")
    day = None
    if isinstance(ts, str):
        try:
            t = datetime.fromisoformat(ts)
            day = (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        except ValueError:
            day = None
    day = day or datetime.now(timezone.utc)
    return f"{prefix}-events-{day:%Y.%m.%d}"


def doc_id(doc: dict[str, Any], source: bytes) -> str:
    ev = doc.get("event")
    eid = ev.get("id") if isinstance(ev, dict) else None
    return str(eid) if eid else event_id("source", source)


def status(exc: Exception) -> int | None:
    """The HTTP status of a client error; None when the cluster was not reached at all."""
    return exc.meta.status if isinstance(exc, ApiError) else None


def error_body(exc: Exception) -> Any:
    return exc.body if isinstance(exc, ApiError) else None


def error_message(exc: Exception) -> str:
    return exc.message if isinstance(exc, ApiError) else str(exc)


ERRORS = (ApiError, TransportError)


def search(client: Elasticsearch, index: str, request: dict[str, Any], **params: Any) -> Any:
    """One _search: `request` is the body (query, size, from, sort, aggs, ...)."""
    kw = {("from_" if k == "from" else k): v for k, v in request.items()}
    return client.search(index=index, **kw, **params)


class BulkFailed(RuntimeError):
    """Retryable failures outlasted the retries: the batch must be delivered again."""


class ElasticsearchBackend:
    """A Backend for the index stage (see index_service.Backend)."""

    engine = "elasticsearch"          # names the cluster in log lines and dead-letter reasons
    errors: tuple[type[Exception], ...] = ERRORS
    status = staticmethod(status)

    def __init__(self, cfg: IndexConfig, client: Any = None):
        self.cfg = cfg
        self.es = client or self._connect(cfg)
        self._templates_done = False
        self.sleep = time.sleep
        self._last_expiry = float("-inf")

    # -- the client calls a subclass for another engine replaces --------------------------
    @staticmethod
    def _connect(cfg: IndexConfig) -> Any:
        return make_client(cfg)

    def _put_template(self, name: str, body: dict[str, Any]) -> None:
        self.es.indices.put_index_template(name=name, **body)

    def _action(self, index: str, id_: str, source: bytes) -> Any:
        """One pre-serialised bulk item: sources are sent as received."""
        return orjson.dumps({"index": {"_index": index, "_id": id_}}) + b"\n" + source.rstrip(b"\n") + b"\n"

    def _send(self, todo: list[tuple[int, Any]]) -> Iterator[tuple[int, Any, Verdict]]:
        """Send `todo` as _bulk requests; yield (position, item, verdict) of every item that
        was not written (to retry or to reject). A whole request failing for good raises."""
        for chunk in self._chunks(todo):
            body = b"".join(line for _, line in chunk)
            try:
                resp = self.es.bulk(operations=body)
            except self.errors as exc:
                verdict = judge_request_error(self.status(exc), exc)
                if verdict.action is Action.FAIL:
                    raise
                yield from ((pos, line, verdict) for pos, line in chunk)
                continue
            for (pos, line), verdict in zip(chunk, judge_reply(resp, len(chunk), self.engine)):
                if verdict.action is Action.FAIL:
                    raise BulkFailed(verdict.reason)
                if verdict.action is not Action.WRITTEN:
                    yield pos, line, verdict

    # -- the engine-neutral part ---------------------------------------------------------
    def ensure_templates(self) -> None:
        if self._templates_done:
            return
        for name, body in templates(self.cfg.index_prefix).items():
            self._with_retries(lambda: self._put_template(name, body))
        self._templates_done = True

    def _with_retries(self, call):
        delay = self.cfg.bulk_retry_backoff_ms / 1000
        for attempt in range(self.cfg.bulk_max_retries + 1):
            try:
                return call()
            except self.errors as exc:
                code = self.status(exc)
                if judge_request_error(code, exc).action is Action.FAIL or attempt == self.cfg.bulk_max_retries:
                    raise
                if code is not None:
                    log.warning(f"{self.engine} request failed, retrying", extra={"status": code, "attempt": attempt + 1})
                else:
                    log.warning(f"{self.engine} unreachable, retrying", extra={"error": str(exc), "attempt": attempt + 1})
            self.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _chunks(self, lines: list[tuple[int, bytes]]) -> list[list[tuple[int, bytes]]]:
        out, cur, size = [], [], 0
        for pos, line in lines:
            if cur and (len(cur) >= self.cfg.bulk_max_actions or size + len(line) > self.cfg.bulk_max_bytes):
                out.append(cur)
                cur, size = [], 0
            cur.append((pos, line))
            size += len(line)
        if cur:
            out.append(cur)
        return out

    def write(self, kind: str, docs: list[tuple[dict[str, Any], bytes]]) -> list[tuple[int, str]]:
        """Bulk-index `docs`; returns (position, reason) of items rejected for good (4xx)."""
        self.ensure_templates()
        prefix = self.cfg.index_prefix
        todo = [(i, self._action(index_name(prefix, kind, doc), doc_id(doc, source), source))
                for i, (doc, source) in enumerate(docs)]
        rejected: list[tuple[int, str]] = []
        delay = self.cfg.bulk_retry_backoff_ms / 1000
        for attempt in range(self.cfg.bulk_max_retries + 1):
            retry: list[tuple[int, Any]] = []
            last_reason = ""
            for pos, item, verdict in self._send(todo):
                if verdict.retry:
                    retry.append((pos, item))
                    last_reason = verdict.reason
                else:
                    rejected.append((pos, verdict.reason))
            if not retry:
                return sorted(rejected)
            if attempt == self.cfg.bulk_max_retries:
                raise BulkFailed(f"{len(retry)} documents still failing after {attempt + 1} attempts: {last_reason}")
            log.warning("bulk items failed, retrying", extra={"items": len(retry), "reason": last_reason, "attempt": attempt + 1})
            self.sleep(delay)
            delay *= 2
            todo = retry
        return sorted(rejected)

    def checkpoint(self) -> None:
        """Bulk items were acknowledged in process(); here only the hourly retention runs."""
        if self.cfg.retention_days and time.monotonic() - self._last_expiry >= RETENTION_CHECK_S:
            self._last_expiry = time.monotonic()
            try:
                self.expire(datetime.now(timezone.utc) - timedelta(days=self.cfg.retention_days))
            except self.errors as exc:
                log.warning("retention: cannot delete old indices", extra={"error": str(exc)})

    def expire(self, before: datetime) -> list[str]:
        """Delete daily event indices whose whole day is older than `before`; returns their names."""
        prefix = f"{self.cfg.index_prefix}-events-"
        names = self.es.indices.get(index=prefix + "*", ignore_unavailable=True, allow_no_indices=True, expand_wildcards="open")
        old = []
        for name in names:
            try:
                day = datetime.strptime(name[len(prefix):], "%Y.%m.%d").replace(tzinfo=timezone.utc)
            except ValueError:
                continue  # not one of ours
            if day + timedelta(days=1) <= before:
                old.append(name)
        for name in sorted(old):
            self.es.indices.delete(index=name)
            log.info("retention: deleted index", extra={"index": name})
        return sorted(old)

    def close(self) -> None:
        self.es.close()
