"""The whole appliance as a user runs it: a line appended to a file becomes a searchable ECS
event and raises a Sigma alert; after SIGKILL and restart the index holds each line once.

`logwarden up` runs as a real process on free loopback ports with a temp data dir; the
agent tails a temp file; the search goes through `logwarden search` and the HTTP API.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import free_port, logwarden_cmd, run_cli

pytestmark = [pytest.mark.e2e]

NGINX = [
    '198.51.100.23 - - [26/Nov/2026:10:00:0{i} +0000] "GET /index.html HTTP/1.1" 200 512 "-" "curl/8.5.0"',
    '192.0.2.14 - - [26/Nov/2026:10:00:1{i} +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "python-requests/2.32.3"',
]
SSHD_FAIL = "Nov 26 10:01:{s:02d} web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port {port} ssh2"
SSHD_OK = "Nov 26 10:02:{s:02d} web-1 sshd[4300]: Accepted publickey for deploy from 198.51.100.7 port {port} ssh2: ED25519 SHA256:abc"
DEADLINE_S = 30  # the promise: appended lines are searchable and alerted on within 30 s


class Appliance:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.data = tmp / "data"
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.broker_port = free_port()
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        out = open(self.tmp / f"up-{self.runs}.log", "wb")
        self.proc = subprocess.Popen(
            logwarden_cmd("up", "--data-dir", str(self.data), "--broker-listen", f"127.0.0.1:{self.broker_port}",
                          "--http-listen", f"127.0.0.1:{self.http_port}", "--tail", str(self.logs / "*.log")),
            stdout=out, stderr=subprocess.STDOUT, cwd="/", env={**os.environ, "PYTHONSAFEPATH": "1"})

    def output(self) -> str:
        return "".join((self.tmp / f"up-{i}.log").read_text(errors="replace")[-4000:] for i in range(1, self.runs + 1))

    def sigkill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        # children die with it (PR_SET_PDEATHSIG); wait until their ports are free
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not any(_listening(p) for p in (self.broker_port, self.http_port)):
                return
            time.sleep(0.2)
        raise AssertionError("children of a SIGKILLed supervisor kept their ports")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def append(self, lines: list[str]) -> None:
        with open(self.logs / "app.log", "a") as f:
            f.write("".join(line + "\n" for line in lines))

    def api(self, path: str, **params) -> dict:
        try:
            r = httpx.get(self.url + path, params=params, timeout=5)
        except httpx.TransportError:
            return {}
        return r.json() if r.status_code == 200 else {}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(what: str, check, app: Appliance, timeout: float = DEADLINE_S):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})\n--- logwarden up output ---\n{app.output()}")


@pytest.fixture
def app(tmp_path):
    a = Appliance(tmp_path)
    yield a
    a.stop()


def all_events(app: Appliance) -> list[dict]:
    return app.api("/api/search", q="", limit=10000).get("hits", [])


def test_line_to_search_to_alert_and_exactly_once_after_sigkill(app):
    app.start()
    wait_for("HTTP API up", lambda: app.api("/health") != {} or app.api("/api/search", limit=1), app, timeout=60)
    lines = [NGINX[0].format(i=i) for i in range(3)] + [NGINX[1].format(i=i) for i in range(2)]
    sshd = [SSHD_FAIL.format(s=s, port=50000 + s) for s in range(8)] + [SSHD_OK.format(s=s, port=51000 + s) for s in range(2)]
    app.append(lines + sshd)

    def sshd_hits():
        res = run_cli("search", "process.name:sshd", "--json", "--limit", "100", "--url", app.url)
        if res.returncode != 0:
            return None
        hits = [orjson.loads(l) for l in res.stdout.splitlines() if l.strip()]
        return hits if len(hits) == len(sshd) else None

    hits = wait_for("sshd events searchable via `logwarden search`", sshd_hits, app)
    assert {h["event"]["original"] for h in hits} == set(sshd)
    assert all(h["process"]["name"] == "sshd" for h in hits)
    failed = [h for h in hits if h["event"].get("outcome") == "failure"]
    assert len(failed) == 8 and all(h["source"]["ip"] == "203.0.113.5" for h in failed)

    alerts = wait_for("an SSH brute-force alert in /api/alerts",
                      lambda: app.api("/api/alerts").get("hits"), app)
    assert any("203.0.113.5" in orjson.dumps(a).decode() for a in alerts)

    # SIGKILL the whole appliance mid-flight, write more while it is down, restart.
    more = [NGINX[0].format(i=i) + f" k{i}" for i in range(5)]
    app.append(more[:2])
    app.sigkill()
    app.append(more[2:])
    app.start()
    expected = lines + sshd + more

    def complete():
        evs = all_events(app)
        return evs if len(evs) >= len(expected) else None

    events = wait_for("every line indexed after restart", complete, app, timeout=60)
    time.sleep(3)  # let any late replay land before counting duplicates
    events = all_events(app)
    originals = [e["event"]["original"] for e in events]
    assert sorted(originals) == sorted(expected), "each line must be in the index exactly once"
    assert len({e["event"]["id"] for e in events}) == len(expected)
