"""`logwarden search` / `logwarden alerts` against the real HTTP app serving a real index."""
from __future__ import annotations

import os
import subprocess

import httpx
import orjson
import pytest
import yaml

from logwarden.sinks.embedded import IndexWriter

from lwtest import Proc, free_port, logwarden_cmd, run_cli, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    w = IndexWriter(data / "index" / "events", heap_bytes=16_000_000)
    for i in range(30):
        w.add({"@timestamp": f"2024-05-01T10:00:{i:02d}Z", "message": f"Failed password for root from 10.0.0.{i} port 22",
               "event": {"id": f"e{i}", "dataset": "system.auth"}, "process": {"name": "sshd" if i % 3 else "sudo"},
               "host": {"name": "db1"}, "source": {"ip": f"10.0.0.{i}"}})
    w.close()
    a = IndexWriter(data / "index" / "alerts", heap_bytes=16_000_000)
    a.add({"@timestamp": "2024-05-01T10:01:00Z", "event": {"kind": "alert", "id": "a1", "severity": 73},
           "rule": {"id": "r1", "name": "SSH brute force"}, "alert": {"level": "high", "count": 20},
           "source": {"ip": "10.0.0.9"}, "host": {"name": "db1"}})
    a.close()
    from logwarden.auth.store import Tokens

    _, token = Tokens(data).create("viewer", "tests")   # what a script has: a viewer token in LOGWARDEN_TOKEN
    saved = os.environ.get("LOGWARDEN_TOKEN")
    os.environ["LOGWARDEN_TOKEN"] = token
    port = free_port()
    cfg = data / "logwarden.yml"
    cfg.write_text(yaml.safe_dump({"data_dir": str(data), "http": {"listen": f"127.0.0.1:{port}"}}))
    proc = Proc(logwarden_cmd("http", "-c", str(cfg)), data / "http.log")
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            httpx.get(url + "/api/search", params={"q": "*"}, timeout=2)
            return True
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, "logwarden http answering", 30, procs=[proc])
        yield {"url": url, "config": str(cfg), "auth": {"Authorization": f"Bearer {token}"}}
    finally:
        if saved is None:
            os.environ.pop("LOGWARDEN_TOKEN", None)
        else:
            os.environ["LOGWARDEN_TOKEN"] = saved
        proc.stop()


def test_api_shape(api):
    body = httpx.get(api["url"] + "/api/search", params={"q": "process.name:sshd", "limit": 3},
                     headers=api["auth"]).json()
    assert body["total"] == 20
    assert [h["event"]["id"] for h in body["hits"]] == ["e29", "e28", "e26"]


def test_bad_query_is_400_with_position(api):
    resp = httpx.get(api["url"] + "/api/search", params={"q": "process.name:(sshd"}, headers=api["auth"])
    assert resp.status_code == 400
    assert "unclosed '('" in resp.json()["error"]
    assert resp.json()["position"] == 13


def test_search_json_is_ndjson_of_full_documents(api):
    res = run_cli("search", "process.name:sshd", "source.ip:10.0.0.0/29", "--json", "--url", api["url"])
    assert res.returncode == 0, res.stderr
    docs = [orjson.loads(line) for line in res.stdout.splitlines()]
    assert [d["event"]["id"] for d in docs] == ["e7", "e5", "e4", "e2", "e1"]
    assert docs[0]["message"] == "Failed password for root from 10.0.0.7 port 22"


def test_search_plain_lines_when_piped(api):
    res = run_cli("search", '"password for root"', "--limit", "2", "--url", api["url"])
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[:4] == ["2024-05-01T10:00:29Z", "db1", "system.auth", "sshd"]


def test_search_finds_url_from_config_file(api):
    res = run_cli("search", "process.name:sudo", "--json", "-c", api["config"])
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 10


def test_search_bad_query_exits_1_with_message(api):
    res = run_cli("search", "source.ip:nope", "--url", api["url"])
    assert res.returncode == 1
    assert "IP field" in res.stderr


def test_search_unreachable_exits_1(api):
    res = run_cli("search", "x", "--url", f"http://127.0.0.1:{free_port()}")
    assert res.returncode == 1
    assert "cannot reach" in res.stderr


def test_search_without_a_token_says_how_to_get_one(api):
    env = {k: v for k, v in os.environ.items() if k != "LOGWARDEN_TOKEN"}
    res = subprocess.run(logwarden_cmd("search", "x", "--url", api["url"]), capture_output=True, text=True,
                         env={**env, "PYTHONSAFEPATH": "1"}, cwd="/", timeout=60)
    assert res.returncode == 1
    assert "HTTP 401" in res.stderr and "logwarden token create" in res.stderr
    res = run_cli("alerts", "--token", "lwt_00000000_wrong", "--url", api["url"])
    assert res.returncode == 1 and "the token was refused" in res.stderr
    assert httpx.get(api["url"] + "/api/search").status_code == 401


def test_alerts(api):
    res = run_cli("alerts", "--json", "--url", api["url"])
    assert res.returncode == 0, res.stderr
    [alert] = [orjson.loads(line) for line in res.stdout.splitlines()]
    assert alert["rule"]["name"] == "SSH brute force"
    res = run_cli("alerts", "alert.level:high", "--url", api["url"])
    assert "SSH brute force" in res.stdout
    res = run_cli("alerts", "alert.level:low", "--json", "--url", api["url"])
    assert res.stdout == ""


def test_search_table_on_a_terminal(api):
    import os as _os
    import pty
    import subprocess as sp

    from lwtest import logwarden_cmd as cmd

    master, slave = pty.openpty()
    env = {**_os.environ, "PYTHONSAFEPATH": "1", "COLUMNS": "160", "TERM": "xterm"}
    proc = sp.Popen(cmd("search", "process.name:sshd", "--limit", "3", "--url", api["url"]),
                    stdin=slave, stdout=slave, stderr=slave, env=env, cwd="/", close_fds=True)
    _os.close(slave)
    out = b""
    try:
        while True:
            try:
                chunk = _os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        proc.wait(30)
        _os.close(master)
    import re as _re
    text = _re.sub(r"\x1b\[[0-9;]*m", "", out.decode(errors="replace"))
    assert proc.returncode == 0, text
    assert "time" in text and "message" in text and "process" in text     # the table header
    assert "3 of 20 events" in text
    assert "Failed password for root from 10.0.0.29" in text
