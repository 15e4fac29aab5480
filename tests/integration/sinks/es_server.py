"""A local HTTP server that speaks the parts of the Elasticsearch REST API our sink uses,
faithfully enough for the official `elasticsearch` client to talk to it unmodified.

Implemented from the Elasticsearch REST reference:
  GET|HEAD /                          cluster info (the client's product check needs the
                                      `X-Elastic-Product: Elasticsearch` header)
  PUT|GET|HEAD /_index_template/NAME  composable index templates
  POST|PUT [/INDEX]/_bulk             NDJSON: index/create/update/delete actions, per-item
                                      results with status, `errors: true` on any item error,
                                      `_id` idempotence (index overwrites, create conflicts 409),
                                      mapping checks from the matching template (long, float,
                                      ip, date) and dynamic object/concrete conflicts -> 400 items
  POST [/INDEX]/_refresh              no-op acknowledgement (writes are visible at once)
  GET|POST /INDEX/_search, _count     match_all, term, terms, ids, exists, range (with
                                      `now-<n><unit>` date math), match, match_phrase,
                                      multi_match, wildcard, single-term query_string, bool,
                                      typed by the template mapping (ip/CIDR, numbers, dates)
                                      and its `default` analyzer; aggregations: terms (with
                                      sub-aggregations), missing, min, max, stats, percentiles,
                                      date_histogram; sort on any mapped field (missing _last,
                                      arrays by min/max), search_after; size/from; track_total_hits
  GET /INDEX/_doc/ID                  one document
  GET|DELETE /INDEX                   index listing (wildcards) and deletion (by name only)
Content negotiation is checked as Elasticsearch does: `compatible-with=8|9` only.
Faults for tests: `faults.request` (statuses for whole requests) and `faults.items`
({_id: [statuses]}) are consumed one per occurrence.

What it is still for, now that the suite runs real OpenSearch (tests/engines): what a real
server cannot be made to do on demand - 429s and 5xx injected into chosen items or whole
requests, counting the `_bulk` requests a batch took - for both the Elasticsearch and the
OpenSearch backend, and the Elasticsearch 9 wire protocol of the official client, since no
Elasticsearch runs here (its distribution is not on Maven Central). Everything a real
server can show - mapping conflicts, partial failures, the query answers - is also checked
against real OpenSearch (test_sinks_opensearch.py, test_sinks_conformance.py).
"""
from __future__ import annotations

import fnmatch
import functools
import ipaddress
import itertools
import re
import threading
from collections import defaultdict
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from es_query import Matcher, QueryShardError, _flatten, aggregate, compare, sort_key

VERSION = "9.1.0"
_COMPAT = re.compile(r"compatible-with=(\d+)")
REASONS = {429: ("es_rejected_execution_exception", "rejected execution of coordinating operation [shard_queue_full]"),
           500: ("internal_server_error", "injected failure"), 503: ("unavailable_shards_exception", "primary shard is not active")}


class Faults:
    def __init__(self) -> None:
        self.request: list[int] = []
        self.items: dict[str, list[int]] = defaultdict(list)


def _mapping_types(props: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out = {}
    for name, m in props.items():
        if "properties" in m:
            out[prefix + name] = "object"
            out.update(_mapping_types(m["properties"], prefix + name + "."))
        else:
            out[prefix + name] = m.get("type", "object")
    return out


class Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.templates: dict[str, dict[str, Any]] = {}
        self.indices: dict[str, dict[str, dict[str, Any]]] = {}
        self.versions: dict[tuple[str, str], int] = {}
        self.dynamic: dict[str, dict[str, str]] = defaultdict(dict)   # index -> path -> "object"|"concrete"
        self.dynamic_types: dict[str, dict[str, str]] = defaultdict(dict)   # dynamic mapping of unmapped leaves
        self.seq = itertools.count()
        self.faults = Faults()
        self.bulk_requests = 0

    def mapping_for(self, index: str) -> dict[str, str]:
        best = None
        for body in self.templates.values():
            if any(fnmatch.fnmatchcase(index, p) for p in body.get("index_patterns", [])):
                if best is None or body.get("priority", 0) > best.get("priority", 0):
                    best = body
        if best is None:
            return {}
        return _mapping_types(best.get("template", {}).get("mappings", {}).get("properties", {}))

    def template_for(self, index: str) -> dict[str, Any]:
        best: dict[str, Any] = {}
        for body in self.templates.values():
            if any(fnmatch.fnmatchcase(index, p) for p in body.get("index_patterns", [])):
                if not best or body.get("priority", 0) > best.get("priority", 0):
                    best = body
        return best

    def matcher(self, index: str) -> "Matcher":
        tpl = self.template_for(index).get("template", {})
        return Matcher({**self.dynamic_types[index], **self.mapping_for(index)}, tpl.get("settings", {}))

    def check(self, index: str, doc_id: str, doc: Any) -> dict[str, Any] | None:
        """None when the document maps; else the Elasticsearch error object."""
        if not isinstance(doc, dict):
            return {"type": "document_parsing_exception", "reason": "[1:1] failed to parse: source is not an object"}
        types = self.mapping_for(index)
        dyn = self.dynamic[index]
        for path, value in _flatten(doc).items():
            declared = types.get(path)
            is_obj = isinstance(value, dict) or (isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value))
            shape = "object" if is_obj else "concrete"
            known = dyn.get(path) or ("object" if declared == "object" else "concrete" if declared else None)
            if known and known != shape:
                if known == "object":
                    return {"type": "document_parsing_exception",
                            "reason": f"[1:2] object mapping for [{path}] tried to parse field [{path}] as object, but found a concrete value"}
                return {"type": "document_parsing_exception",
                        "reason": f"[1:2] failed to parse field [{path}] of type [keyword] in document with id '{doc_id}'. Preview of field's value: '{value}'",
                        "caused_by": {"type": "illegal_state_exception", "reason": f"Can't get text on a START_OBJECT at 1:{len(path)}"}}
            problem = _type_problem(declared, value)
            if problem:
                return {"type": "document_parsing_exception",
                        "reason": f"[1:2] failed to parse field [{path}] of type [{declared}] in document with id '{doc_id}'. Preview of field's value: '{value}'",
                        "caused_by": {"type": "illegal_argument_exception", "reason": problem}}
        for path, value in _flatten(doc).items():
            is_obj = isinstance(value, dict) or (isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value))
            dyn.setdefault(path, "object" if is_obj else "concrete")
            if not is_obj and path not in types:
                self.dynamic_types[index].setdefault(path, _dynamic_type(value))
        return None


# Parameters each field type accepts (Elasticsearch mapping reference), for the ones we map.
_PARAMS = {
    "keyword": {"type", "ignore_above", "index", "doc_values", "store", "null_value", "normalizer", "fields", "meta"},
    "match_only_text": {"type", "fields", "meta"},
    "text": {"type", "analyzer", "search_analyzer", "index", "fields", "meta", "norms", "index_options"},
    "date": {"type", "format", "index", "doc_values", "null_value", "meta"},
    "ip": {"type", "index", "doc_values", "null_value", "meta"},
    "long": {"type", "index", "doc_values", "null_value", "coerce", "meta"},
    "float": {"type", "index", "doc_values", "null_value", "coerce", "meta"},
    "object": {"type", "enabled", "properties", "dynamic"},
}


def _mapping_problem(props: dict[str, Any], prefix: str = "") -> str | None:
    for name, m in props.items():
        ftype = m.get("type", "object")
        if ftype not in _PARAMS:
            return f"No handler for type [{ftype}] declared on field [{prefix}{name}]"
        unknown = sorted(set(m) - _PARAMS[ftype])
        if unknown:
            return f"unknown parameter [{unknown[0]}] on mapper [{prefix}{name}] of type [{ftype}]"
        if "properties" in m:
            problem = _mapping_problem(m["properties"], prefix + name + ".")
            if problem:
                return problem
    return None


def _dynamic_type(value: Any) -> str:
    """Elasticsearch's dynamic mapping of a new leaf (with date detection on, its default)."""
    v = value[0] if isinstance(value, list) and value else value
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "long"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str) and re.fullmatch(r"\d{4}[-/]\d\d[-/]\d\d(?:[T ][\d:.]+(?:Z|[+-]\d\d:?\d\d)?)?", v):
        return "date"
    return "keyword"


def _type_problem(declared: str | None, value: Any) -> str | None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if v is None:
            continue
        if declared in ("long", "integer"):
            if isinstance(v, bool) or not (isinstance(v, (int, float)) or (isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v))):
                return f"For input string: \"{v}\""
        elif declared in ("float", "double"):
            try:
                float(v)
            except (TypeError, ValueError):
                return f"For input string: \"{v}\""
        elif declared == "ip":
            try:
                ipaddress.ip_address(v)
            except ValueError:
                return f"'{v}' is not an IP string literal."
        elif declared == "date":
            try:
                datetime.fromisoformat(str(v))
            except ValueError:
                return f"failed to parse date field [{v}] with format [strict_date_optional_time||epoch_millis]"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "ESServer"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any = None, head: bool = False) -> None:
        data = b"" if body is None else orjson.dumps(body)
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        # As Elasticsearch answers: in the versioned media type only to a client that asked
        # for it (the official client); plain JSON to a plain-JSON client (opensearch-py).
        compat = any(_COMPAT.search(self.headers.get(h, "")) for h in ("Accept", "Content-Type"))
        self.send_header("Content-Type", f"application/vnd.elasticsearch+json;compatible-with={VERSION[0]}" if compat
                         else "application/json")
        self.send_header("Content-Length", str(0 if head else len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _error(self, status: int, etype: str, reason: str) -> None:
        self._send(status, {"error": {"root_cause": [{"type": etype, "reason": reason}], "type": etype, "reason": reason}, "status": status})

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _negotiate(self) -> bool:
        for h in ("Accept", "Content-Type"):
            m = _COMPAT.search(self.headers.get(h, ""))
            if m and m.group(1) not in ("8", "9"):
                self._error(400, "media_type_header_exception", f"Invalid media-type value on headers [{h}]")
                return False
        return True

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        body = self._body()
        if not self._negotiate():
            return
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        store = self.server.store
        if store.faults.request and parts and parts[-1] == "_bulk":
            status = store.faults.request.pop(0)
            etype, reason = REASONS.get(status, ("error", "injected"))
            return self._error(status, etype, reason)
        try:
            if not parts:
                return self._send(200, {"name": "logwarden-test", "cluster_name": "test", "cluster_uuid": "t3st",
                                        "version": {"number": VERSION, "build_flavor": "default",
                                                    "lucene_version": "10.2.2", "minimum_wire_compatibility_version": "8.19.0",
                                                    "minimum_index_compatibility_version": "8.0.0"},
                                        "tagline": "You Know, for Search"}, head=method == "HEAD")
            if parts[0] == "_index_template" and len(parts) == 2:
                return self._template(method, parts[1], body)
            if parts[-1] == "_bulk":
                return self._bulk(parts[0] if len(parts) == 2 else None, body, params)
            if parts[-1] == "_refresh":
                return self._send(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
            if parts[-1] in ("_search", "_count") and len(parts) == 2:
                return self._search(parts[0], orjson.loads(body) if body else {}, params, count=parts[-1] == "_count")
            if len(parts) == 1 and not parts[0].startswith("_") and method in ("GET", "DELETE"):
                return self._indices(method, parts[0], params)
            if len(parts) == 3 and parts[1] == "_doc" and method == "GET":
                with store.lock:
                    doc = store.indices.get(parts[0], {}).get(parts[2])
                if doc is None:
                    return self._send(404, {"_index": parts[0], "_id": parts[2], "found": False})
                return self._send(200, {"_index": parts[0], "_id": parts[2], "found": True, "_source": doc,
                                        "_version": store.versions[(parts[0], parts[2])]})
        except QueryShardError as exc:
            return self._error(400, "search_phase_execution_exception", f"all shards failed: {exc}")
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            return self._error(400, "x_content_parse_exception", str(exc))
        self._error(400, "illegal_argument_exception", f"request [{method} {url.path}] is not supported by the test server")

    def _indices(self, method: str, pattern: str, params: dict[str, str]) -> None:
        store = self.server.store
        with store.lock:
            names = [n for n in store.indices if any(fnmatch.fnmatchcase(n, p) for p in pattern.split(","))]
            if not names and ("*" not in pattern or params.get("allow_no_indices") == "false") \
                    and params.get("ignore_unavailable") != "true":
                return self._error(404, "index_not_found_exception", f"no such index [{pattern}]")
            if method == "DELETE":
                if "*" in pattern:   # action.destructive_requires_name defaults to true
                    return self._error(400, "illegal_argument_exception", "Wildcard expressions or all indices are not allowed")
                for n in names:
                    del store.indices[n]
                return self._send(200, {"acknowledged": True})
            return self._send(200, {n: {"aliases": {}, "mappings": {}, "settings": {"index": {"provided_name": n}}} for n in names})

    def _template(self, method: str, name: str, body: bytes) -> None:
        store = self.server.store
        if method == "PUT":
            tpl = orjson.loads(body)
            if not tpl.get("index_patterns"):
                return self._error(400, "action_request_validation_exception", "Validation Failed: 1: index patterns are missing;")
            problem = _mapping_problem(tpl.get("template", {}).get("mappings", {}).get("properties", {}))
            if problem:
                return self._error(400, "mapper_parsing_exception", problem)
            with store.lock:
                store.templates[name] = tpl
            return self._send(200, {"acknowledged": True})
        with store.lock:
            tpl = store.templates.get(name)
        if tpl is None:
            return self._error(404, "resource_not_found_exception", f"index template matching [{name}] not found")
        if method == "HEAD":
            return self._send(200, head=True)
        return self._send(200, {"index_templates": [{"name": name, "index_template": tpl}]})

    def _bulk(self, default_index: str | None, body: bytes, params: dict[str, str]) -> None:
        if not body.endswith(b"\n"):
            return self._error(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
        store = self.server.store
        lines = body.split(b"\n")[:-1]
        items: list[dict[str, Any]] = []
        i = 0
        with store.lock:
            store.bulk_requests += 1
            while i < len(lines):
                if not lines[i].strip():
                    i += 1
                    continue
                action = orjson.loads(lines[i])
                (op, meta), = action.items()
                if op not in ("index", "create", "update", "delete"):
                    return self._error(400, "illegal_argument_exception", f"Malformed action/metadata line [{i + 1}], expected one of [create, delete, index, update] but found [{op}]")
                index = meta.get("_index") or default_index
                if not index:
                    return self._error(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
                doc_id = meta.get("_id") or f"auto{next(store.seq)}"
                source = None
                if op != "delete":
                    if i + 1 >= len(lines):
                        return self._error(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
                    source = orjson.loads(lines[i + 1])
                    i += 2
                else:
                    i += 1
                items.append({op: self._item(store, op, index, doc_id, source)})
        self._send(200, {"took": 1, "errors": any(next(iter(it.values()))["status"] >= 300 for it in items), "items": items})

    def _item(self, store: Store, op: str, index: str, doc_id: str, source: Any) -> dict[str, Any]:
        base = {"_index": index, "_id": doc_id}
        queued = store.faults.items.get(doc_id)
        if queued:
            status = queued.pop(0)
            etype, reason = REASONS.get(status, ("error", "injected"))
            return {**base, "status": status, "error": {"type": etype, "reason": reason}}
        docs = store.indices.setdefault(index, {})
        exists = doc_id in docs
        if op == "delete":
            if not exists:
                return {**base, "result": "not_found", "status": 404, "_version": 1}
            del docs[doc_id]
            return {**base, "result": "deleted", "status": 200, "_version": store.versions[(index, doc_id)] + 1}
        if op == "create" and exists:
            return {**base, "status": 409, "error": {"type": "version_conflict_engine_exception",
                                                      "reason": f"[{doc_id}]: version conflict, document already exists (current version [{store.versions[(index, doc_id)]}])"}}
        if op == "update":
            if not exists:
                return {**base, "status": 404, "error": {"type": "document_missing_exception", "reason": f"[{doc_id}]: document missing"}}
            source = {**docs[doc_id], **(source or {}).get("doc", {})}
        err = store.check(index, doc_id, source)
        if err:
            return {**base, "status": 400, "error": err}
        docs[doc_id] = source
        version = store.versions.get((index, doc_id), 0) + 1
        store.versions[(index, doc_id)] = version
        return {**base, "_version": version, "result": "updated" if exists else "created",
                "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": next(store.seq), "_primary_term": 1,
                "status": 200 if exists else 201}

    def _search(self, pattern: str, req: dict[str, Any], params: dict[str, str], count: bool) -> None:
        store = self.server.store
        query = req.get("query", {"match_all": {}})
        with store.lock:
            names = [n for n in store.indices if any(fnmatch.fnmatchcase(n, p) for p in pattern.split(","))]
            if not names and "*" not in pattern and params.get("ignore_unavailable") != "true":
                return self._error(404, "index_not_found_exception", f"no such index [{pattern}]")
            hits = []
            for n in names:
                m = store.matcher(n)
                hits += [(n, i, d) for i, d in store.indices[n].items() if m(query, d, i)]
        if count:
            return self._send(200, {"count": len(hits), "_shards": {"total": 1, "successful": 1, "failed": 0}})
        matcher = store.matcher(names[0]) if names else Matcher({}, {})
        try:
            aggs = aggregate(req.get("aggs") or req.get("aggregations") or {}, [d for _, _, d in hits], matcher)
        except QueryShardError as exc:
            return self._error(400, "search_phase_execution_exception", str(exc))
        spec = req.get("sort") or [{"@timestamp": {"order": "desc"}}]
        keyed = [(sort_key(matcher, spec, d), n, i, d) for n, i, d in hits]
        keyed.sort(key=functools.cmp_to_key(lambda a, b: compare(spec, a[0], b[0]) or (-1 if a[2] < b[2] else a[2] > b[2])))
        after = req.get("search_after")
        if after is not None:
            if len(after) != len(spec):
                return self._error(400, "illegal_argument_exception",
                                   f"search_after has {len(after)} value(s) but sort has {len(spec)}.")
            keyed = [k for k in keyed if compare(spec, k[0], after) > 0]
        size = int(req.get("size", params.get("size", 10)))
        start = int(req.get("from", params.get("from", 0)))
        if after is not None and start not in (0, -1):
            return self._error(400, "illegal_argument_exception", "`from` parameter must be set to 0 when `search_after` is used.")
        page = keyed[start:start + size]
        self._send(200, {"took": 1, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                         "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": None,
                                  "hits": [{"_index": n, "_id": i, "_score": None, "_source": d, "sort": k}
                                           for k, n, i, d in page]},
                         **({"aggregations": aggs} if aggs else {})})


class ESServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), Handler)
        self.store = Store()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "ESServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)
