"""Metrics feeds benchmark: CPU per event of the metrics stage's counting, without and with feeds.

What is timed is `EventCounter.observe` on decoded 5,000-event batches, as the index stage
calls it under `logwarden up` (the decode is the index stage's and is not counted), on
bench/index.py's mix of nginx access and sshd events (half each). "feeds" adds one counter
(web responses by status code) and one histogram (body bytes by status code), the issue's
example; the difference is the feeds' own per-event cost.

    python bench/feeds.py [--docs 200000] [--runs 5]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index import make_docs  # noqa: E402

from logwarden.config import Config  # noqa: E402
from logwarden.sinks.metrics_service import EventCounter  # noqa: E402

FEEDS = {"feeds": [
    {"name": "bench_http_responses", "query": "event.category:web", "labels": ["http.response.status_code"]},
    {"name": "bench_http_body_bytes", "type": "histogram", "query": "event.category:web AND http.response.status_code>=200",
     "field": "http.response.body.bytes", "labels": ["http.response.status_code"], "buckets": [100, 1000, 10000]},
]}


def per_event_us(counter: EventCounter, batches: list[list[dict]], runs: int) -> float:
    best = float("inf")
    n = sum(len(b) for b in batches)
    for _ in range(runs):
        t0 = time.process_time()
        for b in batches:
            counter.observe(b)
        best = min(best, time.process_time() - t0)
    return best / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    docs = [orjson.loads(d) for d in make_docs(args.docs)]
    batches = [docs[i:i + 5000] for i in range(0, len(docs), 5000)]
    none = per_event_us(EventCounter(Config()), batches, args.runs)
    feeds = per_event_us(EventCounter(Config.model_validate({"metrics": FEEDS})), batches, args.runs)
    print(f"{'per-event metrics, no feeds':40} {none:6.2f} µs CPU/event")
    print(f"{'+ 1 counter + 1 histogram feed':40} {feeds:6.2f} µs CPU/event  (feeds: {feeds - none:+.2f} µs)")


if __name__ == "__main__":
    main()
