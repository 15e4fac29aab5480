"""Log-to-metric feeds end to end: Debian's Prometheus scrapes a running `logwarden up` and a
log-derived series is read back through Prometheus' HTTP query API; the same feeds' samples
arrive on the metrics topic.

Prometheus (/usr/bin/prometheus, Debian's `prometheus` package, which .ci/run installs) is
run by the test on a loopback port with its own config and storage in tmp_path; the system
service is never touched.
"""
from __future__ import annotations

import shutil
import subprocess

import httpx
import orjson
import pytest
import yaml
from confluent_kafka import Consumer

from e2e_harness import NGINX, Appliance, wait_for
from lwtest import free_port

pytestmark = [pytest.mark.e2e]

PROMETHEUS = shutil.which("prometheus") or ("/usr/bin/prometheus" if shutil.which("/usr/bin/prometheus") else None)
FEEDS = {"sample_interval_ms": 1000, "feeds": [
    {"name": "e2e_http_responses", "query": "event.category:web", "labels": ["http.response.status_code"]},
    {"name": "e2e_http_body_bytes", "type": "histogram", "query": "event.category:web AND http.response.status_code>=200",
     "field": "http.response.body.bytes", "labels": ["http.response.status_code"], "buckets": [100, 200, 1000]},
]}
DEADLINE_S = 120   # Prometheus starting, scraping every second and the pipeline, on a busy 2-core machine


@pytest.fixture
def app(tmp_path):
    a = Appliance(tmp_path, config={"metrics": FEEDS})
    yield a
    a.stop()


@pytest.fixture
def prometheus(tmp_path, app):
    if not PROMETHEUS:
        pytest.skip("prometheus is not installed (apt-get install prometheus; .ci/run does)")
    port = free_port()
    conf = tmp_path / "prometheus.yml"
    conf.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "logwarden", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [app.url.removeprefix("http://")]}]}],
    }))
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}", proc, tmp_path / "prometheus.log"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def query(base: str, promql: str) -> dict[str, float]:
    """{status_code label: value} of an instant query, {} while Prometheus is not answering."""
    try:
        r = httpx.get(base + "/api/v1/query", params={"query": promql}, timeout=5)
    except httpx.TransportError:
        return {}
    if r.status_code != 200:
        return {}
    return {s["metric"].get("http_response_status_code", ""): float(s["value"][1]) for s in r.json()["data"]["result"]}


def test_prometheus_scrapes_a_log_derived_series_and_the_metrics_topic_gets_samples(app, prometheus):
    base, proc, log = prometheus
    app.start()
    app.append([line.format(i=i) for i in range(3) for line in NGINX])   # 3 x 200 (512 bytes), 3 x 404 (153 bytes)

    def counted():
        assert proc.poll() is None, log.read_text()
        got = query(base, "logwarden_feed_e2e_http_responses_total")
        return got if got.get("200") == 3 and got.get("404") == 3 else None

    wait_for("Prometheus reading the feed's counter of nginx responses by status", counted, app, timeout=DEADLINE_S)

    def buckets():
        got = query(base, 'logwarden_feed_e2e_http_body_bytes_bucket{le="200.0"}')
        return got if got.get("404") == 3 and got.get("200") == 0 else None

    wait_for("Prometheus reading the feed's histogram of body bytes", buckets, app, timeout=DEADLINE_S)
    assert query(base, "logwarden_feed_e2e_http_body_bytes_sum") == {"200": 3 * 512.0, "404": 3 * 153.0}

    # The same series as JSON samples on the metrics topic, produced by the index stage.
    c = Consumer({"bootstrap.servers": f"127.0.0.1:{app.broker_port}", "group.id": "e2e-feeds",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["metrics"])
    latest: dict[tuple[str, str], dict] = {}

    def sampled():
        for m in c.consume(100, 0.5):
            if m.error() is None:
                d = orjson.loads(m.value())
                latest[(d["metric"]["name"], d["labels"].get("http.response.status_code"))] = d
        counter = latest.get(("logwarden_feed_e2e_http_responses", "404"))
        hist = latest.get(("logwarden_feed_e2e_http_body_bytes", "200"))
        return (counter, hist) if counter and counter["value"] == 3 and hist and hist["count"] == 3 else None

    try:
        counter, hist = wait_for("samples of both feeds on the metrics topic", sampled, app, timeout=DEADLINE_S)
    finally:
        c.close()
    assert counter["metric"]["type"] == "counter" and counter["@timestamp"].endswith("Z")
    assert hist["sum"] == 3 * 512.0 and hist["buckets"] == {"100.0": 0.0, "200.0": 0.0, "1000.0": 3.0, "+Inf": 3.0}
