"""`logwarden status` and GET /api/status against a real `logwarden up`: the numbers move when
lines are written, lag drains, and the screen draws every part."""
from __future__ import annotations

import orjson
import pytest

from e2e_harness import NGINX, SSHD_FAIL, Appliance, wait_for
from lwtest import run_cli

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def app(tmp_path):
    a = Appliance(tmp_path)
    yield a
    a.stop()


def _status(app: Appliance) -> dict:
    r = run_cli("status", "--url", app.url, "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    return orjson.loads(r.stdout)


def test_status_numbers_move_when_lines_are_written(app):
    app.start()
    wait_for("the stages consuming", lambda: {"parsers", "index", "rules"} <= {
        s for s, r in app.api("/api/status").get("stages", {}).items() if r.get("lag") is not None}, app, timeout=90)
    before = _status(app)
    raw_before = before["topics"].get("logs.raw", {}).get("end_offsets", 0)
    app.append([NGINX[0].format(i=i % 10) for i in range(300)] + [SSHD_FAIL.format(s=s, port=50000 + s) for s in range(6)])
    wait_for("306 more records on logs.raw", lambda: _status(app)["topics"]["logs.raw"]["end_offsets"] >= raw_before + 306,
             app, timeout=60)

    def drained() -> dict | None:
        s = _status(app)
        st = s["stages"]
        ok = (st["parsers"]["in_total"] >= 306 and st["index"]["out_total"] >= 306 and st["agent"]["out_total"] >= 306
              and all(st[n]["lag"] == 0 for n in ("parsers", "index", "rules", "metrics")))
        return s if ok else None

    after = wait_for("every stage caught up", drained, app, timeout=90)
    st = after["stages"]
    assert st["parsers"]["processes"] == st["parsers"]["running"] >= 1
    assert st["broker"]["running"] == 1 and st["broker"]["restarts"] == 0
    assert after["topics"]["logs.ecs"]["end_offsets"] >= 306 and after["topics"]["logs.ecs"]["partitions"] == 4
    assert after["consumer_groups"]["logwarden-index"]["topics"]["logs.ecs"]["lag"] == 0
    assert after["dead_letters"] == {"count": 0, "latest": None, "recent": []}
    ecs = after["topics"]["logs.ecs"]   # retention as DescribeConfigs gives it, size from the partition folders
    assert ecs["retained_records"] >= 306 and ecs["bytes"] > 0 and ecs["cleanup_policy"] == "delete"
    assert ecs["retention_ms"] > 0 and isinstance(ecs["retention_bytes"], int)
    assert after["disk"]["broker_log_bytes"] > 0 and after["disk"]["index_bytes"] > 0
    wait_for("the brute-force alert counted", lambda: _status(app)["alerts_last_hour"].get("high", 0) >= 1, app, timeout=60)

    # A rate is per second between two snapshots: while lines flow the parsers' rate is above 0.
    app.append([NGINX[1].format(i=i % 10) for i in range(2000)])
    wait_for("a parsers rate above zero", lambda: (_status(app)["stages"]["parsers"]["in_per_s"] or 0) > 0, app, timeout=60)

    screen = run_cli("status", "--url", app.url, timeout=60)
    assert screen.returncode == 0, screen.stderr
    for part in ("stages", "parsers", "logs.raw", "dead letters: 0", "alerts last hour:", "disk: broker log"):
        assert part in screen.stdout, screen.stdout


def test_status_of_an_unreachable_appliance_says_so():
    r = run_cli("status", "--url", "http://127.0.0.1:9", timeout=60)
    assert r.returncode == 1 and "cannot reach http://127.0.0.1:9" in r.stderr
