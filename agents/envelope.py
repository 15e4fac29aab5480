"""Raw envelopes on `logs.raw`, built from byte templates.

The envelope is Filebeat's Kafka output shape (see logwarden.events). Everything but the
message, the offset and the timestamp is the same for every line of a file, so it is
encoded once per file into two byte strings and each line costs one `orjson.dumps` of
its message plus concatenation: about 2.5x faster than building and dumping a dict per
line (measured when the envelope was designed: 145 vs 58 MiB/s). Layout, keys in this order::

    {"@timestamp":"<ts>","message":<json string>,"log":{"offset":<n>[,"flags":[...]],
     "file":{"path":...,"device_id":...,"inode":...,"fingerprint":...}},
     "host":{...},"agent":{...},"input":{"type":"filestream"},"fields":{...},"tags":[...],
     "event":{"id":"<hex>"}}

`event.id` = logwarden.events.event_id(host.name, "device:inode", fingerprint, offset):
the identity of the line, not its content, so a line re-shipped after a crash carries the
same id and the index keeps one document. The fingerprint (see identity.py) keeps a
copytruncate'd or inode-reusing file's lines apart from the old file's at equal offsets.
The hash of the constant prefix is computed once and copied per line.
"""
from __future__ import annotations

import hashlib
from typing import Any

import orjson

from .multiline import Record


def _inner(obj: Any) -> bytes:
    """JSON of a mapping without its braces, to splice into a template."""
    return orjson.dumps(obj)[1:-1]


class EnvelopeTemplate:
    __slots__ = ("_fmt", "_id_prefix", "_flags")

    def __init__(self, *, path: str, device_id: str, inode: str, fingerprint: str, host: dict[str, Any],
                 agent: dict[str, Any], input_type: str = "filestream", fields: dict[str, Any] | None = None,
                 tags: list[str] | None = None):
        file = b'"file":' + orjson.dumps({"path": path, "device_id": device_id, "inode": inode, "fingerprint": fingerprint}) + b"},"
        rest: dict[str, Any] = {"host": host, "agent": agent, "input": {"type": input_type}}
        if fields:
            rest["fields"] = fields
        if tags:
            rest["tags"] = tags
        tail = _inner(rest) + b',"event":{"id":"'
        # One bytes %-format per line (a single C call); constant parts have '%' escaped.
        self._fmt = (b'{"@timestamp":"%s","message":%s,"log":{"offset":%d%s,' + file.replace(b"%", b"%%")
                     + tail.replace(b"%", b"%%") + b'%s"}}')
        h = hashlib.blake2b(digest_size=16)
        for part in (host.get("name", ""), f"{device_id}:{inode}", fingerprint):
            h.update(str(part).encode("utf-8", "surrogatepass"))
            h.update(b"\x1f")
        self._id_prefix = h
        self._flags: dict[tuple[str, ...], bytes] = {}

    def event_id(self, offset: int) -> str:
        h = self._id_prefix.copy()
        h.update(b"%d\x1f" % offset)
        return h.hexdigest()

    def build(self, rec: Record, timestamp: bytes) -> bytes:
        """One envelope; `timestamp` is the ISO8601 read time as bytes (shared by a batch)."""
        off = rec.offset
        h = self._id_prefix.copy()
        h.update(b"%d\x1f" % off)
        flags = b""
        if rec.flags:
            key = tuple(rec.flags)
            flags = self._flags.get(key) or self._flags.setdefault(key, b',"flags":' + orjson.dumps(key))
        return self._fmt % (timestamp, orjson.dumps(rec.data.decode("utf-8", "replace")), off, flags, h.hexdigest().encode())
