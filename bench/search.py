"""Search benchmark: the Discover query mix on the embedded index, against ripgrep and SQLite FTS5.

The same synthetic ECS events (bench/index.py's generator: half sshd auth, half nginx
access, 250 ms apart) are written once as NDJSON, indexed by `IndexWriter` (a commit every
second, as the index stage does), and loaded into SQLite (the document, indexed columns for
the fields asked about, an FTS5 table over the message). Every question of the mix is then
answered three ways and the answers are checked equal before any timing counts:

    term      process.name:sshd                 wildcard  user.name:adm*
    phrase    "failed password"                 exists    _exists_:user.name
    range     http.response.status_code:[500 TO 599]       regex  url.path:/.*\\.php/
    cidr      source.ip:10.0.0.0/8              histogram 24 h in 1-minute buckets
    top       top 10 source.ip                  stats     http.response.body.bytes
    fields    the field list of the newest 500 events (Discover's sidebar)

Logwarden answers through `SearchService` in this process (parse, compile, reload, search
or aggregate, decode; a search returns the count and the 100 newest documents), as the HTTP
app does; SQLite answers the same in SQL (count, then the 100 newest rows decoded; a Python
REGEXP function for the regex); ripgrep runs as a process over the NDJSON file (`rg -c`, the
count only, for searches; `rg -o` piped into Python for aggregations; `tail` for the newest
500). Figures: index size against
the NDJSON, then per question Logwarden's p50/p99 over --runs runs, the peers' p50 over
--peer-runs runs, and the ratios.

    python bench/search.py [--docs 1000000] [--ten-million] [--runs 30] [--peer-runs 5] [--opensearch]

With --opensearch the same run goes on to the embedded index against a real OpenSearch
(bench/search_opensearch.py, which tests/engines starts), so both peers print in one run.
"""
from __future__ import annotations

import argparse
import ipaddress
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index import bench_tantivy, make_docs  # noqa: E402  (bench/index.py: the same events and writer loop)

from logwarden.config import Config  # noqa: E402
from logwarden.sinks.embedded import disk_bytes, index_path  # noqa: E402
from logwarden.sinks.field_summary import field_summary  # noqa: E402
from logwarden.sinks.query.timerange import Window  # noqa: E402
from logwarden.sinks.search import SearchService  # noqa: E402

COUNTS = {   # question -> (query, ripgrep regex over one NDJSON line, SQL WHERE)
    "term": ("process.name:sshd", r'"process":\{"name":"sshd"', "process_name = 'sshd'"),
    "phrase": ('"failed password"', r"(?i)failed password", "rowid IN (SELECT rowid FROM msg WHERE msg MATCH '\"failed password\"')"),
    "range": ("http.response.status_code:[500 TO 599]", r'"status_code":5[0-9][0-9][,}]', "status BETWEEN 500 AND 599"),
    "cidr": ("source.ip:10.0.0.0/8", r'"source":\{"ip":"10\.', f"ip BETWEEN {int(ipaddress.ip_address('10.0.0.0'))} AND {int(ipaddress.ip_address('10.255.255.255'))}"),
    "wildcard": ("user.name:adm*", r'"user":\{"name":"adm[^"]*"', "user_name GLOB 'adm*'"),
    "exists": ("_exists_:user.name", r'"user":\{"name":', "user_name IS NOT NULL"),
    "regex": (r"url.path:/.*\.php/", r'"url":\{"original":"[^"]*","path":"[^"]*\.php"', r"url_path REGEXP '^.*\.php$'"),
}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def timed(fn, runs: int) -> tuple[list[float], object]:
    out, ms = None, []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        ms.append((time.perf_counter() - t0) * 1000)
    return ms, out


def rg(*args: str) -> str:
    return subprocess.run(["rg", *args], capture_output=True, text=True, check=False).stdout


def load_sqlite(docs: list[bytes], path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE ev (id TEXT PRIMARY KEY, ts TEXT, process_name TEXT, user_name TEXT, status INT, ip INT, "
               "source_ip TEXT, url_path TEXT, bytes INT, doc BLOB)")
    db.execute("CREATE VIRTUAL TABLE msg USING fts5(body)")
    rows, msgs = [], []
    for i, raw in enumerate(docs, 1):
        d = orjson.loads(raw)
        http = d.get("http", {}).get("response", {})
        ip = d.get("source", {}).get("ip")
        rows.append((d["event"]["id"], d["@timestamp"], d.get("process", {}).get("name"), d.get("user", {}).get("name"),
                     http.get("status_code"), int(ipaddress.ip_address(ip)) if ip else None, ip,
                     d.get("url", {}).get("path"), http.get("body", {}).get("bytes"), raw))
        msgs.append((i, d["message"]))
    db.executemany("INSERT INTO ev VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany("INSERT INTO msg (rowid, body) VALUES (?,?)", msgs)
    for col in ("ts", "process_name", "user_name", "status", "ip", "source_ip", "url_path", "bytes"):
        db.execute(f"CREATE INDEX ev_{col} ON ev ({col})")
    db.commit()
    db.create_function("REGEXP", 2, lambda rx, v: v is not None and re.search(rx, v) is not None, deterministic=True)
    return db


def sql_page(db: sqlite3.Connection, where: str) -> int:
    """What a search answers: the count and the 100 newest documents, decoded."""
    total = db.execute(f"SELECT count(*) FROM ev WHERE {where}").fetchone()[0]
    [orjson.loads(r[0]) for r in db.execute(f"SELECT doc FROM ev WHERE {where} ORDER BY ts DESC LIMIT 100")]
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--ten-million", action="store_true", help="10,000,000 events (the figure for the docs; slow)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--peer-runs", type=int, default=5)
    ap.add_argument("--opensearch", action="store_true",
                    help="then the embedded index against a real OpenSearch 2.19 (bench/search_opensearch.py: indexing "
                         "docs/s and CPU, the query mix through both backends; needs java/mvn for tests/engines)")
    ap.add_argument("--opensearch-docs", type=int, default=200_000, help="documents for the OpenSearch comparison")
    args = ap.parse_args()
    n = 10_000_000 if args.ten_million else args.docs
    if shutil.which("rg") is None:
        sys.exit("ripgrep (rg) is not installed: apt-get install ripgrep")
    tmp = Path(tempfile.mkdtemp(prefix="lw-bench-search-"))
    try:
        print(f"generating {n:,} events ...", flush=True)
        docs = make_docs(n)
        ndjson = tmp / "events.ndjson"
        with open(ndjson, "wb") as f:
            for d in docs:
                f.write(d + b"\n")
        print("indexing (embedded) ...", flush=True)
        data = tmp / "data"
        bench_tantivy(docs, index_path(data, "events"))
        print("loading SQLite ...", flush=True)
        db = load_sqlite(docs, tmp / "fts.db")
        svc = SearchService(Config.model_validate({"data_dir": str(data)}))
        last = datetime.fromisoformat(orjson.loads(docs[-1])["@timestamp"])
        window = Window((last - timedelta(hours=24)).replace(second=0, microsecond=0), last)   # whole minutes
        lo_s, hi_s = [t.strftime("%Y-%m-%dT%H:%M:%S") for t in (window.start, window.end)]
        ndjson_b, index_b = ndjson.stat().st_size, disk_bytes(index_path(data, "events"))
        print(f"\n{n:,} events: NDJSON {ndjson_b / 1e6:,.0f} MB, index {index_b / 1e6:,.0f} MB ({index_b / ndjson_b:.2f}x), "
              f"SQLite FTS5 {(tmp / 'fts.db').stat().st_size / 1e6:,.0f} MB\n")
        print(f"{'question':<10} {'answer':>22} {'p50 ms':>8} {'p99 ms':>8} {'rg ms':>9} {'x rg':>7} {'fts5 ms':>9} {'x fts5':>7}")
        bad = []

        def report(name, ours, ours_ms, rg_ans, rg_ms, sq_ans, sq_ms):
            if not (ours == rg_ans == sq_ans) and not (rg_ans is None and ours == sq_ans):
                bad.append((name, ours, rg_ans, sq_ans))
            p50 = statistics.median(ours_ms)

            def ratio(peer_ms):
                x = statistics.median(peer_ms) / p50
                return f"{statistics.median(peer_ms):9.1f} {x:6.1f}x" if x < 10 else f"{statistics.median(peer_ms):9.1f} {x:6.0f}x"

            r = ratio(rg_ms) if rg_ms else f"{'n/a':>9} {'':>7}"
            s = ratio(sq_ms)
            shown = ours if isinstance(ours, (int, str)) else str(ours)[:22]
            print(f"{name:<10} {shown!s:>22} {p50:8.1f} {pct(ours_ms, 99):8.1f} {r} {s}", flush=True)

        for name, (q, rx, where) in COUNTS.items():
            ms, res = timed(lambda: svc.search(q, limit=100)["total"], args.runs)
            rms, rres = timed(lambda: int(rg("-c", rx, str(ndjson)).strip() or 0), args.peer_runs)
            sms, sres = timed(lambda: sql_page(db, where), args.peer_runs)
            report(name, res, ms, rres, rms, sres, sms)

        def hist_ours():
            return tuple(b["count"] for b in svc.histogram("", window, interval_ms=60_000) if b["count"])

        def hist_rg():
            c = Counter(m[14:30] for m in rg("-o", r'"@timestamp":"[^"]{16}', str(ndjson)).split()
                        if lo_s[:16] <= m[14:30] <= hi_s[:16])
            return tuple(v for _, v in sorted(c.items()))

        def hist_sql():
            return tuple(r[1] for r in db.execute("SELECT substr(ts,1,16) m, count(*) FROM ev WHERE ts >= ? AND ts <= ? "
                                                  "GROUP BY m ORDER BY m", (lo_s, hi_s + ".999Z")))

        ms, res = timed(hist_ours, args.runs)
        rms, rres = timed(hist_rg, args.peer_runs)
        sms, sres = timed(hist_sql, args.peer_runs)
        report("histogram", sum(res), ms, sum(rres), rms, sum(sres), sms)
        if not (res == rres == sres):
            bad.append(("histogram buckets", len(res), len(rres), len(sres)))

        def top_ours():
            return tuple(v["count"] for v in svc.top("", "source.ip", 10)["values"])

        def top_rg():
            return tuple(n for _, n in Counter(rg("-o", r'"source":\{"ip":"[^"]+"', str(ndjson)).split()).most_common(10))

        def top_sql():
            return tuple(r[1] for r in db.execute("SELECT source_ip, count(*) c FROM ev WHERE source_ip IS NOT NULL "
                                                  "GROUP BY source_ip ORDER BY c DESC LIMIT 10"))

        ms, res = timed(top_ours, args.runs)
        rms, rres = timed(top_rg, args.peer_runs)
        sms, sres = timed(top_sql, args.peer_runs)
        report("top", res, ms, rres, rms, sres, sms)

        def stats_ours():
            s = svc.stats("", "http.response.body.bytes")
            return (s["count"], int(s["min"]), int(s["max"]), int(s["sum"]))

        def stats_rg():
            v = [int(x.rsplit(":", 1)[1]) for x in rg("-o", r'"body":\{"bytes":[0-9]+', str(ndjson)).split()]
            v.sort()
            _percentiles = [v[round(p / 100 * (len(v) - 1))] for p in (50, 95, 99)]   # the same work as the others
            return (len(v), v[0], v[-1], sum(v))

        def stats_sql():
            c, lo, hi, total = db.execute("SELECT count(bytes), min(bytes), max(bytes), sum(bytes) FROM ev").fetchone()
            for p in (50, 95, 99):
                db.execute("SELECT bytes FROM ev WHERE bytes IS NOT NULL ORDER BY bytes LIMIT 1 OFFSET ?",
                           (round(p / 100 * (c - 1)),)).fetchone()
            return (c, lo, hi, total)

        ms, res = timed(stats_ours, args.runs)
        rms, rres = timed(stats_rg, args.peer_runs)
        sms, sres = timed(stats_sql, args.peer_runs)
        report("stats", res, ms, rres, rms, sres, sms)

        def fields_ours():
            return svc.fields("", sample=500)

        def fields_tail():
            lines = subprocess.run(["tail", "-n", "500", str(ndjson)], capture_output=True, check=True).stdout.splitlines()
            return field_summary([orjson.loads(x) for x in reversed(lines)], n)

        def fields_sql():
            return field_summary([orjson.loads(r[0]) for r in db.execute("SELECT doc FROM ev ORDER BY ts DESC LIMIT 500")], n)

        ms, res = timed(fields_ours, args.runs)
        rms, rres = timed(fields_tail, args.peer_runs)
        sms, sres = timed(fields_sql, args.peer_runs)
        same = (len(res["fields"]), [f["name"] for f in res["fields"]] == [f["name"] for f in rres["fields"]] ==
                [f["name"] for f in sres["fields"]])
        report("fields", f"{len(res['fields'])} fields", ms, f"{len(rres['fields'])} fields", rms, f"{len(sres['fields'])} fields", sms)
        if not same[1]:
            bad.append(("fields", res["fields"][:3], rres["fields"][:3], sres["fields"][:3]))
        print("\nrg: ripgrep over the NDJSON (fields: tail -n 500 + the same summary); fts5: SQLite with indexed columns")
        if bad:
            for b in bad:
                print("ANSWERS DIFFER:", b, file=sys.stderr)
            sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.opensearch:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import search_opensearch

        print(f"\nthe embedded index against real OpenSearch, {args.opensearch_docs:,} documents (bench/search_opensearch.py):", flush=True)
        search_opensearch.main(["--docs", str(args.opensearch_docs), "--runs", str(args.runs)])


if __name__ == "__main__":
    main()
