"""The whole appliance on a full disk (issue 18, "Disk full"): nothing dies, nothing
acknowledged is lost, /health says why, and it recovers by itself when space returns.

`<data_dir>` (broker log, index, agent registry, run/) is a 64 MiB tmpfs that the test
mounts (as root with CAP_SYS_ADMIN; skipped elsewhere) and then fills with a filler file
while lines keep being appended to the tailed file, which lives on the ordinary disk.
"""
import subprocess
import time

import httpx

import orjson
import pytest

from e2e_harness import NGINX, Appliance, wait_for
from lwtest import fill

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def app(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "logwarden-diskfull", str(data)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    a = Appliance(tmp_path, {"log_format": "json", "parsers": {"workers": 1}})
    yield a
    a.stop()
    subprocess.run(["umount", "-l", str(data)], check=False)


def lines(tag: str, n: int) -> list[str]:
    return [NGINX[0].format(i=i % 10).replace("/index.html", f"/{tag}/{i}") for i in range(n)]


def count(app: Appliance, tag: str) -> int:
    return app.api("/api/search", q=f"url.path:/{tag}/*", limit=1).get("total", -1)


def status(app: Appliance) -> dict:
    return orjson.loads((app.data / "run" / "status.json").read_bytes())


def test_full_data_directory_holds_back_then_recovers_by_itself(app):
    app.start()
    wait_for("HTTP API up", lambda: app.api("/health").get("status") == "ok", app, timeout=90)
    app.append(lines("before", 2000))
    wait_for("the first lines indexed", lambda: count(app, "before") == 2000, app, timeout=90)

    filler = fill(app.data)
    app.append(lines("during", 2000))

    def says_full():
        r = httpx.get(app.url + "/health", timeout=5)  # the harness's api() reads only 200 bodies
        body = r.json()
        return body if r.status_code == 503 and "disk" in orjson.dumps(body).decode().lower() else None

    health = wait_for("/health names the full disk", says_full, app, timeout=60)
    assert "no space" in health["error"].lower() or "full" in health["error"].lower(), health
    wait_for("the broker refuses produce with KAFKA_STORAGE_ERROR",
             lambda: "KAFKA_STORAGE_ERROR" in app.output() or "No space left" in app.output(), app, timeout=60)
    time.sleep(10)  # the appliance sits on a full disk for a while
    st = status(app)
    assert all(c["running"] for c in st["children"].values()), st
    assert app.proc.poll() is None, app.output()

    filler.unlink()  # space is back; nobody restarts anything
    wait_for("every line indexed once space returned", lambda: count(app, "during") == 2000 and count(app, "before") == 2000,
             app, timeout=180)
    assert app.api("/health").get("status") == "ok"
    st = status(app)
    assert {n: c["restarts"] for n, c in st["children"].items() if c["restarts"]} == {}, st
    hits = app.api("/api/search", q="url.path:/during/*", limit=10000)["hits"]
    assert sorted(h["url"]["path"] for h in hits) == sorted(f"/during/{i}" for i in range(2000))
