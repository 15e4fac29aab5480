"""Search as a Discover user works it, against one real `logwarden up`: lines no format
recognises and free text sent to POST /ingest are searchable; time ranges, sorting and
search-after paging; field/top/stats/histogram aggregations; the live tail (SSE and
`logwarden search --follow`); the CLI's flags."""
from __future__ import annotations

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
