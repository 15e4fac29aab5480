"""The compiled fast path: agent envelope bytes in, ECS JSON bytes out, no dicts per event.

For nginx/Apache access lines and sshd's Accepted/Failed login lines (RFC 3164); every
other event (and anything unsure) returns None and takes the generic Engine path.

Why it exists. The generic stage path (envelope bytes -> orjson.loads -> Engine.parse ->
ECS dict -> orjson.dumps) spends most of its time building and (de)serialising dicts: the
loads of the ~650-byte envelope and the dumps of the ~1.7 KB document each cost about
as much as the line's regex match (docs/performance.md). The agent builds envelopes from
byte templates for the same reason (agents/envelope.py: 2.5x faster than dict + dumps), so the
stage can read them the same way:

1. Cheap checks of the agent's tail (`,"event":{"id":"<32 alphanumerics>"}}`) and of the
   per-file part (3. below), so envelopes of other files and formats cost no regex.
2. ONE anchored regex over the envelope bytes. It spells out the agent's layout
   (agents/envelope.py: `{"@timestamp":..,"message":..,"log":{"offset":N[,"flags":[..]],
   "file":{..}},"host":..,"agent":..,"input":..[,"fields":..][,"tags":..],"event":{"id":..}}`)
   and, in the message's place, the line's pattern rewritten for JSON-escaped text (a
   quote of the line is `\\"` there). Every class admits printable ASCII without quote or
   backslash, so the message's only escapes are the pattern's own `\\"`, every group is
   valid JSON string content equal to the line's text, and (no group holding a quote) the
   generic pattern splits the line the same way. Anything else - non-ASCII, escapes,
   controls, other time zones, extra fields - fails the match and goes the slow path.
3. The per-file part of the envelope (file, host, agent, input, fields, tags: everything
   between the offset and `event`) is a plan-cache key. The first envelope of a file is
   checked with a full `orjson.loads`: the keys must be the agent's, in its order, the
   cached bytes must equal their canonical re-encoding (no duplicates, no whitespace), the
   Engine must pick no pipeline for it and an access parser (nginx/apache/access) or a
   syslog parser (sshd/auth/syslog: then no program pipelines, no host.hostname in the
   envelope) from `fields.log_format`. The plan says "fast, with this parser" or "never".
4. The document is written from the groups, `log`..`tags` copied from the envelope
   verbatim (the slow path copies those objects unchanged; for sshd host.hostname is
   spliced into the host object), event.id the envelope's own (raw_event_id returns it),
   the time from the parsers' own converters (days cached), event.ingested read by the
   stage once per batch. With parsers.geoip, source's `geo`/`as` members come from the
   per-address cache as bytes (`_ip`), and a skipped (private...) address adds its tag to the
   carried tags (`_with_tag`), as the engine's default step would. For access lines the layout and the tail check of 1. are done by
   the C accelerator (_accel.c) when it was built, else by their Python twins here
   (_access_doc, _envelope_tail): the same bytes either way, at about 1.6x the speed.

The result is semantically identical to `orjson.dumps(Engine.parse(orjson.loads(env)))`
(same keys, values and types; key order may differ): tests/unit/parsers/test_fastpath.py
holds it to that with hypothesis, the 10k-line real Apache log and hand-picked edge lines,
with the accelerator and with its Python twins (tests/unit/parsers/test_accel.py compares
the two byte for byte).
Filebeat envelopes, ingest envelopes (no agent template), lines with escapes, extra
trailing fields, vhost lines, bad requests... all go the slow path.
"""
from __future__ import annotations

import gc
import re
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import orjson

from logwarden.events import Output

from .core import is_ip
from .geoip import SKIPPED
from .formats.access import AccessParser
from .formats.syslog import SyslogParser
from .timefmt import UTC, ClfConverter

if TYPE_CHECKING:
    from .engine import Engine

# The access pattern (formats/access.py: _CORE, first request alternative, no trailing
# extra fields) over the JSON-escaped bytes of the message, where a quote of the line
# reads \". Every class admits printable ASCII only, and no quote or backslash, so the
# only backslashes in a match are those literal \" pairs: the message is plain JSON
# string content whose one escape is \", no group holds a quote (which is what makes the
# generic pattern split the line the same way) and each group pastes into the output as
# it is. The time must be the usual UTC form; any other goes the slow path.
_S = rb'[!#-\[\]-~]'  # \S, printable ASCII without quote and backslash
_QJ = rb'\\"([ !#-\[\]-~]*)\\"'
_LINE_J = (
    rb"(" + _S + rb"+) " + _S + rb"+ (" + _S + rb"+) "
    rb"\[(\d\d/[A-Z][a-z][a-z]/\d{4}):((?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d) [+-]0000\] "
    rb'\\"([A-Za-z]+) (' + _S + rb'+)(?: HTTP/(\d(?:\.\d)?))?\\" '
    rb"([1-9]\d\d) (0|[1-9]\d{0,17}|-)"  # a leading zero needs int(): the slow path's
    rb"(?: " + _QJ + rb" " + _QJ + rb")?"
)
ENVELOPE_ACCESS = re.compile(
    rb'\{"@timestamp":"[ !#-\[\]-~]{0,64}","message":"(' + _LINE_J + rb')",'
    rb'"log":\{"offset":(?:0|[1-9][0-9]{0,17})(?:,"flags":\[(?:"[a-z_]{1,32}"(?:,"[a-z_]{1,32}"){0,7})?\])?,"file":\{'
)
_match = ENVELOPE_ACCESS.match
# RFC 3164 (formats/syslog.py: no PRI, BSD time without fraction, a hostname, `sshd[pid]: `)
# around sshd's login line (formats/auth.py: _SSH_LOGIN), the brute-force hot path; same
# classes as above, so a match is a message of printable ASCII without quote or backslash.
_H = rb"[!#-9;-Z^-~]"  # [^\s\[\]:] of the hostname and tag, in printable ASCII without quote and backslash
_LOGIN_J = (
    rb"([A-Z][a-z][a-z] [ \d]\d) ((?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d) +(" + _H + rb"+) sshd\[(\d{1,18})\]: ?"
    rb"((Accepted|Failed) (" + _S + rb"+) for (invalid user |illegal user )?(" + _S + rb"*) from (" + _S + rb"+) "
    rb"port (\d{1,5})(?: (ssh\d?))?(?:: ([ !#-\[\]-~]*))?)"
)
ENVELOPE_SSHD = re.compile(
    rb'\{"@timestamp":"[ !#-\[\]-~]{0,64}","message":"(' + _LOGIN_J + rb')",'
    rb'"log":\{"offset":(?:0|[1-9][0-9]{0,17})(?:,"flags":\[(?:"[a-z_]{1,32}"(?:,"[a-z_]{1,32}"){0,7})?\])?,"file":\{'
)
_match_sshd = ENVELOPE_SSHD.match
# ...and the rest by slicing: the envelope ends with exactly this, then 32 hex digits and "}}
_EVENT_AT = b',"event":{"id":"'
_ID_AT, _ID_END = len(_EVENT_AT), len(_EVENT_AT) + 32  # the event id after the tail's start
_TAIL = _ID_END + 3
# The access document (_access_doc; _accel.c writes the same layout in C).
_ACCESS_DOC = (b'{"@timestamp":"%sT%s.000Z","message":"%s","event":{"id":"%s","original":"%s","ingested":"%s",'
               b'"kind":"event","category":["web"],"type":["access"],"outcome":"%s"%s%s,'
               b'"source":{"address":"%s"%s}%s,"url":{%s},"http":{"request":{"method":"%s"%s}%s,'
               b'"response":{"status_code":%s%s}}%s}')



def _envelope_tail(value: bytes, mid: bytes) -> int:
    """Where `mid` starts, right before the agent's tail; -1: the tail but not `mid`; -2: no such
    tail (_accel.c has the same in C)."""
    j = len(value) - _TAIL
    if j <= 0 or not (value.startswith(_EVENT_AT, j) and value.endswith(b'"}}') and value[j + _ID_AT:-3].isalnum()):
        return -2
    e = j - len(mid)
    return e if e > 0 and value.startswith(mid, e) else -1


def _access_doc(g: tuple, value: bytes, start: int, j: int, day: bytes, ingested: bytes, plan: bytes, ip: bytes) -> bytes:
    """The access document: value[start:j] is "log":{...}...,"tags":[...], the event id follows j
    (_accel.c writes the same bytes in C)."""
    line, addr, user, _date, hms, method, target, version, status, size, referrer, agent = g
    q = target.find(b"?")
    return _ACCESS_DOC % (
        day, hms, line, value[j + _ID_AT:j + _ID_END], line, ingested, b"failure" if status[0] >= 52 else b"success", plan, value[start:j],
        addr, ip, b"" if user == b"-" else b',"user":{"name":"%s"}' % user,
        b'"original":"%s","path":"%s"' % (target, target) if q < 0 else
        b'"original":"%s","path":"%s","query":"%s"' % (target, target[:q], target[q + 1:]),
        method, b',"referrer":"%s"' % referrer if referrer and referrer != b"-" else b"",
        b',"version":"%s"' % version if version else b"",
        status, b"" if size == b"-" else b',"body":{"bytes":%s}' % size,
        b',"user_agent":{"original":"%s"}' % agent if agent and agent != b"-" else b"")


try:  # the same document from C (parsers/_accel.c), built at install time when a compiler was there
    from ._accel import access_doc, envelope_tail
    ACCELERATED = True
except ImportError:
    access_doc, envelope_tail = _access_doc, _envelope_tail
    ACCELERATED = False


@contextmanager
def python_twins() -> Iterator[None]:
    """Run the fast path on the Python twins instead of the accelerator (tests, bench/parse.py)."""
    global access_doc, envelope_tail
    saved = access_doc, envelope_tail
    access_doc, envelope_tail = _access_doc, _envelope_tail
    try:
        yield
    finally:
        access_doc, envelope_tail = saved

_ENVELOPE_KEYS = ("@timestamp", "message", "log", "host", "agent", "input", "fields", "tags", "event")
_CARRIED = ("host", "agent", "input", "fields", "tags")
_PLANS_MAX = 4096  # distinct files (per-file envelope parts) remembered
_DATES_MAX = 4096  # distinct days remembered
_IPS_MAX = 65536  # client addresses remembered (as core.is_ip does)
_NEVER = object()  # plan: this file's envelopes always take the slow path


class _Tagged(bytes):
    """A source member whose address parsers.geoip skipped (private...): the event gets the tag."""

    __slots__ = ()


# the fields the default geoip step may name while the fast path stays on: the fast path's
# documents hold source.ip only, so the others are absent there as in the slow path
_GEO_FIELDS_OK = frozenset(("source.ip", "destination.ip", "client.ip", "server.ip"))  # not host.ip: carried from the envelope


class _SshdPlan:
    __slots__ = ("bsd", "before", "after")

    def __init__(self, bsd: Any, before: bytes, after: bytes):
        self.bsd = bsd  # the syslog parser's own RFC 3164 converter (zone, year inference, cache)
        self.before = before  # ,"file":{...}},"host":{...,"hostname":"
        self.after = after  # "},"agent":...,"tags":[...]


class _One:
    """One envelope in the shape of a Message, for `FastPath.__call__`."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes):
        self._value = value

    def value(self) -> bytes:
        return self._value

    def key(self) -> None:
        return None


class FastPath:
    """`fast(envelope_bytes, ingested) -> ECS JSON bytes | None`; None means: use Engine.parse."""

    def __init__(self, engine: "Engine"):
        self.engine = engine
        self._plans: dict[bytes, Any] = {}  # per-file envelope part -> event tail bytes | _NEVER
        self._last_mid = b"\0"
        self._last_plan: Any = _NEVER
        self._dates: dict[bytes, bytes | None] = {}  # b"17/May/2015" -> b"2015-05-17" (None: no such day)
        self._clf = ClfConverter()
        self._hour = -1
        self._bsd_days: dict[bytes, bytes] = {}  # b"Nov 26" -> b"2026-11-26T" (UTC only; b"": no such day)
        self._ips: dict[bytes, bytes] = {}  # client address -> its source.ip member (or b"")
        self.enabled = not engine.routes and engine.format_override is None
        # parsers.geoip's default step: its answer per address is spliced into `source` as bytes,
        # cached with the ip member, so enrichment costs a dict probe per event here
        gcfg = engine.cfg.geoip
        self.geo = engine.geoip if engine.enrich and "source.ip" in gcfg.fields else None
        self.geo_tag = gcfg.private_tag if self.geo is not None else None
        self._geo_generation = self.geo.generation if self.geo is not None else 0
        if engine.enrich and not set(gcfg.fields) <= _GEO_FIELDS_OK:
            self.enabled = False  # a field the fast path writes (source.address...): let the engine do it

    def _plan(self, value: bytes, mid: bytes) -> Any:
        """Decide once per file whether its envelopes may take the fast path (see module doc)."""
        try:
            raw = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None  # this envelope is broken, not necessarily the file: no cache entry
        plan = self._decide(raw, mid)
        if len(self._plans) >= _PLANS_MAX:
            self._plans.clear()
        self._plans[mid] = plan
        return plan

    def _decide(self, raw: Any, mid: bytes) -> Any:
        if raw.__class__ is not dict or not raw.keys() <= set(_ENVELOPE_KEYS):
            return _NEVER
        if any(k not in raw for k in ("@timestamp", "message", "log", "host", "agent", "input", "event")):
            return _NEVER
        log, host, tags = raw["log"], raw["host"], raw.get("tags")
        if log.__class__ is not dict or list(log) not in (["offset", "file"], ["offset", "flags", "file"]):
            return _NEVER
        if log["file"].__class__ is not dict or host.__class__ is not dict:
            return _NEVER
        if "tags" in raw and (tags.__class__ is not list or not tags):  # slow path drops [] and wraps scalars
            return _NEVER
        if self.geo_tag and tags and (self.geo_tag in tags or any(t.__class__ is not str for t in tags)):
            return _NEVER  # the geoip tag is spliced into a list of plain strings that lacks it
        rest = {k: raw[k] for k in _CARRIED if k in raw}
        canonical = b',"file":' + orjson.dumps(log["file"]) + b"}," + orjson.dumps(rest)[1:-1]
        if canonical != mid or list(raw) != [k for k in _ENVELOPE_KEYS if k in raw]:
            return _NEVER
        eng = self.engine
        if eng._pre and eng._select(raw) is not None:
            return _NEVER  # a pipeline's processors apply: slow path
        parser = eng.parser(eng.format_name(raw, None), None)  # as Engine._run's hot path picks it
        if isinstance(parser, SyslogParser):
            # sshd lines: host.hostname joins the envelope's host object; a pipeline matched by
            # program (process.name) would run processors afterwards
            if eng._post or "hostname" in host:
                return _NEVER
            carried = orjson.dumps(rest)[1:-1]
            host_json = orjson.dumps({"host": host})[1:-2]  # "host":{... without its closing brace
            if not carried.startswith(host_json):
                return _NEVER
            return _SshdPlan(parser.bsd_time,
                             b',"file":' + orjson.dumps(log["file"]) + b"}," + host_json + (b',"hostname":"' if host else b'"hostname":"'),
                             b'"}' + carried[len(host_json) + 1:])
        if not isinstance(parser, AccessParser):
            return _NEVER
        # the slow path adds module/dataset when the parser names one and the envelope has none
        return (b',"module":"%s","dataset":"%s"},' % (parser.module.encode(), parser.dataset.encode())
                if parser.dataset else b"},")

    def new_batch(self) -> None:
        """Called by the stage per batch: RFC 3164 days carry an inferred year, which depends on
        today's date, so their cache is dropped every hour (as the converter's own per-timestamp
        cache is, by size, on a busy stream). After parsers.geoip reopened its files the cached
        source members (with their geo bytes) are dropped."""
        if self.geo is not None and self.geo.generation != self._geo_generation:
            self._geo_generation = self.geo.generation  # the databases were reloaded: new answers
            self._ips.clear()
        hour = int(time.time() // 3600)
        if hour != self._hour:
            self._hour = hour
            self._bsd_days.clear()

    def _ip(self, addr: bytes) -> bytes:
        """The `,"ip":...` member of source when the address is an IP (core.is_ip decides), with
        `,"geo":..,"as":..` when parsers.geoip knows it (a _Tagged member when it skipped it)."""
        if len(self._ips) >= _IPS_MAX:
            self._ips.clear()
        text = addr.decode()
        out = self._ips[addr] = b',"ip":"%s"' % addr + self._geo_member(text) if is_ip(text) else b""
        if self.geo_tag and self.geo is not None and self.geo.lookup(text) is SKIPPED and out:
            out = self._ips[addr] = _Tagged(out)
        return out

    def _geo_member(self, text: str) -> bytes:
        """`,"geo":{...},"as":{...}` of the default step's answer for an IP, or b""."""
        if self.geo is None:
            return b""
        ans = self.geo.lookup(text)
        if ans is None or ans is SKIPPED:
            return b""
        g, a = ans
        return (b',"geo":' + orjson.dumps(g) if g else b"") + (b',"as":' + orjson.dumps(a) if a else b"")

    def _with_tag(self, body: bytes, at: int) -> bytes:
        """`body` with the geoip tag added to the carried tags ending right before `at` (or a
        tags member there when the envelope had none): what the slow path's _tag does."""
        tag = orjson.dumps(self.geo_tag)
        if body[at - 1:at] == b"]":  # tags is the last carried member, a list of strings without the tag
            return body[:at - 1] + b"," + tag + body[at - 1:]
        return body[:at] + b',"tags":[' + tag + b"]" + body[at:]

    def _date(self, date: bytes) -> bytes | None:
        """The ISO date of a CLF day, as the access parser's converter writes it (None: no such day)."""
        iso = self._clf(date.decode() + ":00:00:00 +0000")
        if len(self._dates) >= _DATES_MAX:
            self._dates.clear()
        out = self._dates[date] = iso[:10].encode() if iso is not None else None
        return out

    def __call__(self, value: bytes, ingested: bytes) -> bytes | None:
        """The ECS document of one envelope, or None when the slow path must decide."""
        out = self.run((_One(value),), ingested, "")[0][0]
        return out.value if out.__class__ is Output else None

    def _plan_of(self, value: bytes, mid: bytes) -> Any:
        """The cached plan of a per-file part (None: this envelope is not even JSON)."""
        plan = self._plans.get(mid)
        return plan if plan is not None else self._plan(value, mid)

    def run(self, msgs: Iterable[Any], ingested: bytes, topic: str) -> tuple[list[Any], int]:
        """One Output(topic, document, key) per message, in order, or the message itself where
        the slow path must decide, and how many were left so; `msgs` are confluent_kafka
        Messages (`.value()`, `.key()`).
        `ingested` is event.ingested (the stage reads the Engine's clock once per batch).

        One loop per batch, the access path inline, because per event every Python-level
        call and attribute lookup costs about as much as a field of the document."""
        collecting = gc.isenabled()
        gc.disable()  # the loop makes no reference cycles: a collection would only walk this batch's outputs
        try:
            return self._run(msgs, ingested, topic)
        finally:
            if collecting:
                gc.enable()

    def _run(self, msgs: Iterable[Any], ingested: bytes, topic: str) -> tuple[list[Any], int]:
        out: list[Any] = []
        append = out.append
        match, match_sshd, tail = _match, _match_sshd, envelope_tail
        dates, ips = self._dates, self._ips
        last_mid, last_plan = self._last_mid, self._last_plan
        slow = 0
        for msg in msgs:
            value = msg.value()
            if value is None:
                append(msg)
                slow += 1
                continue
            # the agent's tail and this file's part first (cheap), so other envelopes cost no regex
            e = tail(value, last_mid)
            if e < 0:
                if e == -2:
                    append(msg)
                    slow += 1
                    continue
                j = len(value) - _TAIL
                e = value.find(b',"file":{')  # the first is log.file's: a JSON string holds no bare quote
                plan = self._plan_of(value, value[e:j]) if e > 0 else None
                if plan is None:
                    append(msg)
                    slow += 1
                    continue
                last_mid, last_plan = value[e:j], plan
            if last_plan.__class__ is bytes:
                m = match(value)
                if m is not None and m.end() == e + 9:
                    g = m.groups()  # line, addr, user, date, hms, method, target, version, status, size, referrer, agent
                    day = dates.get(g[3])
                    if day is None:
                        day = self._date(g[3])
                    if day is not None:
                        ip = ips.get(g[1])
                        if ip is None:
                            ip = self._ip(g[1])
                        # value[m.end(1) + 2:j]: "log":{...},"host":...,"tags":[...], as the slow path copies them
                        body = access_doc(g, value, m.end(1) + 2, e + len(last_mid), day, ingested, last_plan, ip)
                        if ip.__class__ is _Tagged:  # carried tags end right before source (no bare quote in a value)
                            body = self._with_tag(body, body.rfind(b',"source":{"address":"'))
                        append(Output(topic, body, msg.key()))
                        continue
            elif last_plan.__class__ is _SshdPlan:
                m = match_sshd(value)
                if m is not None and m.end() == e + 9:
                    j = e + len(last_mid)
                    body = self._sshd(m, value, value[j + _ID_AT:j + _ID_END], last_plan, ingested)
                    if body is not None:
                        append(Output(topic, body, msg.key()))
                        continue
            append(msg)
            slow += 1
        self._last_mid, self._last_plan = last_mid, last_plan
        return out, slow

    def _bsd_day(self, bsd: Any, date: bytes) -> bytes:
        """`2026-11-26T` for `Nov 26`, as the RFC 3164 converter dates it (b"": no such day).
        The year inference (timefmt.infer_year) depends on the day only, never the time."""
        iso = bsd(date.decode() + " 00:00:00")
        if len(self._bsd_days) >= _DATES_MAX:
            self._bsd_days.clear()
        out = self._bsd_days[date] = iso[:11].encode() if iso is not None else b""
        return out

    def _sshd(self, m: "re.Match[bytes]", value: bytes, eid: bytes, plan: _SshdPlan, ingested: bytes) -> bytes | None:
        """sshd's Accepted/Failed login line in an RFC 3164 line (formats/auth.py writes the same)."""
        original, date, hms, hostname, pid, msg, verb, method, invalid, user, addr, port, _proto, sig = m.groups()
        if plan.bsd.tz is UTC:  # the converter's own string assembly, with its year per day
            day = self._bsd_days.get(date)
            if day is None:
                day = self._bsd_day(plan.bsd, date)
                if not day:
                    return None
            iso = b"%s%s.000Z" % (day, hms)
        else:
            text = plan.bsd(f"{date.decode()} {hms.decode()}")
            if text is None:
                return None
            iso = text.encode()
        if verb == b"Accepted":
            ev = b'"category":["authentication","session"],"action":"accepted","outcome":"success"'
        else:
            ev = b'"category":["authentication"],"action":"failed","outcome":"failure"'
        ip = is_ip(addr.decode())
        if user:
            rel = b',"user":{"name":"%s"},"related":{"user":["%s"]%s}' % (user, user, b',"ip":["%s"]' % addr if ip else b"")
        else:
            rel = b',"related":{"ip":["%s"]}' % addr if ip else b""
        src = b'"address":"%s","%s":"%s","port":%d' % (addr, b"ip" if ip else b"domain", addr, int(port))
        after = plan.after
        if ip and self.geo is not None:
            member = self._ips.get(addr)
            if member is None:
                member = self._ip(addr)
            src += member[len(addr) + 8:]  # the geo/as part after `,"ip":"<addr>"`
            if member.__class__ is _Tagged:
                after = self._with_tag(after, len(after))
        ssh = b'"event":"%s","method":"%s"%s%s' % (verb, method, b',"signature":"%s"' % sig if sig else b"",
                                                  b',"invalid_user":true' if invalid else b"")
        return (b'{"@timestamp":"%s","message":"%s","event":{"id":"%s","original":"%s","ingested":"%s","kind":"event",%s,'
                b'"type":["info"],"module":"system","dataset":"system.auth"},%s%s%s%s,"process":{"name":"sshd","pid":%d}%s,'
                b'"source":{%s},"system":{"auth":{"ssh":{%s}}}}'
                % (iso, msg, eid, original, ingested, ev, value[m.end(1) + 2:m.end() - 9], plan.before, hostname, after,
                   int(pid), rel, src, ssh))
