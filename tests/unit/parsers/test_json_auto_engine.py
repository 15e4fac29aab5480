"""JSON lines, auto detection, the engine's envelope handling, DLQ shape and the CLI."""
import orjson
from click.testing import CliRunner

from logwarden.events import raw_event_id
from logwarden.parsers.cli import parse as parse_cmd
from logwarden.parsers.config import ParsersConfig
from logwarden.parsers.core import ParseFailure
from logwarden.parsers.dlq import dlq_document
from logwarden.parsers.engine import Engine

from parsers_testlib import envelope

SSHD = "Nov 26 15:00:01 web1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port 52311 ssh2"
NGINX = '203.0.113.9 - - [26/Nov/2026:15:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.0"'


def test_json_lines(parse):
    doc = parse('{"ts": 1700000000123, "level": "WARN", "msg": "disk low", "host": "web1", "user": {"name": "bob"}, "event": {"id": "spoof", "action": "x"}}', "json")
    assert doc["@timestamp"] == "2023-11-14T22:13:20.123Z"
    assert doc["message"] == "disk low" and doc["log"]["level"] == "warn"
    assert doc["json"] == {"host": "web1"} and doc["host"]["name"] == "collector"
    assert doc["user"] == {"name": "bob"}
    assert doc["event"]["action"] == "x" and doc["event"]["id"] != "spoof"
    doc = parse('{"@timestamp": "2024-02-29T12:00:00+01:00", "message": "m"}', "json")
    assert doc["@timestamp"] == "2024-02-29T11:00:00.000Z"
    for bad in ('{"a": ', "[1, 2]", "plain"):
        r = parse(bad, "json")
        assert isinstance(r, ParseFailure) and r.parser == "json"


def test_auto_detects_each_shape(engine):
    cases = {
        SSHD: "syslog", NGINX: "access", '{"msg": "x"}': "json_auto",
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed": "syslog",
        "<165>1 2003-10-11T22:14:15.003Z host app - - - msg": "syslog",
        "2026-11-26T15:00:03Z web1 sshd[1]: Accepted password for a from 192.0.2.1 port 1 ssh2": "syslog",
        'www.example.com:80 203.0.113.9 - - [26/Nov/2026:15:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"': "access",
        '2016/10/25 14:49:34 [error] 54053#0: *1 open() failed, client: 127.0.0.1': "nginx_error",
        "[Wed Oct 11 14:32:52 2000] [error] [client 192.0.2.1] File does not exist: /x": "apache_error",
        "2016-10-06T00:17:09.669794202Z stderr F boom": "cri",
        "type=LOGIN msg=audit(1610903553.686:584): pid=1 uid=0 old-auid=4294967295 auid=1000": "auditd",
        "CEF:0|V|P|1|100|name|5|src=10.0.0.1": "cef",
        "LEEF:1.0|V|P|1|41|src=10.0.0.1\tdst=10.0.0.2": "leef",
        'level=info msg="started" port=8080': "logfmt",
        "user logged in user=bob src=203.0.113.5": "kv",
    }
    for line, fmt in cases.items():
        doc, trace = engine.explain(envelope(line))
        assert isinstance(doc, dict), (line, doc)
        producers = {who for _, who in trace if who != "envelope"}
        assert any(who.startswith(f"auto:{fmt}:") for who in producers), (line, producers)


def test_auto_sshd_and_nginx_fields(parse):
    doc = parse(SSHD)
    assert (doc["event"]["category"], doc["event"]["outcome"], doc["process"]["name"], doc["source"]["ip"], doc["user"]["name"]) == (
        ["authentication"], "failure", "sshd", "203.0.113.5", "admin")
    doc = parse(NGINX)
    assert doc["http"]["response"]["status_code"] == 200 and "dataset" not in doc["event"]
    r = Engine(ParsersConfig(timezone="UTC", unrecognized="dlq")).parse(envelope("§§ nothing recognisable"))
    assert isinstance(r, ParseFailure) and r.parser == "auto"


def test_envelope_identity_and_carry_over(engine):
    raw = envelope(NGINX, fields={"log_format": "nginx", "team": "web"}, tags=["edge"], event={"dataset": "nginx.access", "module": "nginx"})
    before = orjson.dumps(raw)
    doc = engine.parse(raw)
    assert orjson.dumps(raw) == before  # the envelope is never modified
    assert doc["event"]["id"] == raw_event_id(raw)
    assert doc["event"]["original"] == NGINX and doc["event"]["kind"] == "event"
    assert doc["event"]["ingested"].endswith("Z")
    assert doc["fields"] == {"log_format": "nginx", "team": "web"} and doc["tags"] == ["edge"]
    assert doc["log"]["file"]["path"] == "/var/log/test.log" and doc["log"]["offset"] == 100
    assert doc["agent"]["type"] == "logwarden" and doc["host"]["name"] == "collector"
    # the same envelope twice gives the same id (replays collapse in the index)
    assert engine.parse(dict(raw))["event"]["id"] == doc["event"]["id"]


def test_format_selection_order(engine):
    # Filebeat module dataset picks the parser when the envelope names no log_format
    doc = engine.parse(envelope(SSHD, event={"dataset": "system.auth", "module": "system"}))
    assert doc["event"]["dataset"] == "system.auth" and doc["event"]["outcome"] == "failure"
    r = engine.parse(envelope(NGINX, fields={"log_format": "ngnix"}))
    assert isinstance(r, ParseFailure) and "unknown log format 'ngnix'" in r.reason
    r = engine.parse(envelope(SSHD, fields={"log_format": "nginx"}))
    assert isinstance(r, ParseFailure) and r.parser == "nginx"


def test_bad_envelopes(engine):
    assert engine.parse([1]) == ParseFailure("envelope is not a JSON object", "envelope")
    assert engine.parse({"host": {"name": "x"}}).parser == "envelope"


def test_dlq_document_shape(engine):
    raw = envelope("garbage", fields={"log_format": "nginx"})
    r = engine.parse(raw)
    d = dlq_document(raw, r)
    assert d["event"] == {"id": raw_event_id(raw), "original": "garbage", "kind": "pipeline_error"}
    assert d["error"] == {"message": r.reason, "type": "nginx"}
    assert d["raw"] == raw and d["@timestamp"].endswith("Z")
    d = dlq_document("not json {", ParseFailure("invalid JSON", "envelope"), fallback_id=("logs.raw", 0, 17))
    assert d["raw"] == "not json {" and d["event"]["original"] == "not json {" and len(d["event"]["id"]) == 32


def test_on_unmatched_keep():
    eng = Engine(ParsersConfig(on_unmatched="keep"))
    doc = eng.parse(envelope("garbage", fields={"log_format": "nginx"}))
    assert doc["tags"] == ["_parsefailure"] and doc["error"]["type"] == "nginx" and doc["message"] == "garbage"


def test_cli_parse(tmp_path):
    f = tmp_path / "mixed.log"
    f.write_text(f"{NGINX}\nthis is garbage\n{SSHD}\n", encoding="utf-8")
    r = CliRunner().invoke(parse_cmd, [str(f)])  # click >= 8.2 keeps stderr apart
    assert r.exit_code == 0, r.output
    docs = [orjson.loads(x) for x in r.stdout.splitlines()]
    assert [d["log"]["offset"] for d in docs] == [0, len(NGINX) + 1 + len("this is garbage") + 1]
    assert docs[1]["process"]["name"] == "sshd"
    errs = [orjson.loads(x) for x in r.stderr.splitlines()]
    assert errs[0]["line"] == 2 and errs[0]["parser"] == "auto" and errs[0]["reason"]
    r = CliRunner().invoke(parse_cmd, ["--strict", "--format", "nginx", str(f)])
    assert r.exit_code == 1
    r = CliRunner().invoke(parse_cmd, ["--format", "nginx", "--explain", "-"], input=NGINX + "\n")
    assert r.exit_code == 0
    assert "http.response.status_code" in r.stdout and "<- nginx:access.combined" in r.stdout
    assert "log.offset" in r.stdout and "<- envelope" in r.stdout
    r = CliRunner().invoke(parse_cmd, ["--format", "nope", str(f)])
    assert r.exit_code == 2 and "unknown format" in r.output


def test_cli_pipeline_file_and_timezone(tmp_path):
    pipe = tmp_path / "shop.yml"
    pipe.write_text(
        "name: shop\nformat: plain\nprocessors:\n"
        "  - {type: dissect, pattern: '%{ts} %{+ts} %{log.level} %{msg}'}\n"
        "  - {type: timestamp, field: ts, formats: ['%Y-%m-%d %H:%M:%S'], remove_source: true}\n"
        "  - {type: drop, when: {equals: {log.level: DEBUG}}}\n", encoding="utf-8")
    lines = "2026-11-26 10:00:00 INFO started\n2026-11-26 10:00:01 DEBUG noise\nshort\n"
    r = CliRunner().invoke(parse_cmd, ["--pipeline", str(pipe), "--timezone", "+02:00"], input=lines)
    assert r.exit_code == 0, r.output
    docs = [orjson.loads(x) for x in r.stdout.splitlines()]
    assert len(docs) == 2  # DEBUG dropped on purpose; "short" does not fit the dissect pattern and is tagged
    assert docs[0]["@timestamp"] == "2026-11-26T08:00:00.000Z" and docs[0]["msg"] == "started"
    assert docs[1]["tags"] == ["_dissectfailure"] and r.stderr == ""
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\nprocessors:\n  - {type: rename, form: a, to: b}\n", encoding="utf-8")
    r = CliRunner().invoke(parse_cmd, ["--pipeline", str(bad)], input="x\n")
    assert r.exit_code == 1 and "bad.yml" in r.output and "form" in r.output


def test_cli_uses_the_config_files_parsers_section(tmp_path):
    cfg = tmp_path / "logwarden.yml"
    cfg.write_text("parsers:\n  timezone: '-02:00'\n  pipelines:\n    - name: tag\n      processors:\n"
                   "        - {type: rename, from: message, to: labels.text, when: {exists: [process.name]}}\n", encoding="utf-8")
    r = CliRunner().invoke(parse_cmd, ["-c", str(cfg), "--format", "syslog"], input="Nov 26 10:00:00 h cron[1]: job\n")
    assert r.exit_code == 0, r.output
    doc = orjson.loads(r.stdout)
    assert doc["@timestamp"].endswith("T12:00:00.000Z") and doc["labels"]["text"] == "job" and "message" not in doc
    cfg.write_text("parsers:\n  pipelines:\n    - name: x\n      processors:\n        - {type: nope}\n", encoding="utf-8")
    r = CliRunner().invoke(parse_cmd, ["-c", str(cfg)], input="x\n")
    assert r.exit_code == 2 and "logwarden.yml:5" in r.stderr


def test_auto_skips_a_byte_order_mark(parse):
    doc = parse("\ufeff" + NGINX)
    assert doc["http"]["response"]["status_code"] == 200 and doc["event"]["original"] == "\ufeff" + NGINX
