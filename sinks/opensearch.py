"""The OpenSearch bulk sink (`index.type: opensearch`), through `opensearch-py`.

The official `elasticsearch` client cannot talk to OpenSearch: 7.14-7.17 refuse it in their
product check and 8.x/9.x send `compatible-with=8|9`, which OpenSearch answers with 406 on
every request with a body. This backend is the Elasticsearch one (`elasticsearch.py`: daily
indices, `_id` = event.id, the retry and dead-letter judgement of each item, retention)
with the client calls swapped for opensearch-py's:

* `_bulk` through `opensearchpy.helpers.streaming_bulk`, which chunks by
  `index.bulk_max_actions` and `index.bulk_max_bytes`. The helper's own retry (429 only)
  is off: a 503 item must be retried like a 429 one, and a retried item must stay
  paired with its position so it can be dead-lettered with its record. Sources are
  handed over pre-serialised, as received from logs.ecs.
* Index templates are the same composable `_index_template` bodies (`es_template.py`):
  OpenSearch 2.x has `match_only_text`, `ip` and the custom `default` analyzer.
* Search uses the same query DSL compiler (`query/to_es.py`) with the request as a body.

Settings are the `index.elasticsearch_*` ones (URL, user, password, CA); OpenSearch has
no Elasticsearch API keys, so `elasticsearch_api_key` is refused with a clear error.
"""
from __future__ import annotations

from typing import Any, Iterator

from opensearchpy import OpenSearch, TransportError
from opensearchpy.helpers import streaming_bulk

from logwarden.sinks.bulk_retry import Action, Verdict, judge_item, judge_request_error
from logwarden.sinks.config import IndexConfig
from logwarden.sinks.elasticsearch import BulkFailed, ElasticsearchBackend

ERRORS = (TransportError,)   # ConnectionError is a TransportError whose status_code is "N/A"


def make_client(cfg: IndexConfig) -> OpenSearch:
    if not cfg.elasticsearch_url:
        raise ValueError("index.elasticsearch_url is required when index.type is opensearch")
    if cfg.elasticsearch_api_key:
        raise ValueError("index.elasticsearch_api_key: OpenSearch has no Elasticsearch API keys; "
                         "set index.elasticsearch_username and index.elasticsearch_password")
    kw: dict[str, Any] = {"timeout": 30}
    if cfg.elasticsearch_username:
        kw["http_auth"] = (cfg.elasticsearch_username, cfg.elasticsearch_password or "")
    if cfg.elasticsearch_ca_certs:
        kw["ca_certs"] = cfg.elasticsearch_ca_certs
    return OpenSearch(hosts=[cfg.elasticsearch_url], **kw)


def status(exc: Exception) -> int | None:
    """The HTTP status of a client error; None when the cluster was not reached at all."""
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def error_body(exc: Exception) -> Any:
    return getattr(exc, "info", None)


def error_message(exc: Exception) -> str:
    return str(getattr(exc, "error", None) or exc)


def search(client: OpenSearch, index: str, request: dict[str, Any], **params: Any) -> Any:
    """One _search: `request` is the body (query, size, from, sort, aggs, ...)."""
    return client.search(index=index, body=request, **params)   # kwargs: the client spells booleans as true/false


class OpenSearchBackend(ElasticsearchBackend):
    """A Backend for the index stage (see index_service.Backend)."""

    engine = "opensearch"
    errors = ERRORS
    status = staticmethod(status)

    @staticmethod
    def _connect(cfg: IndexConfig) -> OpenSearch:
        return make_client(cfg)

    def _put_template(self, name: str, body: dict[str, Any]) -> None:
        self.es.indices.put_index_template(name=name, body=body)

    def _action(self, index: str, id_: str, source: bytes) -> tuple[dict[str, Any], str]:
        # The action as a mapping (the helper reads it back when a whole request fails), the
        # source as text: the helper's serializer passes strings through unparsed.
        return {"index": {"_index": index, "_id": id_}}, source.rstrip(b"\n").decode("utf-8", "replace")

    def _send(self, todo: list[tuple[int, Any]]) -> Iterator[tuple[int, Any, Verdict]]:
        results = streaming_bulk(self.es, [item for _, item in todo], chunk_size=self.cfg.bulk_max_actions,
                                 max_chunk_bytes=self.cfg.bulk_max_bytes, raise_on_error=False,
                                 raise_on_exception=False, max_retries=0, yield_ok=True,
                                 expand_action_callback=lambda item: item)
        answered = 0
        for (pos, item), (ok, result) in zip(todo, results):
            answered += 1
            if ok:
                continue
            info = next(iter(result.values()))
            exc = info.get("exception")
            if exc is None:
                yield pos, item, judge_item(info, self.engine)
                continue
            # The whole request failed; the helper reports it on each of its items, with the
            # status "N/A" when no cluster answered.
            code = info.get("status")
            verdict = judge_request_error(code if isinstance(code, int) else None, exc)
            if verdict.action is Action.FAIL:
                raise exc
            yield pos, item, verdict
        if answered != len(todo):
            raise BulkFailed(f"_bulk answered {answered} items for {len(todo)} actions")
