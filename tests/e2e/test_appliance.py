"""The whole appliance as a user runs it: a line appended to a file becomes a searchable ECS
event and raises a Sigma alert; after SIGKILL and restart the index holds each line once.

`logwarden up` runs as a real process on free loopback ports with a temp data dir; the
agent tails a temp file; the search goes through `logwarden search` and the HTTP API.
"""
from __future__ import annotations

import os
import signal
import time

import orjson
import pytest

from lwtest import run_cli
from e2e_harness import NGINX, SSHD_FAIL, SSHD_OK, Appliance, wait_for

pytestmark = [pytest.mark.e2e]


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

    # A crashed stage is restarted with backoff; /health says so while it is down.
    status = orjson.loads((app.data / "run" / "status.json").read_bytes())
    index_pid = status["children"]["index"]["pid"]
    os.kill(index_pid, signal.SIGKILL)

    def restarted():
        s = orjson.loads((app.data / "run" / "status.json").read_bytes())["children"]["index"]
        return s if s["restarts"] == 1 and s["running"] and s["pid"] != index_pid else None

    wait_for("the killed index worker restarted", restarted, app)
    app.append([NGINX[0].format(i=9).replace("/index.html", "/after-restart")])
    wait_for("events flow again after the restart",
             lambda: app.api("/api/search", q='url.original:"/after-restart"').get("total") == 1, app)

    # SIGTERM stops everything cleanly.
    app.proc.send_signal(signal.SIGTERM)
    assert app.proc.wait(60) == 0


def test_ctrl_c_stops_the_stages_before_the_broker(app):
    """Ctrl-C reaches every process of the terminal's foreground group. The supervisor must
    still stop producers and consumers first and the broker last (so they flush and commit);
    regression: the children shared its process group, so the broker stopped at the same
    moment and every Kafka client logged "Connection refused" until its own exit."""
    app.start(session=True)
    app.append([NGINX[0].format(i=1)])
    wait_for("the line searchable", lambda: app.api("/api/search", q="url.original:/index.html").get("total"), app)
    assert app.interrupt() == 0, app.output()
    out = (app.tmp / "up-1.log").read_text(errors="replace")
    assert "Connection refused" not in out, out[-3000:]
    assert out.rfind('"broker stopping"') > out.rfind('"parser stage ready"')
