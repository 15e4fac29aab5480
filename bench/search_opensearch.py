"""Search benchmark: the embedded index against real OpenSearch, same documents, same queries
(the query mix against ripgrep and SQLite FTS5 is bench/search.py).

What a user would run instead of the embedded tantivy index is an OpenSearch node; this
measures both through Logwarden's own code paths, so the figures are what the index stage
and the HTTP API get: the index stage's backends (`EmbeddedBackend`, `OpenSearchBackend`:
batches of 5,000 as consumed from logs.ecs, the embedded index committed every second as
the stage's checkpoint does, OpenSearch's `_bulk` through opensearch-py with its refresh
at the end counted), then `SearchService` for bench/index.py's query mix (its documents are
of 2024, so the last-24-hours histogram would count nothing and is left out).
The totals of every query must agree (the run stops if they do not).

Figures: indexing docs/s by wall clock; docs per CPU-second of the engine's process (the
embedded index runs in this process: its CPU is this process's; OpenSearch's is its JVM's
from /proc, the client's cost apart), the index size on disk, and the median latency of
each query (100 newest with the total).

    python bench/search_opensearch.py [--docs 200000] [--runs 30] [--opensearch-url URL]

Without --opensearch-url an OpenSearch 2.19 node is started by tests/engines (one node,
-Xmx512m, 1 shard, no replica; jars fetched by Maven into ~/.cache/logwarden-engines; needs
a JDK 17 and Maven) and stopped at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from index import QUERIES, make_docs, timed  # noqa: E402  (bench/index.py: the same documents and queries)

from logwarden.config import Config  # noqa: E402
from logwarden.sinks.embedded import EmbeddedBackend  # noqa: E402
from logwarden.sinks.opensearch import OpenSearchBackend  # noqa: E402
from logwarden.sinks.search import SearchService  # noqa: E402

BATCH = 5_000
CHECKPOINT_S = 1.0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def index_embedded(cfg: Config, docs: list[bytes]) -> tuple[float, float]:
    backend = EmbeddedBackend(cfg)
    c0, t0 = time.process_time(), time.perf_counter()
    last = t0
    for i in range(0, len(docs), BATCH):
        backend.write("events", [(orjson.loads(d), d) for d in docs[i:i + BATCH]])
        if time.perf_counter() - last >= CHECKPOINT_S:
            backend.checkpoint()
            last = time.perf_counter()
    backend.checkpoint()
    backend.close()
    return time.perf_counter() - t0, time.process_time() - c0


def index_opensearch(cfg: Config, docs: list[bytes], pid: int | None) -> tuple[float, float | None, float]:
    backend = OpenSearchBackend(cfg.index)
    backend.ensure_templates()
    j0 = cpu_seconds(pid) if pid else None
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(0, len(docs), BATCH):
        assert backend.write("events", [(orjson.loads(d), d) for d in docs[i:i + BATCH]]) == []
    httpx.post(f"{cfg.index.elasticsearch_url}/{cfg.index.index_prefix}-*/_refresh", timeout=300).raise_for_status()
    wall = time.perf_counter() - t0
    client = time.process_time() - c0
    backend.close()
    return wall, (cpu_seconds(pid) - j0) if pid else None, client


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--opensearch-url", default=None, help="an OpenSearch to use instead of starting one")
    args = ap.parse_args(argv)
    docs = make_docs(args.docs)
    tmp = Path(tempfile.mkdtemp(prefix="lw-bench-search-"))
    node = None
    try:
        url, pid = args.opensearch_url, None
        if url is None:
            from engines import OpenSearch, missing

            why = missing()
            if why:
                raise SystemExit(f"OpenSearch: {why}; or pass --opensearch-url")
            node = OpenSearch(tmp / "opensearch").start()
            url, pid = node.url, node.proc.p.pid
        emb = Config.model_validate({"data_dir": str(tmp / "embedded")})
        ops = Config.model_validate({"data_dir": str(tmp / "os"), "index": {
            "type": "opensearch", "elasticsearch_url": url, "index_prefix": "lwbench", "bulk_max_actions": BATCH}})
        t_emb, cpu_emb = index_embedded(emb, docs)
        t_os, cpu_os, client_os = index_opensearch(ops, docs, pid)
        stats = httpx.get(f"{url}/lwbench-*/_stats/store", timeout=60).json()
        size_os = stats["_all"]["primaries"]["store"]["size_in_bytes"] / 1e6
        size_emb = sum(f.stat().st_size for f in (tmp / "embedded" / "index" / "events").iterdir()) / 1e6
        mb = sum(len(d) for d in docs) / 1e6
        print(f"{args.docs} ECS documents, {mb:.0f} MB as JSON, batches of {BATCH}, through the index stage's backends")
        print(f"{'':36}{'embedded (tantivy)':>20}{'OpenSearch 2.19':>18}{'ratio':>8}")
        print(f"{'index docs/s (wall clock)':36}{args.docs / t_emb:>20,.0f}{args.docs / t_os:>18,.0f}{t_os / t_emb:>7.2f}x")
        if cpu_os is not None:
            print(f"{'index docs per engine CPU-second':36}{args.docs / cpu_emb:>20,.0f}{args.docs / cpu_os:>18,.0f}"
                  f"{cpu_os / cpu_emb:>7.2f}x   (OpenSearch client: {args.docs / client_os:,.0f} docs/CPU-s)")
        print(f"{'on disk MB (not force-merged)':36}{size_emb:>20.0f}{size_os:>18.0f}")
        svc_emb, svc_os = SearchService(emb), SearchService(ops)
        for name, (q, _sql) in QUERIES.items():
            a, b = svc_emb.search(q, limit=100), svc_os.search(q, limit=100)
            if a["total"] != b["total"]:
                raise SystemExit(f"{name}: embedded {a['total']} hits, OpenSearch {b['total']}: the backends disagree")
            ms_emb = timed(lambda: svc_emb.search(q, limit=100), args.runs)
            ms_os = timed(lambda: svc_os.search(q, limit=100), args.runs)
            print(f"{'query ' + name + ' ms':36}{ms_emb:>20.2f}{ms_os:>18.2f}{ms_os / ms_emb:>7.2f}x   ({a['total']} hits)")
        print(f"load average after: {os.getloadavg()[0]:.2f}; ratio = OpenSearch time / embedded time")
    finally:
        if node is not None:
            node.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
