"""Pipelines: selection, processors, grok, conditions, routes; config errors that say where."""
import pytest
from pydantic import ValidationError

from logwarden.config import ConfigError, validate
from logwarden.parsers.conditions import ConditionConfig, compile_condition
from logwarden.parsers.config import ParsersConfig
from logwarden.parsers.core import ParseFailure
from logwarden.parsers.engine import Engine
from logwarden.parsers.grok import Grok, GrokError, library
from logwarden.parsers.processors import compile_dissect

from parsers_testlib import NOW, envelope

SHOP = '2026-11-26 10:00:00,123 WARN [cart] user=bob ip=203.0.113.5 msg="slow checkout" took=1200ms'


def engine(**parsers) -> Engine:
    return Engine(ParsersConfig.model_validate({"timezone": "UTC", **parsers}), now=NOW)


def test_grok_pipeline_with_user_patterns_and_types():
    e = engine(patterns={"SHOPLEVEL": "(?:WARN|INFO|ERROR)"}, pipelines=[{
        "name": "shop", "match": {"path": ["/var/log/shop/*.log"]}, "format": "plain",
        "processors": [
            {"type": "grok", "patterns": [r"%{TIMESTAMP_ISO8601:ts} %{SHOPLEVEL:log.level} \[%{WORD:shop.module}\] %{GREEDYDATA:rest}"]},
            {"type": "timestamp", "field": "ts", "formats": ["%Y-%m-%d %H:%M:%S,%f"], "timezone": "Europe/Berlin", "remove_source": True},
            {"type": "kv", "field": "rest", "target_prefix": "shop."},
            {"type": "rename", "from": "shop.user", "to": "user.name"},
            {"type": "convert", "fields": {"shop.ip": "ip", "shop.took": "integer"}},
            {"type": "remove", "fields": ["rest"]},
            {"type": "set", "field": "event.category", "value": ["web"]},
        ]}])
    raw = envelope(SHOP, log={"file": {"path": "/var/log/shop/app.log"}, "offset": 0})
    doc, trace = e.explain(raw)
    assert doc["@timestamp"] == "2026-11-26T09:00:00.123Z"
    assert doc["log"]["level"] == "WARN" and doc["shop"]["module"] == "cart" and doc["user"]["name"] == "bob"
    assert doc["shop"]["ip"] == "203.0.113.5" and doc["shop"]["msg"] == "slow checkout"
    assert "took" not in doc["shop"] and doc["tags"] == ["_convertfailure"]  # "1200ms" is no integer
    assert "ts" not in doc and "rest" not in doc and doc["event"]["category"] == ["web"]
    who = dict(trace)
    assert who["shop.module"] == "pipeline shop processors[0] grok" and who["user.name"] == "pipeline shop processors[3] rename"
    # the same pipeline does not apply to other paths: auto parses those
    other = e.parse(envelope(SHOP, log={"file": {"path": "/var/log/other.log"}, "offset": 0}))
    assert "shop" not in other


def test_grok_no_match_goes_to_dlq_with_pipeline_name():
    e = engine(pipelines=[{"name": "strict", "format": "plain",
                           "processors": [{"type": "grok", "patterns": ["%{IP:source.ip} %{INT:n:int}$"]}]}])
    ok = e.parse(envelope("10.1.2.3 42"))
    assert ok["source"]["ip"] == "10.1.2.3" and ok["n"] == 42
    r = e.parse(envelope("not an ip 42"))
    assert isinstance(r, ParseFailure) and r.parser == "strict/grok"


def test_grok_compiler():
    g = Grok(["%{IPORHOST:client} %{WORD:verb}$", "%{INT:code:int} %{GREEDYDATA:[log][msg]}"])
    assert g.match("example.org GET") == (0, {"client": "example.org", "verb": "GET"})
    assert g.match("404 not found") == (1, {"code": 404, "log.msg": "not found"})
    assert g.match("!!!") is None
    assert Grok(["%{COMBINEDACCESS}"]).match('1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "curl"')[1]["http.response.status_code"] == 200
    for bad, msg in (("%{NOPE:x}", "unknown grok pattern"), ("%{INT:x:weird}", "unknown grok type"), ("%{A}", "cycle")):
        with pytest.raises(GrokError, match=msg):
            Grok([bad], {"A": "%{B}", "B": "%{A}"})
    assert len(library()) > 40


def test_dissect_drop_truncate_useragent_parse():
    e = engine(pipelines=[{"name": "p", "format": "plain", "processors": [
        {"type": "dissect", "pattern": "%{client.ip} [%{?ts}] %{http.request.method} %{url.original} %{ua}"},
        {"type": "drop", "when": {"equals": {"http.request.method": "HEAD"}}},
        {"type": "truncate", "fields": ["url.original"], "max_chars": 5},
        {"type": "rename", "from": "ua", "to": "user_agent.original"},
        {"type": "user_agent"},
    ]}])
    doc = e.parse(envelope("10.0.0.1 [x y] GET /very/long Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"))
    assert doc["client"]["ip"] == "10.0.0.1" and "ts" not in doc
    assert doc["url"]["original"] == "/very" and doc["log"]["flags"] == ["truncated"]
    assert doc["user_agent"]["name"] == "Firefox" and doc["user_agent"]["version"].startswith("128")
    assert doc["user_agent"]["os"]["name"] == "Linux"
    assert e.parse(envelope("10.0.0.1 [x] HEAD / curl")) is None  # dropped on purpose
    rx, keys = compile_dissect("%{a->} %{b}")
    assert rx.match("x     y").groups() == ("x", "y") and keys == [("a", False), ("b", False)]


def test_parse_processor_on_container_message():
    e = engine(pipelines=[{"name": "k8s-nginx", "match": {"path": ["/var/log/pods/*/nginx/*.log"]}, "format": "cri",
                           "processors": [{"type": "parse", "format": "nginx", "if_no_match": "tag"}]}])
    line = '2026-11-26T10:00:00.5Z stdout F 10.0.0.9 - - [26/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 500 1 "-" "curl"'
    doc = e.parse(envelope(line, log={"file": {"path": "/var/log/pods/ns_web_u1/nginx/0.log"}, "offset": 0}))
    assert doc["http"]["response"]["status_code"] == 500 and doc["kubernetes"]["namespace"] == "ns" and doc["event"]["outcome"] == "failure"


def test_program_pipeline_runs_after_parsing():
    e = engine(pipelines=[{"name": "tag-sshd", "match": {"program": "sshd"}, "processors": [{"type": "set", "field": "labels.team", "value": "sec"}]}])
    doc = e.parse(envelope("Nov 26 10:00:00 h sshd[1]: Accepted password for a from 192.0.2.1 port 2 ssh2"))
    assert doc["labels"] == {"team": "sec"}
    assert "labels" not in e.parse(envelope("Nov 26 10:00:00 h cron[1]: x"))
    with pytest.raises(ValidationError, match="cannot set `format`"):
        ParsersConfig.model_validate({"pipelines": [{"name": "x", "match": {"program": "sshd"}, "format": "syslog"}]})


def test_selection_by_fields_and_dataset():
    e = engine(pipelines=[
        {"name": "a", "match": {"fields": {"team": "pay"}}, "processors": [{"type": "set", "field": "labels.p", "value": "a"}]},
        {"name": "b", "match": {"dataset": "nginx.access"}, "processors": [{"type": "set", "field": "labels.p", "value": "b"}]},
    ])
    line = '1.2.3.4 - - [26/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1'
    assert e.parse(envelope(line, fields={"team": "pay"}))["labels"]["p"] == "a"
    assert e.parse(envelope(line, event={"dataset": "nginx.access"}))["labels"]["p"] == "b"
    assert "labels" not in e.parse(envelope(line))


def test_conditions():
    doc = {"event": {"category": ["authentication"], "outcome": "failure"}, "source": {"ip": "10.1.2.3", "port": 22},
           "user": {"name": "root"}, "message": "Failed password"}
    cases = [
        ({"equals": {"event.category": "authentication"}}, True),
        ({"equals": {"event.outcome": "success"}}, False),
        ({"contains": {"message": "password"}}, True),
        ({"regexp": {"user.name": "^ro+t$"}}, True),
        ({"exists": ["source.ip"]}, True),
        ({"exists": ["destination.ip"]}, False),
        ({"network": {"source.ip": "private"}}, True),
        ({"network": {"source.ip": ["192.168.0.0/16"]}}, False),
        ({"range": {"source.port": {"gte": 1, "lt": 1024}}}, True),
        ({"and": [{"exists": ["user.name"]}, {"not": {"equals": {"user.name": "admin"}}}]}, True),
        ({"or": [{"equals": {"user.name": "x"}}, {"equals": {"user.name": "y"}}]}, False),
    ]
    for spec, want in cases:
        assert compile_condition(ConditionConfig.model_validate(spec))(doc) is want, spec
    with pytest.raises(ValueError, match="empty condition"):
        compile_condition(ConditionConfig())


def test_routes():
    e = engine(routes=[
        {"name": "auth", "when": {"equals": {"event.category": "authentication"}}, "topic": "logs.auth"},
        {"name": "web-errors", "when": {"range": {"http.response.status_code": {"gte": 500}}}, "topic": "logs.web5xx", "keep_in_default": False},
    ])
    sshd = e.parse(envelope("Nov 26 10:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 2 ssh2"))
    assert e.topics(sshd) == ["logs.ecs", "logs.auth"]
    err = e.parse(envelope('1.2.3.4 - - [26/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 503 1'))
    assert e.topics(err) == ["logs.web5xx"]
    ok = e.parse(envelope('1.2.3.4 - - [26/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1'))
    assert e.topics(ok) == ["logs.ecs"]


def test_config_errors_name_file_and_line(tmp_path):
    import yaml
    text = "parsers:\n  pipelines:\n    - name: x\n      processors:\n        - type: rename\n          form: a\n          to: b\n"
    with pytest.raises(ConfigError) as exc:
        validate(yaml.safe_load(text), "logwarden.yml", yaml.compose(text))
    assert "logwarden.yml:" in str(exc.value) and "form" in str(exc.value)
    with pytest.raises(ValidationError, match="unknown time zone"):
        ParsersConfig(timezone="Mars/Base")
    with pytest.raises(ValidationError, match="unknown format"):
        ParsersConfig.model_validate({"pipelines": [{"name": "x", "processors": [{"type": "parse", "format": "nope"}]}]})
    with pytest.raises(ValueError, match="unknown format 'nope'"):
        engine(default_format="nope")


def test_pattern_files_and_their_errors(tmp_path):
    from logwarden.parsers.grok import GrokError

    f = tmp_path / "shop.grok"
    f.write_text("# shop patterns\nORDERID ORD-%{INT}\nSHOPLINE %{ORDERID:shop.order} %{WORD:shop.state}\n", encoding="utf-8")
    e = engine(pattern_files=[str(f)], pipelines=[{"name": "s", "format": "plain",
                                                   "processors": [{"type": "grok", "patterns": ["%{SHOPLINE}$"]}]}])
    doc = e.parse(envelope("ORD-42 shipped"))
    assert doc["shop"] == {"order": "ORD-42", "state": "shipped"}
    bad = tmp_path / "bad.grok"
    bad.write_text("ORDERID\n", encoding="utf-8")
    with pytest.raises(GrokError, match="bad.grok:1"):
        Engine(ParsersConfig.model_construct(**{**ParsersConfig().__dict__, "pattern_files": [str(bad)]}))
    with pytest.raises(ValidationError, match="bad.grok:1"):  # and `logwarden config check` reports it
        engine(pattern_files=[str(bad)])


def test_config_check_compiles_grok_and_regexes():
    import yaml
    cases = {
        "parsers:\n  routes:\n    - name: r\n      when: {regexp: {message: '([a-z'}}\n      topic: t\n":
            "logwarden.yml:4: parsers.routes[0].when.regexp",
        "parsers:\n  pattern_files: [/nonexistent/x.grok]\n": "cannot read /nonexistent/x.grok",
        "parsers:\n  pipelines:\n    - name: g\n      processors:\n        - {type: grok, patterns: ['%{NOPE:x}']}\n":
            "unknown grok pattern %{NOPE}",
    }
    for text, want in cases.items():
        with pytest.raises(ConfigError) as exc:
            validate(yaml.safe_load(text), "logwarden.yml", yaml.compose(text))
        assert want in str(exc.value), str(exc.value)


def test_a_condition_regex_re2_cannot_run_is_refused_with_the_reason():
    """issue 18: a route's `regexp` ran on the stdlib engine; a look-around or back-reference
    is now refused at config check, and the others run on RE2."""
    import yaml
    text = "parsers:\n  routes:\n    - name: r\n      when: {regexp: {message: '(\\\\w)\\\\1|(?=x)'}}\n      topic: t\n"
    with pytest.raises(ConfigError) as exc:
        validate(yaml.safe_load(text), "logwarden.yml", yaml.compose(text))
    assert "logwarden.yml:4: parsers.routes[0].when.regexp" in str(exc.value) and "RE2" in str(exc.value)
