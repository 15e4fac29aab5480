"""`logwarden rules check` and `logwarden rules test`, run through click as a user would."""
from pathlib import Path

import orjson
from click.testing import CliRunner

from logwarden.rules.cli import rules
from logwarden.rules.ruleset import BUNDLED_DIR

DATA = Path(__file__).resolve().parents[2] / "data" / "sigma"


def ssh_failure(i: int, ip: str = "203.0.113.5", second: int | None = None) -> dict:
    sec = 10 + i if second is None else second
    return {"@timestamp": f"2026-11-26T10:00:{sec:02d}Z",
            "message": f"Failed password for invalid user admin from {ip} port {40000 + i} ssh2",
            "event": {"kind": "event", "category": ["authentication"], "type": ["start"], "outcome": "failure"},
            "process": {"name": "sshd", "pid": 4242}, "source": {"ip": ip, "port": 40000 + i},
            "user": {"name": "admin"}, "host": {"name": "web-1"}}


def write(path: Path, docs: list) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


def test_check_reports_counts_and_errors(tmp_path):
    (tmp_path / "bad.yml").write_text("title: x\nlogsource: {}\ndetection:\n  sel: {a|nope: 1}\n  condition: sel\n")
    res = CliRunner().invoke(rules, ["check", str(DATA / "rules"), str(tmp_path)])
    assert res.exit_code == 1
    assert "308 rules loaded" in res.output and "1 errors" in res.output
    assert f"{tmp_path / 'bad.yml'}:4: sel: a|nope: unknown modifier 'nope'" in res.output
    res = CliRunner().invoke(rules, ["check", "--json", str(BUNDLED_DIR)])
    assert res.exit_code == 0
    out = orjson.loads(res.output)
    assert out["rules"] == 1 and out["correlations"] == 1 and out["errors"] == 0


def test_test_prints_one_line_per_match(tmp_path):
    rule = tmp_path / "r.yml"
    rule.write_text("title: Curl to pastebin\nid: c1\nlevel: medium\nlogsource: {product: linux, category: process_creation}\n"
                    "detection:\n  sel:\n    Image|endswith: /curl\n    CommandLine|contains: pastebin\n  condition: sel\n")
    proc = {"event": {"category": ["process"], "type": ["start"]}, "process": {"executable": "/usr/bin/curl",
            "command_line": "curl https://pastebin.com/raw/x"}}
    events = write(tmp_path / "e.ndjson", [{"message": "nothing"}, proc, {"message": "x"}, proc])
    res = CliRunner().invoke(rules, ["test", "--rules", str(rule), "--events", str(events)])
    assert res.exit_code == 0, res.output
    lines = [orjson.loads(x) for x in res.output.splitlines()]
    assert lines == [{"rule": {"id": "c1", "title": "Curl to pastebin", "level": "medium"}, "line": 2},
                     {"rule": {"id": "c1", "title": "Curl to pastebin", "level": "medium"}, "line": 4}]
    # --mapping none: Sigma names are not translated, so the ECS event does not match
    res = CliRunner().invoke(rules, ["test", "--rules", str(rule), "--events", str(events), "--mapping", "none"])
    assert res.exit_code == 0 and res.output == ""


def test_bundled_bruteforce_correlation_fires_once_per_burst(tmp_path):
    docs = [ssh_failure(i) for i in range(7)]
    docs.insert(3, {"@timestamp": "2026-11-26T10:00:12Z", "message": "GET / HTTP/1.1", "event": {"category": ["web"]}})
    docs.insert(4, ssh_failure(99, ip="198.51.100.7"))
    events = write(tmp_path / "ssh.ndjson", docs)
    for mapping in ("ecs", "none"):
        res = CliRunner().invoke(rules, ["test", "--rules", str(BUNDLED_DIR), "--events", str(events), "--mapping", mapping])
        assert res.exit_code == 0, res.output
        out = [orjson.loads(x) for x in res.output.splitlines()]
        assert len(out) == 1, out
        assert out[0]["rule"]["title"] == "SSH brute force from one source address"
        assert out[0]["lines"] == [1, 2, 3, 6, 7] and out[0]["line"] == 7
        assert out[0]["group"] == {"source.ip": "203.0.113.5"}


def test_bruteforce_needs_the_attempts_within_a_minute(tmp_path):
    slow = [ssh_failure(i, second=0) | {"@timestamp": f"2026-11-26T10:{i * 2:02d}:00Z"} for i in range(8)]
    events = write(tmp_path / "slow.ndjson", slow)
    res = CliRunner().invoke(rules, ["test", "--rules", str(BUNDLED_DIR), "--events", str(events)])
    assert res.exit_code == 0 and res.output == ""


def test_bad_event_lines_are_skipped_with_a_message(tmp_path):
    p = tmp_path / "e.ndjson"
    p.write_bytes(b"{not json\n" + b"".join(orjson.dumps(ssh_failure(i)) + b"\n" for i in range(5)))
    res = CliRunner().invoke(rules, ["test", "--rules", str(BUNDLED_DIR), "--events", str(p)])
    assert res.exit_code == 0
    assert "line 1: not JSON" in res.output
    assert '"lines":[2,3,4,5,6]' in res.output
