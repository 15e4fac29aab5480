"""`logwarden parse` as a user runs it: a real process, a real file, stdout/stderr/exit code."""
import orjson
import pytest

from lwtest import DATA, run_cli

pytestmark = pytest.mark.integration

SAMPLE = DATA / "logs" / "samples" / "apache_combined_10k.log"


def test_parse_real_file_in_auto_mode(tmp_path):
    r = run_cli("parse", str(SAMPLE), timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    docs = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == 10_000 and r.stderr == ""
    assert all(d["log"]["file"]["path"] == str(SAMPLE) for d in docs)
    offsets = [d["log"]["offset"] for d in docs]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert len({d["event"]["id"] for d in docs}) == 10_000


def test_strict_exit_and_stderr_reasons(tmp_path):
    f = tmp_path / "mixed.log"
    f.write_text("Nov 26 10:01:02 web-1 sshd[1]: Invalid user x from 203.0.113.5 port 2\n\x00\x01 binary junk\n", encoding="utf-8")
    r = run_cli("parse", "--strict", str(f))
    assert r.returncode == 1
    assert orjson.loads(r.stdout)["event"]["action"] == "invalid_user"
    err = orjson.loads(r.stderr.splitlines()[-1])
    assert err["line"] == 2 and err["parser"] == "auto" and err["reason"]


def test_explain_shows_the_route_each_line_took(tmp_path):
    """docs/configuration.md: a route's name is reported by --explain; it never was."""
    pipeline = tmp_path / "routes.yml"
    pipeline.write_text(
        "routes:\n"
        "  - {name: ssh-failures, when: {equals: {event.outcome: failure}}, topic: security.auth}\n"
        "  - {name: web, when: {equals: {event.category: web}}, topic: web, keep_in_default: false}\n")
    f = tmp_path / "mixed.log"
    f.write_text("Nov 26 10:01:02 web-1 sshd[1]: Failed password for invalid user admin from 203.0.113.5 port 2 ssh2\n"
                 "Nov 26 10:01:03 web-1 cron[1]: hello\n"
                 '192.0.2.14 - - [26/Nov/2026:10:00:10 +0000] "GET /x HTTP/1.1" 200 153 "-" "curl/8.5.0"\n')
    r = run_cli("parse", "--pipeline", str(pipeline), "--explain", str(f))
    assert r.returncode == 0, r.stderr
    blocks = [b.splitlines()[1:] for b in ("\n" + r.stdout).split("\n{")[1:]]  # explain lines under each document
    routes = [[" ".join(line.split()) for line in b if "->" in line] for b in blocks]
    assert routes == [
        ["route ssh-failures -> security.auth", "topics -> logs.ecs, security.auth"],
        ["route -> none of ssh-failures, web matched", "topics -> logs.ecs"],
        ["route web -> web (not kept in the default topic)", "topics -> web"],
    ]


def test_explain_without_routes_prints_no_route_lines(tmp_path):
    f = tmp_path / "one.log"
    f.write_text("Nov 26 10:01:03 web-1 cron[1]: hello\n")
    r = run_cli("parse", "--explain", str(f))
    assert r.returncode == 0 and "<- " in r.stdout and "->" not in r.stdout.replace("<-", "")
