"""Search as a Discover user works it, against one real `logwarden up`: lines no format
recognises and free text sent to POST /ingest are searchable; time ranges, sorting and
search-after paging; field/top/stats/histogram aggregations; the live tail (SSE and
`logwarden search --follow`); the CLI's flags."""
from __future__ import annotations

import os

import orjson
import httpx
import pytest

from e2e_harness import Appliance, wait_for
from lwtest import free_port

pytestmark = [pytest.mark.e2e]

UNPARSED = ["plain words only here", "ERROR 2026-12-07T13:00:01Z worker-3 job 17 failed"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explore")
    ingest_port = free_port()
    a = Appliance(tmp, config={"ingest": {"http": f"127.0.0.1:{ingest_port}"}, "parsers": {"timezone": "UTC"}})
    a.ingest_url = f"http://127.0.0.1:{ingest_port}"
    a.start()
    wait_for("HTTP API up", lambda: a.api("/api/search", limit=1) != {}, a, timeout=60)
    yield a
    a.stop()


def test_unrecognised_lines_and_free_text_are_searchable(app):
    app.append(UNPARSED)
    wait_for("ingest listener up", lambda: _post(app, b'{"message": "free text from a script, no format at all"}'), app)

    def found():
        hits = app.api("/api/search", q="tags:unparsed", limit=100).get("hits") or []
        return hits if len(hits) >= 3 else None

    hits = {h["message"]: h for h in wait_for("unparsed events in the index", found, app)}
    plain = hits["plain words only here"]
    assert plain["log"]["file"]["path"] == str(app.logs / "app.log") and plain["log"]["offset"] == 0
    assert plain["host"]["name"] and plain["event"]["original"] == "plain words only here"
    err = hits[UNPARSED[1]]
    assert err["@timestamp"] == "2026-12-07T13:00:01.000Z"           # the line's own time, not the read time
    assert err["log"]["offset"] == len(UNPARSED[0]) + 1
    free = hits["free text from a script, no format at all"]
    assert free["tags"] == ["unparsed"] and free["input"]["type"] == "http"
    # searchable by its words like any event, and counted apart from parsed events
    assert app.api("/api/search", q='"no format at all"')["total"] == 1
    metrics = httpx.get(app.url + "/metrics", timeout=10).text
    assert any(line.startswith('logwarden_parsers_events_total{outcome="unparsed"}') and float(line.split()[-1]) >= 3
               for line in metrics.splitlines()), metrics[-2000:]


def _post(app, body: bytes):
    try:
        r = httpx.post(app.ingest_url + "/ingest", content=body, timeout=5)
    except httpx.TransportError:
        return None
    return r if r.status_code == 200 else None


import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from lwtest import logwarden_cmd, run_cli, wait_until  # noqa: E402

ACCESS = '203.0.113.{n} - - [07/Dec/2026:13:{m:02d}:{s:02d} +0000] "GET /shop/{n} HTTP/1.1" {code} {size} "-" "curl/8.5.0"'


class SSE:
    """A real SSE client on a thread: events as (arrival monotonic time, id, event, data)."""

    def __init__(self, url: str, params: dict, last_id: str | None = None):
        self.events: list[tuple[float, str | None, str, str]] = []
        self.comments: list[str] = []
        self.status: int | None = None
        self._stop = False
        headers = {"Last-Event-ID": last_id} if last_id else {}
        headers["Authorization"] = f"Bearer {os.environ['LOGWARDEN_TOKEN']}"   # the harness's token (e2e_harness)
        self._t = threading.Thread(target=self._run, args=(url, params, headers), daemon=True)
        self._t.start()

    def _run(self, url, params, headers):
        with httpx.stream("GET", url + "/api/tail", params=params, headers=headers, timeout=httpx.Timeout(10, read=None)) as r:
            self.status = r.status_code
            eid, event, data = None, "message", []
            for line in r.iter_lines():
                if self._stop:
                    return
                if line.startswith(":"):
                    self.comments.append(line)
                elif line == "":
                    if data:
                        self.events.append((time.monotonic(), eid, event, "\n".join(data)))
                    eid, event, data = None, "message", []
                else:
                    k, _, v = line.partition(": ")
                    if k == "id":
                        eid = v
                    elif k == "event":
                        event = v
                    elif k == "data":
                        data.append(v)

    def hits(self):
        return [(t, i, orjson.loads(d)) for t, i, e, d in self.events if e == "hit"]

    def close(self):
        self._stop = True


def test_tail_sends_new_matching_events_once_with_heartbeat_and_resume(app):
    tail = SSE(app.url, {"q": "url.path:/shop/*", "heartbeat": "1"})
    wait_for("tail connected", lambda: tail.status == 200 or None, app, timeout=30)
    # the first heartbeat comes after the first poll, which notes what is already there
    wait_for("the first heartbeat", lambda: tail.comments or None, app, timeout=60)
    lines = [ACCESS.format(n=n, m=1, s=n, code=200, size=100 * n) for n in range(1, 4)]
    app.append(lines + ["not matching at all"])
    searchable = {}

    def all_searchable():
        res = app.api("/api/search", q="url.path:/shop/*", limit=100)
        for h in res.get("hits", []):
            searchable.setdefault(h["event"]["id"], time.monotonic())
        return len(searchable) >= 3 or None

    wait_for("the lines searchable", all_searchable, app)
    wait_for("the tail sent them", lambda: len(tail.hits()) >= 3 or None, app)
    got = tail.hits()
    assert sorted(h["url"]["original"] for _, _, h in got) == [f"/shop/{n}" for n in range(1, 4)]
    lag = max(t - searchable[h["event"]["id"]] for t, _, h in got)
    print(f"tail lag after the event was first seen searchable by a 0.5 s poller: {lag:.2f} s (max of 3)")
    assert tail.comments[0].startswith(": heartbeat")
    last_id = got[-1][1]
    tail.close()
    # resume: events after the last one seen, none of those before it again
    app.append([ACCESS.format(n=n, m=2, s=n, code=404, size=1) for n in (7, 8)])
    wait_for("the new lines searchable", lambda: app.api("/api/search", q="url.path:/shop/* http.response.status_code:404")
             .get("total") == 2 or None, app)
    again = SSE(app.url, {"q": "url.path:/shop/*"}, last_id=last_id)
    wait_for("resumed tail sent the two new events", lambda: len(again.hits()) >= 2 or None, app)
    time.sleep(2)
    assert sorted(h["url"]["original"] for _, _, h in again.hits()) == ["/shop/7", "/shop/8"]
    again.close()


def test_search_follow_prints_ndjson_when_piped(app):
    import queue

    proc = subprocess.Popen(logwarden_cmd("search", "url.path:/follow/*", "--follow", "--url", app.url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in iter(proc.stdout.readline, b"")], daemon=True).start()
    got: list[bytes] = []
    sent = [0]

    def more():
        # A tail shows what is indexed after it connected, and when that is depends on the
        # machine: keep writing one matching line a second until two have come out.
        sent[0] += 1
        app.append([ACCESS.format(n=sent[0], m=3, s=sent[0] % 60, code=200, size=5).replace("/shop/", "/follow/"),
                    "unrelated line"])
        while not lines.empty():
            got.append(lines.get())
        return len([x for x in got if x.strip()]) >= 2 or None

    try:
        wait_until(more, "two NDJSON lines from --follow", 120, 1.0, lambda: proc.stderr.read1(4000).decode(errors="replace")
                   if proc.poll() is not None else "")
        docs = [orjson.loads(x) for x in got if x.strip()]
        nums = [int(d["url"]["original"].rsplit("/", 1)[1]) for d in docs]
        assert all(d["url"]["original"].startswith("/follow/") for d in docs)
        assert nums == sorted(set(nums)) and nums[-1] <= sent[0]        # each once, in the order written
    finally:
        proc.send_signal(2)                # Ctrl-C
        assert proc.wait(20) == 130


def test_cli_window_sort_top_stats_fields_and_csv(app):
    lines = [ACCESS.format(n=n, m=10, s=n, code=500 if n % 3 == 0 else 200, size=1000 + n).replace("/shop/", "/cli/")
             for n in range(1, 10)]
    app.append(lines)
    wait_for("cli lines searchable", lambda: app.api("/api/search", q="url.path:/cli/*").get("total") == 9 or None, app)
    q = "url.path:/cli/*"
    res = run_cli("search", q, "--from", "2026-12-07T13:10:03Z", "--to", "2026-12-07T13:10:06Z", "--json", "--url", app.url)
    assert res.returncode == 0, res.stderr
    assert sorted(orjson.loads(x)["url"]["original"] for x in res.stdout.splitlines()) == [f"/cli/{n}" for n in range(3, 7)]
    res = run_cli("search", q, "--sort", "http.response.body.bytes:asc", "--format", "csv", "--limit", "3", "--url", app.url)
    assert res.returncode == 0, res.stderr
    rows = res.stdout.splitlines()
    assert rows[0] == "time,host,dataset,process,message" and len(rows) == 4
    assert [r.split('"GET ')[1].split()[0] for r in rows[1:]] == ["/cli/1", "/cli/2", "/cli/3"]
    res = run_cli("search", q, "--top", "http.response.status_code", "--url", app.url)
    assert res.returncode == 0 and res.stdout.splitlines() == ["6\t200", "3\t500"], res.stdout + res.stderr
    res = run_cli("search", q, "--stats", "http.response.body.bytes", "--json", "--url", app.url)
    stats = orjson.loads(res.stdout)
    assert (stats["count"], stats["min"], stats["max"], stats["sum"]) == (9, 1001, 1009, sum(range(1001, 1010)))
    res = run_cli("search", q, "--fields", "--format", "json", "--url", app.url)
    by = {f["name"]: f for f in orjson.loads(res.stdout)["fields"]}
    assert by["http.response.status_code"]["top"][0] == {"value": 200, "count": 6}
    res = run_cli("search", q, "--top", "message", "--url", app.url)
    assert res.returncode == 1 and "full-text field" in res.stderr
    res = run_cli("search", q, "--from", "last tuesday", "--url", app.url)
    assert res.returncode == 1 and "from: expected a date" in res.stderr
    # the HTTP routes answer the same on the running appliance
    auth = {"Authorization": f"Bearer {app.token}"}
    top = httpx.get(app.url + "/api/top", params={"q": q, "field": "http.response.status_code"}, headers=auth,
                    timeout=10).json()
    assert top["values"] == [{"value": 200, "count": 6}, {"value": 500, "count": 3}] and top["other"] == 0
    hist = httpx.get(app.url + "/api/histogram", params={"q": q, "from": "2026-12-07T13:00:00Z", "to": "2026-12-07T14:00:00Z",
                                                         "split": "http.response.status_code"}, headers=auth,
                     timeout=10).json()
    assert hist["interval_ms"] == 60_000 and [s["value"] for s in hist["series"]] == [200, 500]
    assert sum(b["count"] for b in hist["buckets"]) == 9


def test_top_is_a_bar_chart_on_a_terminal(app):
    import os
    import pty

    wait_for("cli lines searchable", lambda: app.api("/api/search", q="url.path:/cli/*").get("total") == 9 or None, app)
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONSAFEPATH": "1", "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen(logwarden_cmd("search", "url.path:/cli/*", "--top", "http.response.status_code", "--url", app.url),
                            stdin=slave, stdout=slave, stderr=slave, env=env, cwd="/", close_fds=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(30) == 0
    text = out.decode(errors="replace")
    bars = [line for line in text.splitlines() if "█" in line]
    assert len(bars) == 2 and abs(bars[0].count("█") - 2 * bars[1].count("█")) <= 1, text   # 6 vs 3 events
    assert "66.7%" in bars[0] and "33.3%" in bars[1]
