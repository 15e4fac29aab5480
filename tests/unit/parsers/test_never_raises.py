"""Bad input never crashes the stage: every format returns a document or a ParseFailure,
for arbitrary text and for real lines with bytes cut out or changed (property tests)."""
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from logwarden.parsers.config import ParsersConfig
from logwarden.parsers.core import ParseFailure
from logwarden.parsers.engine import Engine
from logwarden.parsers.formats import FORMATS

from parsers_testlib import envelope

ENGINE = Engine(ParsersConfig(timezone="UTC"), now=datetime(2026, 11, 26, tzinfo=timezone.utc))
PIPELINED = Engine(ParsersConfig.model_validate({"timezone": "UTC", "pipelines": [
    {"name": "p", "match": {"path": ["/var/log/*.log"], "fields": {"team": "a"}, "dataset": "x", "input": "filestream"}, "format": "auto"},
    {"name": "q", "match": {"program": "sshd"}, "processors": [{"type": "set", "field": "labels.x", "value": 1}]},
], "routes": [{"name": "r", "when": {"network": {"source.ip": "private"}}, "topic": "t"}]}))
SEEDS = [
    "Nov 26 10:01:02 web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port 52311 ssh2",
    '<165>1 2003-10-11T22:14:15.003Z host app 12 ID47 [x@1 a="b\\"c"] msg',
    '203.0.113.9 - u [17/May/2015:10:05:03 +0200] "GET /a?b=1 HTTP/1.1" 404 512 "http://r/" "curl/8"',
    '2016/10/25 14:49:34 [error] 54053#0: *1 open() failed, client: 127.0.0.1, request: "GET / HTTP/1.1"',
    "[Wed Oct 11 14:32:52.1 2000] [core:error] [pid 1:tid 2] [client 192.0.2.1:5] AH00124: x",
    "type=SYSCALL msg=audit(1700000000.123:900): pid=1 uid=0 auid=1000 msg='op=x acct=\"r\" res=success' a0=2F62",
    "CEF:0|V|P|1|100|n|High|src=10.0.0.1 spt=1 rt=1700000000000 msg=a\\=b",
    "LEEF:2.0|V|P|1|41|x5E|src=10.0.1.8^devTime=Nov 26 2026 10:00:00^devTimeFormat=MMM dd yyyy HH:mm:ss",
    "2016-10-06T00:17:09.669794202Z stdout P x",
    '{"log":"x\\n","stream":"stdout","time":"2019-04-09T13:11:14Z"}',
    '{"EventID": 4688, "Channel": "Security", "NewProcessId": "0xZZ", "IpAddress": "::ffff:1.2.3.4", "IpPort": "x"}',
    'ts=2026-11-26T10:00:00Z level=info msg="a b" x.y=1 flag',
    '{"ts": "1700000000", "level": 3, "msg": ["x"], "host": "h", "event": "e", "log": {"a": 1}}',
]


def _check(line: str) -> None:
    for name in FORMATS:
        out = ENGINE.parse(envelope(line, fields={"log_format": name}))
        assert isinstance(out, (dict, ParseFailure)), (name, line, out)
        if isinstance(out, ParseFailure):
            assert out.reason and out.parser


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(line):
    _check(line)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SEEDS), st.integers(0, 200), st.integers(0, 40), st.text(max_size=8))
def test_mutated_real_lines(seed, at, cut, insert):
    at = at % (len(seed) + 1)
    _check(seed[:at] + insert + seed[at + cut:])


def test_seeds_parse_in_auto():
    for line in SEEDS:
        assert isinstance(ENGINE.parse(envelope(line)), dict), line


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) |  # orjson.loads turns bigger ones into floats
     st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["name", "path", "file", "offset", "inode", "syslog", "appname", "dataset", "timezone", "id", "log_format", "ip", "team", "type"]), inner, max_size=4),
    max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(SEEDS + ["x"]),
       st.dictionaries(st.sampled_from(["log", "host", "fields", "event", "tags", "source", "agent", "@timestamp", "input", "other"]), json_values, max_size=6))
def test_odd_envelopes(line, extra):
    import orjson
    raw = {"message": line, **extra}
    for engine in (ENGINE, PIPELINED):
        out = engine.parse(raw)
        assert isinstance(out, (dict, ParseFailure))
        if isinstance(out, dict):
            orjson.dumps(out)  # the stage can always serialise what it produced
            engine.topics(out)


def test_huge_numbers_never_reach_the_output():
    import orjson
    big, huge = "9" * 25, "9" * 5000
    lines = [
        f"Nov 26 10:01:02 web-1 sshd[{big}]: Failed password for root from 203.0.113.5 port {big} ssh2",
        f"<13>1 2026-11-26T10:00:00Z h app {big} - - x",
        f'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 {big} "-" "-"',
        f'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 {huge}',
        f"2016/10/25 14:49:34 [error] {big}#{big}: *{big} x",
        f"[Wed Oct 11 14:32:52 2000] [error] [pid {big}] [client 1.2.3.4:{big}] x",
        f"type=SYSCALL msg=audit({big}.1:{big}): pid={big} ppid={huge}",
        f"type=EXECVE msg=audit(1700000000.1:5): argc={big} a0=x",
        f"CEF:0|V|P|1|100|n|{big}|spt={big} rt={big} in={huge}",
        f"LEEF:1.0|V|P|1|41|sev={big}\tsrcPort={big}",
        f'{{"EventID": {big}, "Channel": "Security"}}',
        f'{{"EventID": 4688, "Channel": "Security", "NewProcessName": "x", "NewProcessId": "0x{big}", "IpAddress": "1.2.3.4", "IpPort": "{big}"}}',
    ]
    for line in lines:
        for name in FORMATS:
            out = ENGINE.parse(envelope(line, fields={"log_format": name}))
            if isinstance(out, dict):
                orjson.dumps(out)


def test_long_pathological_lines_are_linear():
    """Key=value scanners once retried from every character of a long run (quadratic: a 40 KB
    line took 25 s). A 200 KB run now parses at once; a quadratic regression would run for
    many minutes and trip the suite's timeout rather than pass."""
    from logwarden.parsers.processors import compile_dissect

    run = "1." * 100_000
    for name in ("kv", "logfmt", "auditd", "auto"):
        out = ENGINE.parse(envelope("x " + run + "=", fields={"log_format": name}))
        assert isinstance(out, (dict, ParseFailure))
    doc = ENGINE.parse(envelope("type=USER_AUTH msg=audit(1.0:1): msg='op=" + "a" * 200_000 + "'", fields={"log_format": "auditd"}))
    assert len(doc["auditd"]["log"]["op"]) == 200_000
    rx, _ = compile_dissect("%{a} %{b} %{c} %{d} %{e}")
    assert rx.match("x" * 200_000 + " y") is None
    kv = Engine(ParsersConfig.model_validate({"pipelines": [{"name": "kv", "format": "plain", "processors": [{"type": "kv"}]}]}))
    assert kv.parse(envelope(run + "=1"))["message"].startswith("1.1.")
