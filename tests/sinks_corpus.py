"""A deterministic synthetic ECS corpus and a plain-Python reference evaluator of the query AST.

The evaluator is the oracle the embedded index is checked against: it implements the
documented semantics (docs/search.md) directly over the JSON documents, with no index.
"""
from __future__ import annotations

import fnmatch
import ipaddress
import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from logwarden.events import ECS_TOPIC, event_id, flatten
from logwarden.sinks.query import And, Cidr, Exists, Match, MatchAll, Not, Or, Range, Wildcard, datemath, fields

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

USERS = ["root", "admin", "Admin", "bob", "alice", "oracle", "test-user"]
IPS = ["10.0.0.5", "10.1.2.3", "192.168.1.20", "203.0.113.7", "198.51.100.23", "2001:db8::1", "fe80::42"]
PATHS = ["/", "/login", "/api/v1/items", "/static/app.js", "/wp-admin/setup.php", "/a b"]


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def corpus(n: int = 240, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        t = NOW - timedelta(seconds=37 * i)
        ip = rnd.choice(IPS)
        user = rnd.choice(USERS)
        if i % 3 == 0:
            code = rnd.choice([200, 200, 301, 404, 500, 503])
            path = rnd.choice(PATHS)
            line = f'{ip} - - [01/May/2024] "GET {path} HTTP/1.1" {code} {rnd.randint(0, 5000)}'
            doc = {"@timestamp": iso(t), "message": line,
                   "event": {"dataset": "nginx.access", "module": "nginx", "kind": "event", "category": ["web"],
                             "outcome": "success" if code < 400 else "failure", "original": line},
                   "http": {"request": {"method": "GET"}, "response": {"status_code": code, "body": {"bytes": rnd.randint(0, 5000)}}},
                   "url": {"original": path, "path": path}, "source": {"ip": ip}, "host": {"name": f"web-{i % 4}"},
                   "tags": ["web"] + (["prod"] if i % 2 else [])}
        else:
            ok = rnd.random() < 0.3
            port = rnd.randint(1024, 65535)
            msg = f"{'Accepted' if ok else 'Failed'} password for {user} from {ip} port {port} ssh2"
            doc = {"@timestamp": iso(t), "message": msg,
                   "event": {"dataset": "system.auth", "module": "system", "kind": "event", "category": ["authentication"],
                             "outcome": "success" if ok else "failure", "original": f"May  1 12:00:00 db1 sshd[{100 + i}]: {msg}"},
                   "process": {"name": "sshd", "pid": 100 + i}, "source": {"ip": ip, "port": port},
                   "user": {"name": user}, "host": {"name": f"db-{i % 2}"}, "tags": ["auth"]}
            if i % 7 == 0:
                del doc["user"]
            if i % 11 == 0:
                doc["process"]["name"] = "sudo"
                doc["error"] = {"message": "pam_unix(sudo:auth): authentication failure"}
        doc["event"]["id"] = event_id("corpus", i)
        doc["event"]["ingested"] = iso(t + timedelta(seconds=2))
        docs.append(doc)
    return docs


# -- reference evaluator -----------------------------------------------------------------

def _tokens(text: str) -> list[str]:
    return [t.lower() for t in re.findall(r"[^\W_]+", text) if len(t.encode()) <= 40]


def _leaves(doc: dict[str, Any], field: str) -> list[Any]:
    flat = flatten({k: v for k, v in doc.items()})
    out: list[Any] = []
    for key, value in flat.items():
        if key == field:
            out.extend(value if isinstance(value, list) else [value])
    return out


def _default_ip_match(doc: dict[str, Any], value: str) -> bool:
    """A bare address or network against the default IP fields, by address."""
    try:
        want: Any = ipaddress.ip_address(value)
    except ValueError:
        if "/" not in value:
            return False
        try:
            want = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
    for key, v in flatten(doc).items():
        if key in fields.DEFAULT_KEYWORD_FIELDS and fields.kind(key) == "ip" and isinstance(v, str):
            try:
                addr = ipaddress.ip_address(v)
            except ValueError:
                continue
            if (addr in want) if isinstance(want, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else addr == want:
                return True
    return False


def _strings(doc: dict[str, Any]) -> list[str]:
    """Values of the default keyword fields (docs/search.md: bare words); IP fields go by address."""
    out = []
    for key, value in flatten(doc).items():
        if key not in fields.DEFAULT_KEYWORD_FIELDS or fields.kind(key) == "ip":
            continue
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and len(v) <= 1024:
                out.append(v)
    return out


def _text_match(text: str, value: str, phrase: bool) -> bool:
    toks, want = _tokens(text), _tokens(value)
    if not want:
        return False
    if phrase and len(want) > 1:
        return any(toks[i:i + len(want)] == want for i in range(len(toks)))
    return all(w in toks for w in want)


def wildcard_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Lucene/ES wildcard (`*`, `?`, backslash escapes) as an anchored-by-fullmatch regex."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.S | flags)


def _num(x: str) -> float | None:
    try:
        return float(x)
    except ValueError:
        return None


def _in_range(v: Any, node: Range, now: datetime) -> bool:
    kind = fields.kind(node.field)
    lo, hi = node.lower, node.upper
    if kind == "date":
        if not isinstance(v, str):
            return False
        v = datemath.parse(v, now)
        lo = None if lo is None else datemath.parse(lo, now, round_up=not node.include_lower)
        hi = None if hi is None else datemath.parse(hi, now, round_up=node.include_upper)
    elif kind == "ip":
        try:
            v = ipaddress.ip_address(v)
        except ValueError:
            return False
        lo = None if lo is None else ipaddress.ip_address(lo)
        hi = None if hi is None else ipaddress.ip_address(hi)
        if (lo is not None and lo.version != v.version) or (hi is not None and hi.version != v.version):
            v = ipaddress.IPv6Address(int(v) + 0xFFFF00000000) if v.version == 4 else v  # v4 maps into v6 space
            lo = None if lo is None else (ipaddress.IPv6Address(int(lo) + 0xFFFF00000000) if lo.version == 4 else lo)
            hi = None if hi is None else (ipaddress.IPv6Address(int(hi) + 0xFFFF00000000) if hi.version == 4 else hi)
    elif all(b is None or _num(b) is not None for b in (lo, hi)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        lo = None if lo is None else _num(lo)
        hi = None if hi is None else _num(hi)
    else:
        if not isinstance(v, str):
            return False
    if lo is not None and (v < lo or (v == lo and not node.include_lower)):
        return False
    if hi is not None and (v > hi or (v == hi and not node.include_upper)):
        return False
    return True


def evaluate(node: Any, doc: dict[str, Any], now: datetime = NOW) -> bool:
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, And):
        return all(evaluate(c, doc, now) for c in node.children)
    if isinstance(node, Or):
        return any(evaluate(c, doc, now) for c in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, doc, now)
    if isinstance(node, Exists):
        if node.field == "@timestamp":
            return "@timestamp" in doc
        flat = flatten(doc)
        return any(k == node.field or k.startswith(node.field + ".") for k, v in flat.items() if v is not None)
    if isinstance(node, Match):
        if node.field is None:
            return (node.value in _strings(doc) or _default_ip_match(doc, node.value)
                    or _text_match(str(doc.get("message", "")), node.value, node.phrase))
        kind = fields.kind(node.field)
        leaves = _leaves(doc, node.field)
        if kind == "text":
            return any(isinstance(v, str) and _text_match(v, node.value, node.phrase) for v in leaves)
        if kind == "ip":
            return any(ipaddress.ip_address(v) == ipaddress.ip_address(node.value) for v in leaves)
        for v in leaves:
            if isinstance(v, bool):
                if node.value == str(v).lower():
                    return True
            elif isinstance(v, (int, float)):
                if _num(node.value) is not None and float(v) == _num(node.value):
                    return True
            elif v == node.value:
                return True
        return False
    if isinstance(node, Wildcard):
        rx = wildcard_regex(node.pattern)
        if node.field is None:
            return (any(rx.fullmatch(s) for s in _strings(doc))
                    or any(wildcard_regex(node.pattern.lower()).fullmatch(t) for t in _tokens(str(doc.get("message", "")))))
        leaves = _leaves(doc, node.field)
        if fields.kind(node.field) == "text":
            rx = wildcard_regex(node.pattern.lower())
            return any(rx.fullmatch(t) for v in leaves if isinstance(v, str) for t in _tokens(v))
        return any(isinstance(v, str) and rx.fullmatch(v) for v in leaves)
    if isinstance(node, Range):
        if node.field == "@timestamp":
            return _in_range(doc.get("@timestamp"), node, now)
        return any(_in_range(v, node, now) for v in _leaves(doc, node.field))
    if isinstance(node, Cidr):
        net = ipaddress.ip_network(node.network)
        out = False
        for v in _leaves(doc, node.field):
            try:
                out = out or ipaddress.ip_address(v) in net
            except ValueError:
                pass
        return out
    raise TypeError(node)


# Queries over the corpus, checked against the evaluator (unit) and across backends (integration).
QUERIES = [
    "*",
    "process.name:sshd",
    "process.name:SSHD",
    "sshd",
    "sudo",
    "password",
    "Failed",
    '"failed password"',
    '"password failed"',
    'message:"password for root"',
    "message:root",
    "user.name:admin",
    "user.name:Admin",
    "user.name:adm*",
    "user.name:?dmin",
    "user.name:*-*",
    "user.name:(root OR alice)",
    "process.name:sshd AND NOT event.outcome:success",
    "process.name:sshd -user.name:root",
    "NOT _exists_:user.name",
    "_exists_:user.name",
    "user.name:*",
    "_exists_:error.message",
    "_exists_:http",
    "error.message:authentication",
    'error.message:"authentication failure"',
    "http.response.status_code:404",
    "http.response.status_code>=500",
    "http.response.status_code:[301 TO 404}",
    "http.response.status_code:{301 TO *]",
    "http.response.status_code<300 OR http.response.status_code:503",
    "http.response.body.bytes:[100 TO 1000]",
    "source.port>60000",
    "process.pid:150",
    "source.ip:10.0.0.0/8",
    "NOT source.ip:10.0.0.0/8",
    "source.ip:192.168.0.0/16 OR source.ip:203.0.113.0/24",
    r"source.ip:2001\:db8\:\:/32",
    "source.ip:10.1.2.3",
    "source.ip:[10.0.0.0 TO 10.255.255.255]",
    "@timestamp>now-15m",
    "@timestamp>=now-1h AND @timestamp<now-30m",
    "@timestamp:[2024-05-01T11:00:00Z TO 2024-05-01T11:30:00Z]",
    "@timestamp:2024-05-01",
    "@timestamp<2024-05-01",
    "event.ingested>now-10m",
    "host.name:web-?",
    "host.name:db-0 OR host.name:web-1",
    "tags:prod",
    "tags:web AND NOT tags:prod",
    "url.path:/wp-admin/setup.php",
    'url.path:"/a b"',
    r"url.path:\/a\ b",
    "url.path:/api/*",
    "fail*",
    "pass?ord",
    "10.0.0.5",
    "web",
    "event.dataset:nginx.access AND http.response.status_code>=400",
    "(process.name:sshd OR process.name:sudo) AND source.ip:10.0.0.0/8 AND NOT user.name:root",
    "event.category:authentication",
    "user.name:[a TO c]",
    "user.name:{admin TO bob]",
]

__all__ = ["NOW", "QUERIES", "corpus", "evaluate", "fnmatch"]


def auth_event(i: int, **extra: Any) -> dict[str, Any]:
    """A small sshd event with id `id-<i>`, on 2024-05-01 or -02: the bulk sinks' tests' unit."""
    doc = {"@timestamp": f"2024-05-0{1 + i % 2}T10:00:{i % 60:02d}Z", "message": f"Failed password for root from 10.0.0.{i}",
           "event": {"id": f"id-{i}", "dataset": "system.auth"}, "process": {"name": "sshd", "pid": 100 + i},
           "source": {"ip": f"10.0.0.{i % 250}", "port": 40000 + i}}
    doc.update(extra)
    return doc


def records(docs: list[Any], topic: str = ECS_TOPIC) -> list[Any]:
    """Documents (or raw bytes) as consumed Kafka records, offsets from 0."""
    import orjson
    from confluent_kafka import Message

    return [Message(topic=topic, partition=0, offset=i, value=d if isinstance(d, bytes) else orjson.dumps(d))
            for i, d in enumerate(docs)]
