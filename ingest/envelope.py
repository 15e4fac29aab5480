"""Raw envelopes for network input, and how their `event.id` is chosen.

Syslog (`input.type: syslog`)::

    {"@timestamp": <receive time>, "message": "<34>1 2026-... sshd 123 - - Failed ...",
     "log": {"source": {"address": "10.0.0.7:51234"}, "syslog": {"transport": "tcp"}, "flags"?: ["truncated"]},
     "host": {"name": <ingest host>}, "agent": {"type": "logwarden-ingest", ...},
     "input": {"type": "syslog"}, "fields": {"log_format": "syslog"}, "event": {"id": ...}}

The message is shipped as received (PRI included) for the syslog parser. The sender's
address goes to `log.source.address` as Filebeat's syslog/tcp/udp inputs do, not to
`source.ip`: in security events `source.ip` names the attacker the parser finds in the
line, and a relay's address there would mislead rules.

HTTP (`input.type: http`): a JSON object sent (an NDJSON line or a `_bulk` source) *is*
the envelope, as when Filebeat's Elasticsearch output points here: its `message`, `log`,
`host`, `agent`, `event.dataset`... are kept; `input.type`, `log.source.address`,
`fields.ingest_source` (the token's name) and the token's or request's `log_format`, fields
and tags are added. A JSON object without `message` keeps its own line as the message. A
line that is not a JSON object becomes `{"message": line}`.

event.id (logwarden.events.event_id of):

    syslog          ("syslog", transport, listen, receiver start id, connection no., message no.)
                    Syslog has no retries to collapse; the id only has to be unique and
                    stable for the envelope once produced.
    _bulk with _id  ("bulk", source, _index, _id)           - Elasticsearch's own semantics:
                                                              the same _id is the same document
    HTTP otherwise  ("http", source, request key, position)  request key = the Idempotency-Key
                    or X-Request-ID header when sent, else a blake2b hash of the request body.
                    A retried request (same body, or same key) therefore yields the same ids
                    and the index keeps one copy. Two deliberately identical bodies from one
                    source are indistinguishable from a retry: send a key to tell them apart.
    An `event.id` already inside a sent document is kept.
"""
from __future__ import annotations

from typing import Any

import orjson

from logwarden.events import event_id, now_iso

from .config import IngestToken


def _ensure_dict(doc: dict[str, Any], key: str) -> dict[str, Any]:
    v = doc.get(key)
    if not isinstance(v, dict):
        v = {}
        doc[key] = v
    return v


class Envelopes:
    def __init__(self, host_name: str, agent: dict[str, Any], syslog_format: str):
        self.host = {"name": host_name}
        self.agent = agent
        self.syslog_format = syslog_format

    def syslog_template(self, *, peer: str, transport: str) -> "SyslogTemplate":
        return SyslogTemplate(self, peer=peer, transport=transport)

    def syslog(self, message: bytes, *, peer: str, transport: str, eid: str, truncated: bool = False) -> bytes:
        log: dict[str, Any] = {"source": {"address": peer}, "syslog": {"transport": transport}}
        if truncated:
            log["flags"] = ["truncated"]
        return orjson.dumps({
            "@timestamp": now_iso(), "message": message.decode("utf-8", "replace"), "log": log,
            "host": self.host, "agent": self.agent, "input": {"type": "syslog"},
            "fields": {"log_format": self.syslog_format}, "event": {"id": eid},
        })

    def http(self, doc: dict[str, Any] | None, line: bytes, *, peer: str, source: IngestToken | None,
             log_format: str | None, eid: str, timestamp: str) -> bytes:
        if doc is None:
            parsed: Any = None
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                pass
            if isinstance(parsed, dict):
                doc = parsed
            else:
                doc = {"message": parsed if isinstance(parsed, str) else line.decode("utf-8", "replace")}
        if "message" not in doc:
            doc["message"] = line.decode("utf-8", "replace")
        doc.setdefault("@timestamp", timestamp)
        doc["input"] = {"type": "http"}
        _ensure_dict(_ensure_dict(doc, "log"), "source")["address"] = peer
        if "agent" not in doc:
            doc["agent"] = self.agent
        fields = _ensure_dict(doc, "fields")
        fmt = log_format or (source.format if source else None)
        if fmt:
            fields["log_format"] = fmt
        if source is not None:
            fields["ingest_source"] = source.name
            for k, v in source.fields.items():
                fields.setdefault(k, v)
            if source.tags:
                tags = doc.get("tags") if isinstance(doc.get("tags"), list) else []
                doc["tags"] = tags + [t for t in source.tags if t not in tags]
        ev = _ensure_dict(doc, "event")
        if not ev.get("id"):
            ev["id"] = eid
        return orjson.dumps(doc)


class SyslogTemplate:
    """Byte template for one connection's envelopes (the agent's technique, envelope.py there).

    Produces exactly what `Envelopes.syslog` produces, with the id prefix hashed once.
    """

    __slots__ = ("_fmt", "_fmt_cut", "_id_prefix")

    def __init__(self, env: Envelopes, *, peer: str, transport: str, listen: str = "", boot: str = "", conn: int = 0):
        import hashlib

        log = b'"log":' + orjson.dumps({"source": {"address": peer}, "syslog": {"transport": transport}})
        cut = log[:-1] + b',"flags":["truncated"]}'
        rest = orjson.dumps({"host": env.host, "agent": env.agent, "input": {"type": "syslog"},
                             "fields": {"log_format": env.syslog_format}})[1:-1]
        head = b'{"@timestamp":"%s","message":%s,'
        tail = (b"," + rest + b',"event":{"id":"').replace(b"%", b"%%") + b'%s"}}'
        self._fmt = head + log.replace(b"%", b"%%") + tail
        self._fmt_cut = head + cut.replace(b"%", b"%%") + tail
        h = hashlib.blake2b(digest_size=16)
        for part in ("syslog", transport, listen, boot, conn):
            h.update(str(part).encode("utf-8", "surrogatepass"))
            h.update(b"\x1f")
        self._id_prefix = h

    def build(self, message: bytes, position: int, timestamp: bytes, truncated: bool = False) -> bytes:
        h = self._id_prefix.copy()
        h.update(b"%d\x1f" % position)
        fmt = self._fmt_cut if truncated else self._fmt
        return fmt % (timestamp, orjson.dumps(message.decode("utf-8", "replace")), h.hexdigest().encode())


def syslog_id(transport: str, listen: str, boot: str, conn: int, position: int) -> str:
    return event_id("syslog", transport, listen, boot, conn, position)


def bulk_id(source: str, index: str, doc_id: str) -> str:
    return event_id("bulk", source, index, doc_id)


def http_id(source: str, request_key: str, position: int) -> str:
    return event_id("http", source, request_key, position)
