"""The event model shared by every stage.

Three topics carry three shapes:

* `logs.raw` – the envelope Filebeat ships to Kafka, so a Filebeat (or Vector) pointed at
  the broker just works::

      {"@timestamp": "...", "message": "<line>", "log": {"file": {"path": ..., "inode": ...,
       "device_id": ...}, "offset": 1234}, "host": {"name": ...},
       "agent": {"type": "logwarden", "version": ..., "id": ...}, "input": {"type": "filestream"},
       "fields": {"log_format": "nginx"}, "tags": [...]}

* `logs.ecs` – Elastic Common Schema documents (nested objects) carrying `event.original`,
  `event.ingested` and a deterministic `event.id`.
* `logs.dlq` – what a stage could not take (a line no parser understands, a record that is
  not a JSON object, a document the index rejects for good), built by `dead_letter()` below
  for every stage, so the shape is one::

      {"@timestamp": <when it failed>,
       "event": {"id": ..., "original": <the log line>, "kind": "pipeline_error"},
       "error": {"message": <the reason>, "type": <who refused it: the parser, "envelope",
                 "engine", "<pipeline>/<processor>", "index" or "rules">},
       "raw": <the input record>}

  `raw` is the record as the refusing stage consumed it: its decoded JSON object when it is
  one, else its bytes as UTF-8 text (invalid bytes replaced). Producing `raw` (re-encoded if
  an object) back to the stage's input topic replays the record. `event.original` is the
  log line when the stage can tell (a raw envelope's `message`; null when it has none),
  else the record's text. `event.id` is the record's own id when it carries one (a raw
  envelope's identity, an ECS document's `event.id`), else one derived from where it was
  read, so a dead letter written twice is one document downstream.

`event.id` is a hash of the event's *identity*, not its content: host, file identity and byte
offset for tailed lines, or the ingest request id and position for network input. Writing the
same line twice (a replay, a crash before an offset commit) therefore yields the same id, and
the index writes by id, so duplicates collapse into one document.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

RAW_TOPIC = "logs.raw"
ECS_TOPIC = "logs.ecs"
DLQ_TOPIC = "logs.dlq"
ALERTS_TOPIC = "alerts"
# The rules stage's own checkpoint (rules/state.py): compacted, keyed by the input partitions
# a snapshot covers, never read by another stage.
RULES_STATE_TOPIC = "rules.state"
# JSON samples of the metrics feeds (`metrics.feeds`): one document per series per
# metrics.sample_interval_ms, {"@timestamp", "metric": {name, type, feed}, "labels", and
# "value" (counter) or "count", "sum", "buckets" (histogram, cumulative by upper bound)}.
METRICS_TOPIC = "metrics"


@dataclass(slots=True)
class Output:
    """One record a stage hands the worker shell (logwarden.worker) to produce. Here, with no
    Kafka import, so sans-IO stage cores (the parsers' fast path) can build them directly."""

    topic: str
    value: bytes
    key: bytes | None = None


def event_id(*identity: object) -> str:
    """A stable 16-byte BLAKE2b id (32 lowercase hex characters) from identity parts, e.g. host,
    inode, offset: the same parts give the same id in every process, so a replay collapses."""
    h = hashlib.blake2b(digest_size=16)
    for part in identity:
        h.update(str(part).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def raw_event_id(raw: dict[str, Any]) -> str:
    """The id of a raw envelope: its own `event.id` if the sender set one, else host+file+offset."""
    ev = raw.get("event")
    if isinstance(ev, dict) and ev.get("id"):
        return str(ev["id"])
    log = raw.get("log") or {}
    file = log.get("file") or {}
    host = (raw.get("host") or {}).get("name", "")
    ident = file.get("fingerprint") or (f"{file.get('device_id', '')}:{file['inode']}" if file.get("inode") else file.get("path", ""))
    if ident or "offset" in log:
        return event_id(host, ident, log.get("offset", ""))
    return event_id(host, raw.get("@timestamp", ""), raw.get("message", ""))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_RECORD_TEXT: Any = object()  # dead_letter's default `original`: the record's text


def dead_letter(value: bytes | str | None, reason: str, error_type: str, *, eid: str,
                decoded: Any = None, original: str | None = _RECORD_TEXT) -> dict[str, Any]:
    """The logs.dlq document (shape above) for one record a stage refused.

    `value` is the record as consumed (bytes, or text already decoded); `decoded` its JSON
    decoding when the stage got that far, which becomes `raw` when it is an object. Only the
    stage knows whether the record carries a log line, so it may pass `original`."""
    text = value if isinstance(value, str) else (value or b"").decode("utf-8", "replace")
    return {
        "@timestamp": now_iso(),
        "event": {"id": eid, "original": text if original is _RECORD_TEXT else original, "kind": "pipeline_error"},
        "error": {"message": reason, "type": error_type},
        "raw": decoded if isinstance(decoded, dict) else text,
    }


def get_path(doc: dict[str, Any], dotted: str, default: Any = None) -> Any:
    """Read `a.b.c` from nested objects, also accepting flat dotted keys as Filebeat may send."""
    if dotted in doc:
        return doc[dotted]
    cur: Any = doc
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if not isinstance(cur, dict):
            return default
        if part in cur:
            cur = cur[part]
            continue
        rest = ".".join(parts[i:])
        return cur.get(rest, default)
    return cur


def set_path(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Write `a.b.c` into nested objects, creating the intermediate mappings."""
    parts = dotted.split(".")
    cur = doc
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested ECS document to flat dotted keys (lists of scalars stay lists)."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in flat.items():
        set_path(out, k, v)
    return out


def dumps(doc: Any) -> bytes:
    return orjson.dumps(doc)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
