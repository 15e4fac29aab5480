"""The compiled fast path (parsers/fastpath.py) must write the document the generic engine
writes - same keys, values and types - for every envelope it accepts, and decline the rest.

Envelopes are built by the agent's own EnvelopeTemplate (the shape the fast path reads).
For each one: slow = Engine.parse(orjson.loads(envelope)); fast = FastPath(envelope); when
fast is not None, orjson.loads(fast) must equal slow apart from event.ingested.
Every test runs twice: with the C accelerator (parsers/_accel.c) and with its Python twin.
"""
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwarden.agents.envelope import EnvelopeTemplate
from logwarden.agents.splitter import Line
from logwarden.config import Config
from logwarden.parsers.config import ParsersConfig
from logwarden.parsers import fastpath
from logwarden.parsers.engine import Engine
from logwarden.parsers.fastpath import FastPath
from logwarden.parsers.service import ParserStage

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "logs" / "samples" / "apache_combined_10k.log"
AGENT = {"type": "logwarden", "version": "0.1.0", "id": "agent-1", "name": "web-1"}
LINE = '203.0.113.9 - alice [17/May/2015:10:05:03 +0000] "GET /a?b=1 HTTP/1.1" 200 203023 "http://ref/" "Mozilla/5.0 (X11)"'


def template(fmt: str | None = "nginx", *, path: str = "/var/log/nginx/access.log", tags: list[str] | None = None,
             fields: dict | None = None, host: dict | None = None) -> EnvelopeTemplate:
    f = dict(fields or {})
    if fmt is not None:
        f["log_format"] = fmt
    return EnvelopeTemplate(path=path, device_id="2049", inode="1048577", fingerprint="fp0", host=host or {"name": "web-1"},
                            agent=AGENT, fields=f, tags=tags)


def env(line: str | bytes, tpl: EnvelopeTemplate | None = None, offset: int = 0, flags: tuple[str, ...] = ()) -> bytes:
    data = line.encode() if isinstance(line, str) else line
    return (tpl or template()).build(Line(offset, offset + len(data) + 1, data, flags), b"2026-11-26T10:00:00.000Z")


def pair(engine: Engine, fast: FastPath, value: bytes) -> bool:
    """Assert fast == slow when the fast path answers; return whether it did."""
    out = fast(value, b"2026-11-26T10:00:00.000Z")
    if out is None:
        return False
    slow = engine.parse(orjson.loads(value))
    assert isinstance(slow, dict), (value, slow)
    doc = orjson.loads(out)
    assert doc["event"].pop("ingested") == "2026-11-26T10:00:00.000Z"
    slow["event"].pop("ingested")
    assert doc == slow, value
    return True


@pytest.fixture
def engine() -> Engine:
    return Engine(ParsersConfig(timezone="UTC"))


@pytest.fixture(scope="module", params=["c", "python"], autouse=True)
def implementation(request):
    """The document writer and tail check: C (when built) or the Python fallback."""
    if request.param == "python":
        with fastpath.python_twins():
            yield request.param
        return
    if not fastpath.ACCELERATED:
        pytest.skip("the C accelerator is not installed (no C compiler at install time)")
    yield request.param


def test_real_apache_log_identical(engine):
    fast = FastPath(engine)
    tpl = template(tags=["web", "edge"])
    lines = SAMPLE.read_bytes().splitlines()
    off, hits = 0, 0
    for line in lines:
        hits += pair(engine, fast, env(line, tpl, off))
        off += len(line) + 1
    # the 4 others: 3 referrers with non-ASCII text, 1 user agent without its closing quote
    assert hits >= len(lines) - 4


EDGE = [
    LINE,
    '2001:db8::1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/2.0" 404 - "-" "-"',
    'fe80::1%eth0 - - [17/May/2015:10:05:03 -0000] "POST /x HTTP/1.0" 500 0 "" ""',
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 512',  # common
    'web.example.com - bob [01/Jan/2016:00:00:00 +0000] "get /?a HTTP/1.1" 200 1 "-" "curl"',  # hostname, lower-case method
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET /q? HTTP/1.1" 302 999999999999999999 "-" "x"',  # 18 digits
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 9999999999999999999 "-" "x"',  # 19 digits
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 099 5 "-" "x"',
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET /" 200 5 "-" "x"',  # no HTTP version
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "-" 400 0 "-" "-"',  # bad request
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"',  # nginx escapes
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla \\"quoted\\" UA"',  # Apache \"
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "a"b"',
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "x" 0.005 "10.0.0.1"',  # extras
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "x" "198.51.100.7, 10.0.0.1"',  # XFF
    'www.example.com:443 203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',  # vhost
    '203.0.113.9 - - [17/May/2015:10:05:03 +0200] "GET / HTTP/1.1" 200 5 "-" "x"',  # other offset
    '203.0.113.9 - - [30/Feb/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',  # no such day
    '203.0.113.9 - - [31/Dec/2015:23:59:59 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',
    '203.0.113.9 - - [29/Feb/2016:24:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',  # hour 24
    '203.0.113.9 - - [17/Foo/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "tab\there"',
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "ctl\x01\x7f"',
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET /caf\u00e9 HTTP/1.1" 200 5 "-" "\u00fcber \u2028"',
    '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" \u0662\u0660\u0660 5 "-" "x"',  # Arabic digits
    '203.0.113.9 \u00a0 - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "x"',
    'garbage', '', '"', '\\',
]


@pytest.mark.parametrize("line", EDGE)
def test_edge_lines(engine, line):
    pair(engine, FastPath(engine), env(line))


def test_edge_lines_take_the_fast_path_where_they_should(engine):
    fast = FastPath(engine)
    took = [pair(engine, fast, env(line)) for line in EDGE]
    assert took[:6] == [True] * 6 and took[8] and took[18]
    # 7: a status with a leading zero needs int(); the generic path writes it
    assert not any(took[i] for i in (6, 7, 8 + 2, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25))


def test_non_utf8_bytes(engine):
    fast = FastPath(engine)
    # the agent replaces invalid UTF-8 (U+FFFD, non-ASCII: slow path); a foreign producer may not
    assert not pair(engine, fast, env(b'203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET /\xff HTTP/1.1" 200 5 "-" "x"'))
    raw = env(LINE).replace(b"Mozilla/5.0", b"Mozilla/5.0\xff")
    assert fast(raw, b"t") is None
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)


@pytest.mark.parametrize("fmt,module", [("nginx", "nginx"), ("apache", "apache"), ("httpd", "apache"), ("access", None)])
def test_formats_and_dataset(engine, fmt, module):
    fast = FastPath(engine)
    out = fast(env(LINE, template(fmt)), b"t")
    assert out is not None and pair(engine, fast, env(LINE, template(fmt)))
    assert orjson.loads(out)["event"].get("module") == module


def test_envelope_variants(engine):
    fast = FastPath(engine)
    # flags, tags, extra fields, unicode host names, offsets: still fast and identical
    assert pair(engine, fast, env(LINE, template(tags=["a"], fields={"env": "prod", "team": "caf\u00e9"}), 123456, ("multiline",)))
    assert pair(engine, fast, env(LINE, template(host={"name": "h\u00f6st", "os": {"family": "linux"}}), 10**17))
    # formats the fast path does not write: auto (no log_format), syslog, json
    for fmt in (None, "auto", "syslog", "json"):
        assert fast(env(LINE, template(fmt)), b"t") is None
    good = env(LINE, template(tags=["t"]))
    assert pair(engine, fast, good)
    # foreign shapes: Filebeat (no event.id, other key order), whitespace, extra keys, empty tags
    assert fast(orjson.dumps(orjson.loads(good)), b"t") is not None  # re-encoded: the same bytes
    assert fast(orjson.dumps(orjson.loads(good) | {"event": {"id": "x"}}), b"t") is None  # not the agent's id
    raw = orjson.loads(good)
    del raw["event"]
    assert fast(orjson.dumps(raw), b"t") is None
    assert fast(good.replace(b',"host":', b', "host":'), b"t") is None
    assert fast(good.replace(b'"tags":["', b'"source":{"ip":"10.0.0.1"},"tags":["'), b"t") is None
    assert fast(orjson.dumps(orjson.loads(good) | {"tags": []}), b"t") is None
    assert fast(good.replace(b'"input":{', b'"input":{"type":"x"},"input":{'), b"t") is None
    assert fast(good[:-5] + b'\\"}}', b"t") is None  # event.id must be plain text
    assert fast(good.replace(b'"offset":0', b'"offset":00'), b"t") is None


def test_pipelines_and_routes_take_the_slow_path():
    cfg = ParsersConfig(timezone="UTC", pipelines=[{"name": "shop", "match": {"path": ["/var/log/shop/*"]},
                                                    "processors": [{"type": "set", "field": "labels.app", "value": "shop"}]}])
    engine = Engine(cfg)
    fast = FastPath(engine)
    assert fast(env(LINE, template(path="/var/log/shop/access.log")), b"t") is None
    assert pair(engine, fast, env(LINE))  # other files: no pipeline applies
    routed = Engine(ParsersConfig(routes=[{"name": "e", "when": {"equals": {"event.outcome": "failure"}}, "topic": "x"}]))
    assert not FastPath(routed).enabled


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)  # anything, controls and quotes included
_ascii = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)  # printable, may hold " and \\


_safe = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'), max_size=40)
_word = _safe.filter(lambda t: t and " " not in t)


def _line_of(token, date, target, method, version, other_request, status, size, quoted, tail):
    request = st.one_of(st.builds(lambda m, t, v: f"{m} {t}{v}", method, target, version), other_request)
    return st.builds(lambda a, i, u, d, r, s, b, tail: f'{a} {i} {u} [{d}] "{r}" {s} {b}{tail}',
                     token, token, token, date, request, status, size, tail(quoted))


def _date(day, mon, hour, minute, off):
    return st.builds(lambda d, m, y, hh, mi, ss, o: f"{d:02d}/{m}/{y}:{hh:02d}:{mi:02d}:{ss:02d} {o}",
                     day, mon, st.integers(1970, 2039), hour, minute, minute, off)


# Well-formed lines of every shape the fast path writes: it must take each, and agree.
_CLEAN = _line_of(
    token=st.one_of(st.sampled_from(["-", "alice", "203.0.113.9", "2001:db8::7", "::1", "web-1.example.com"]), _word),
    date=_date(st.integers(1, 28), st.sampled_from(["Jan", "Feb", "Apr", "May", "Dec"]), st.integers(0, 23), st.integers(0, 59),
               st.sampled_from(["+0000", "-0000"])),
    target=st.one_of(st.sampled_from(["/", "/a?b=1&c", "/x?", "/?", "*"]), _word), method=st.sampled_from(["GET", "POST", "get", "PROPFIND"]),
    version=st.sampled_from(["", " HTTP/1.1", " HTTP/2", " HTTP/1.0"]), other_request=st.nothing(),
    status=st.integers(100, 999).map(str), size=st.one_of(st.integers(0, 10**18 - 1).map(str), st.just("-")),
    quoted=st.one_of(st.sampled_from(["-", "", "http://ref/?q=1"]), _safe),
    tail=lambda q: st.one_of(st.just(""), st.builds(lambda r, a: f' "{r}" "{a}"', q, q)))
# Anything near that: the fast path may decline, but what it writes must agree.
_ODD = _line_of(
    token=st.one_of(st.sampled_from(["-", "203.0.113.9", 'a"b', "a\\b", "\u00e9", "\t", ""]), _ascii, _text),
    date=_date(st.integers(0, 99), st.sampled_from(["Jan", "May", "may", "Xyz", "Ma"]), st.integers(0, 99), st.integers(0, 99),
               st.sampled_from(["+0000", "-0000", "+0100", "-0530", "Z", "+000"])),
    target=st.one_of(st.sampled_from(["/", "/?", "/\u00e9"]), _ascii, _text), method=st.sampled_from(["GET", "G3T", "", "get"]),
    version=st.sampled_from(["", " HTTP/1.1", " HTTP/1.0 ", " HTTP/11", " HTTP/\u0661"]),
    other_request=st.one_of(st.sampled_from(["-", "", "\\x16\\x03"]), _ascii, _text),
    status=st.one_of(st.integers(0, 999).map(lambda n: f"{n:03d}"), st.sampled_from(["20", "2000", "abc", "\u0662\u0660\u0660"])),
    size=st.one_of(st.integers(0, 10**19).map(str), st.sampled_from(["-", "0012", "1e3"])),
    quoted=st.one_of(_ascii, _text, st.just('say \\"hi\\"'), st.just("tab\there")),
    tail=lambda q: st.one_of(st.just(""), st.builds(lambda r, a: f' "{r}" "{a}"', q, q),
                             st.builds(lambda r, a, x: f' "{r}" "{a}" {x}', q, q, _ascii)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=_CLEAN, fmt=st.sampled_from(["nginx", "apache", "access"]), offset=st.integers(0, 10**18 - 1),
       tags=st.one_of(st.none(), st.lists(_text, min_size=1, max_size=2)))
def test_property_clean_lines_fast_and_equal(line, fmt, offset, tags):
    engine = Engine(ParsersConfig(timezone="UTC"))
    assert pair(engine, FastPath(engine), env(line, template(fmt, tags=tags), offset)), line


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=st.one_of(_ODD, _CLEAN, _text), fmt=st.sampled_from(["nginx", "apache", "access"]), offset=st.integers(0, 10**18),
       tags=st.one_of(st.none(), st.lists(_text, min_size=1, max_size=2)))
def test_property_fast_equals_slow(line, fmt, offset, tags):
    engine = Engine(ParsersConfig(timezone="UTC"))
    pair(engine, FastPath(engine), env(line, template(fmt, tags=tags), offset))


def test_stage_outputs_equal_with_and_without_fast_path():
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:300] + EDGE
    tpl = template(tags=["web"])
    values = [env(line, tpl, i * 1000) for i, line in enumerate(lines)] + [b"{broken"]
    msgs = [Message(topic="logs.raw", partition=0, offset=i, key=b"k%d" % i, value=v) for i, v in enumerate(values)]
    outs = {}
    for flag in (True, False):
        stage = ParserStage(Config.model_validate({"parsers": {"timezone": "UTC", "fast_path": flag}}))
        assert (stage.fast is not None) is flag
        outs[flag] = list(stage.process(msgs))
    assert [(o.topic, o.key) for o in outs[True]] == [(o.topic, o.key) for o in outs[False]]
    for a, b in zip(outs[True], outs[False]):
        da, db = orjson.loads(a.value), orjson.loads(b.value)
        for d in (da, db):
            d.get("event", {}).pop("ingested", None)
            d.pop("@timestamp", None) if d.get("event", {}).get("kind") == "pipeline_error" else None
        assert da == db


# sshd's login lines in RFC 3164 form ---------------------------------------------------------
SSHD_EDGE = [
    "Nov 26 10:01:02 web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port 52311 ssh2",
    "Nov  1 00:00:00 web-1 sshd[1]: Accepted publickey for alice from 2001:db8::1 port 22 ssh2: ED25519 SHA256:abc/+=",
    "Nov 26 10:01:02 web-1 sshd[4242]: Failed none for  from attacker.example.com port 99999",
    "Nov 26 10:01:02 web-1 sshd[4242]:Failed password for illegal user x from 1.2.3.4 port 1 ssh2",
    "Feb 28 10:01:02   h sshd[0]: Accepted password for root from 10.0.0.1 port 22 ssh",
    "Feb 30 10:01:02 web-1 sshd[4242]: Failed password for root from 10.0.0.1 port 22 ssh2",  # no such day
    "Nov 26 10:01:02.123 web-1 sshd[4242]: Failed password for root from 10.0.0.1 port 22 ssh2",  # fraction
    "<38>Nov 26 10:01:02 web-1 sshd[4242]: Failed password for root from 10.0.0.1 port 22 ssh2",  # PRI
    "Nov 26 10:01:02 web-1 sshd[4242]:  Failed password for root from 10.0.0.1 port 22 ssh2",  # two spaces
    "Nov 26 10:01:02 fe80::1 sshd[4242]: Failed password for root from 10.0.0.1 port 22 ssh2",
    "Nov 26 10:01:02 web-1 sshd[4242]: Failed password for ro\"ot from 10.0.0.1 port 22 ssh2",
    "Nov 26 10:01:02 web-1 sshd[4242]: Failed password for r\u00f6ot from 10.0.0.1 port 22 ssh2",
    "Nov 26 10:01:02 web-1 sshd[4242]: Failed password for root from 10.0.0.1 port 123456 ssh2",
    "Nov 26 10:01:02 web-1 sshd-session[4242]: Failed password for root from 10.0.0.1 port 22 ssh2",
    "Nov 26 10:01:02 web-1 sshd[]: Failed password for root from 10.0.0.1 port 22 ssh2",
    "Nov 26 10:01:02 web-1 sshd[4242]: Invalid user admin from 203.0.113.5 port 52311",
]


@pytest.mark.parametrize("fmt", ["sshd", "auth", "syslog"])
def test_sshd_edge_lines(fmt):
    engine = Engine(ParsersConfig(timezone="UTC"))
    fast = FastPath(engine)
    took = [pair(engine, fast, env(line, template(fmt, path="/var/log/auth.log"))) for line in SSHD_EDGE]
    assert took == [True] * 5 + [False] * 11


def test_sshd_host_variants_and_program_pipelines():
    engine = Engine(ParsersConfig(timezone="Europe/Berlin"))
    fast = FastPath(engine)
    line = SSHD_EDGE[0]
    assert pair(engine, fast, env(line, template("sshd", host={})))
    assert pair(engine, fast, env(line, template("sshd", host={"name": "n", "ip": ["10.0.0.9"]}, tags=["x"])))
    assert fast(env(line, template("sshd", host={"name": "n", "hostname": "old"})), b"t") is None
    piped = Engine(ParsersConfig(pipelines=[{"name": "s", "match": {"program": "sshd"}, "processors": [{"type": "set", "field": "a", "value": 1}]}]))
    assert FastPath(piped)(env(line, template("sshd")), b"t") is None


_SSHD_CLEAN = st.builds(
    lambda mon, day, hh, sp, host, pid, verb, method, inv, user, addr, port, proto, sig:
        f"{mon} {day:>2} {hh:02d}:{hh:02d}:{day:02d}{sp}{host} sshd[{pid}]: {verb} {method} for {inv}{user} from {addr} port {port}{proto}{sig}",
    st.sampled_from(["Jan", "Feb", "Nov", "Dec"]), st.integers(1, 28), st.integers(0, 23), st.sampled_from([" ", "  "]),
    st.one_of(st.sampled_from(["web-1", "10.0.0.2", "h"]), _word.filter(lambda w: not set(w) & set(":[]"))),
    st.integers(0, 10**18 - 1), st.sampled_from(["Accepted", "Failed"]), st.one_of(st.sampled_from(["password", "publickey", "none"]), _word),
    st.sampled_from(["", "invalid user ", "illegal user "]), st.one_of(st.just(""), st.sampled_from(["root", "admin"]), _word),
    st.one_of(st.sampled_from(["203.0.113.5", "2001:db8::1", "host.example"]), _word), st.integers(0, 99999),
    st.sampled_from(["", " ssh2", " ssh"]), st.one_of(st.just(""), _safe.map(lambda t: ": " + t)))
_SSHD_ODD = st.builds(lambda head, body: head + body,
                      st.one_of(st.sampled_from(["Nov 26 10:01:02 web-1 sshd[4242]: ", "<38>Nov 26 10:01:02 w sshd[1]: ",
                                                 "Nov 26 10:01:02 w sshd[1]:", "Nov 26 25:01:02 w sshd[1]: "]), _ascii),
                      st.one_of(_SSHD_CLEAN.map(lambda line: line.split(": ", 1)[1]), _ascii, _text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=_SSHD_CLEAN, fmt=st.sampled_from(["sshd", "auth", "syslog"]))
def test_property_sshd_clean_lines_fast_and_equal(line, fmt):
    engine = Engine(ParsersConfig(timezone="UTC"))
    # the agent's lines may hold anything after the colon; the pattern takes `: <sig>` as the signature
    assert pair(engine, FastPath(engine), env(line, template(fmt, path="/var/log/auth.log"))), line


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=st.one_of(_SSHD_ODD, _SSHD_CLEAN), fmt=st.sampled_from(["sshd", "auth", "syslog"]), tz=st.sampled_from(["UTC", "America/New_York"]))
def test_property_sshd_fast_equals_slow(line, fmt, tz):
    engine = Engine(ParsersConfig(timezone=tz))
    pair(engine, FastPath(engine), env(line, template(fmt, path="/var/log/auth.log")))


# parsers.geoip's default step: its answer spliced into `source` as bytes ---------------------
GEO_LINES = [
    LINE.replace("203.0.113.9", "81.2.69.160"),  # City and ASN records
    LINE.replace("203.0.113.9", "8.8.8.8"),  # ASN only
    LINE.replace("203.0.113.9", "2001:4860:4860::8888"),  # IPv6
    LINE.replace("203.0.113.9", "9.9.9.9"),  # in no database
    LINE,  # documentation range: skipped and tagged
    LINE.replace("203.0.113.9", "10.1.2.3"),  # private: skipped and tagged
    LINE.replace("203.0.113.9", "web.example.com"),  # no address at all
]


@pytest.fixture(scope="module")
def geo_files(tmp_path_factory):
    from geodb import write_databases

    return list(write_databases(tmp_path_factory.mktemp("geo")))


@pytest.mark.parametrize("private_tag", ["_geoip_private", None])
def test_geoip_default_step_fast_equals_slow(geo_files, private_tag):
    engine = Engine(ParsersConfig(timezone="UTC", geoip={"databases": geo_files, "private_tag": private_tag}))
    fast = FastPath(engine)
    assert fast.enabled and fast.geo is not None
    for tags in (None, ["web"], ["a", "b"]):
        tpl = template(tags=tags)
        assert all(pair(engine, fast, env(line, tpl)) for line in GEO_LINES), tags
    doc = orjson.loads(fast(env(GEO_LINES[0]), b"t"))
    assert doc["source"]["geo"]["country_iso_code"] == "GB" and doc["source"]["as"]["number"] == 20712
    doc = orjson.loads(fast(env(GEO_LINES[5], template(tags=["web"])), b"t"))
    assert doc["tags"] == (["web", "_geoip_private"] if private_tag else ["web"])
    for line in SSHD_EDGE[:5]:
        for line2 in (line, line.replace("203.0.113.5", "81.2.69.160").replace("1.2.3.4", "1.2.3.5")):
            for tags in (None, ["x"]):
                assert pair(engine, fast, env(line2, template("sshd", path="/var/log/auth.log", tags=tags))), line2
    if private_tag:  # an envelope already carrying the tag: the slow path (which does not add it twice)
        assert fast(env(GEO_LINES[5], template(tags=["_geoip_private"])), b"t") is None


def test_geoip_on_other_fields_turns_the_fast_path_off(geo_files):
    for other in (["source.address"], ["source.ip", "host.ip"]):  # fields the fast path's documents hold
        engine = Engine(ParsersConfig(geoip={"databases": geo_files, "fields": other}))
        assert not FastPath(engine).enabled
    engine = Engine(ParsersConfig(geoip={"databases": geo_files, "fields": ["destination.ip"]}))
    fast = FastPath(engine)
    assert fast.enabled and fast.geo is None


def test_geoip_real_apache_log_identical(geo_files, tmp_path):
    """The sample's own addresses, half of their /16s in a database (City for some, ASN for others)."""
    from geodb import city, write_databases

    addrs = sorted({line.split(" ", 1)[0] for line in SAMPLE.read_text(encoding="utf-8").splitlines()})
    nets = sorted({".".join(a.split(".")[:2]) + ".0.0/16" for a in addrs if a.count(".") == 3})[::2]
    files = write_databases(tmp_path, {n: city("DE", "Germany", "Berlin", "BE", "Berlin", 52.5, 13.4) for n in nets[::2]},
                            {n: (64500 + i, f"AS {i}") for i, n in enumerate(nets[1::2])})
    engine = Engine(ParsersConfig(timezone="UTC", geoip={"databases": list(files)}))
    fast = FastPath(engine)
    tpl = template(tags=["web"])
    hits = sum(pair(engine, fast, env(line, tpl)) for line in SAMPLE.read_bytes().splitlines())
    assert hits >= 9996
