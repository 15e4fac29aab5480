"""Embedded index benchmark: documents/s indexed and query latency, against SQLite FTS5.

Figures: documents/s by wall clock and per CPU-second (all threads of the process, so
tantivy's background indexing and merge threads count; the final merge is included).
Both sides get the same serialized ECS documents (bytes, as consumed from logs.ecs), write
them idempotently (tantivy: delete-by-term(event.id) + add; SQLite: INSERT OR REPLACE on a
primary key plus an FTS5 table over the message), and commit once per second of wall time
(the index stage's checkpoint), not per batch. Queries return the 100 newest matches as
parsed documents, newest first, with the total count.

    python bench/index.py [--docs 200000] [--runs 30] [--breakdown]

"index stage path" is the same documents as the stage gets them: Kafka messages in
5,000-record batches through `IndexStage.process` (decode, id check, tantivy) with the
checkpoint every second and the garbage-collector policy `logwarden worker` applies
(`logwarden.gcpolicy`, when this checkout has it), so it is the stage's own CPU per event
without the consumer.

--breakdown adds where the indexing CPU goes: building the tantivy JSON in Python
(`tantivy_schema.to_json`), tantivy indexing those prepared documents with our schema,
and, for scale, tantivy indexing only the message as one text field.
"""
from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from logwarden.events import event_id
from logwarden.sinks.embedded import IndexReader, IndexWriter

COMMIT_EVERY_S = 1.0


def make_docs(n: int) -> list[bytes]:
    rnd = random.Random(1)
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    users = ["root", "admin", "bob", "alice", "oracle", "test", "ubuntu", "git"]
    out = []
    for i in range(n):
        t = (t0 + timedelta(milliseconds=250 * i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        ip = f"{rnd.choice([10, 192, 203, 198])}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        if i % 2:
            code = rnd.choice([200, 200, 200, 301, 404, 500])
            path = rnd.choice(["/", "/login", "/api/v1/items", "/static/app.js", "/wp-login.php"])
            msg = f'{ip} - - [01/May/2024:00:00:00 +0000] "GET {path} HTTP/1.1" {code} {rnd.randint(0, 9000)} "-" "curl/8.5.0"'
            doc = {"@timestamp": t, "message": msg,
                   "event": {"id": event_id("b", i), "dataset": "nginx.access", "module": "nginx", "kind": "event",
                             "category": ["web"], "type": ["access"], "outcome": "success" if code < 400 else "failure",
                             "original": msg, "ingested": t},
                   "http": {"request": {"method": "GET"}, "response": {"status_code": code, "body": {"bytes": rnd.randint(0, 9000)}}},
                   "url": {"original": path, "path": path}, "source": {"ip": ip}, "user_agent": {"original": "curl/8.5.0"},
                   "host": {"name": f"web-{i % 8}"}, "log": {"file": {"path": "/var/log/nginx/access.log"}, "offset": i * 120},
                   "agent": {"type": "logwarden", "name": f"web-{i % 8}"}}
        else:
            ok = rnd.random() < 0.2
            user = rnd.choice(users)
            msg = f"{'Accepted' if ok else 'Failed'} password for {user} from {ip} port {rnd.randint(1024, 65535)} ssh2"
            doc = {"@timestamp": t, "message": msg,
                   "event": {"id": event_id("b", i), "dataset": "system.auth", "module": "system", "kind": "event",
                             "category": ["authentication"], "type": ["start"], "outcome": "success" if ok else "failure",
                             "original": f"May  1 00:00:00 db-{i % 4} sshd[{1000 + i % 5000}]: {msg}", "ingested": t},
                   "process": {"name": "sshd", "pid": 1000 + i % 5000}, "source": {"ip": ip}, "user": {"name": user},
                   "host": {"name": f"db-{i % 4}"}, "log": {"file": {"path": "/var/log/auth.log"}, "offset": i * 90},
                   "agent": {"type": "logwarden", "name": f"db-{i % 4}"}}
        out.append(orjson.dumps(doc))
    return out


def bench_tantivy(docs: list[bytes], path: Path) -> tuple[float, float]:
    w = IndexWriter(path)
    c0 = time.process_time()
    t0 = last = time.perf_counter()
    for raw in docs:
        w.add(orjson.loads(raw), raw)
        now = time.perf_counter()
        if now - last >= COMMIT_EVERY_S:
            w.commit()
            last = now
    w.close()  # final commit and the background merges it started
    return time.perf_counter() - t0, time.process_time() - c0


def bench_stage(docs: list[bytes], data_dir: Path) -> tuple[float, float]:
    import gc

    from confluent_kafka import Message

    from logwarden.config import Config
    from logwarden.events import ECS_TOPIC
    from logwarden.sinks.index_service import IndexStage

    stage = IndexStage(Config.model_validate({"data_dir": str(data_dir)}))
    thresholds = gc.get_threshold()
    try:
        from logwarden import gcpolicy
        gcpolicy.for_batch_worker()
    except ImportError:   # a checkout from before the policy: measured as it ran then
        pass
    msgs = [Message(topic=ECS_TOPIC, partition=0, offset=i, value=d) for i, d in enumerate(docs)]
    c0 = time.process_time()
    t0 = last = time.perf_counter()
    for i in range(0, len(msgs), 5000):
        assert not list(stage.process(msgs[i:i + 5000]))
        now = time.perf_counter()
        if now - last >= COMMIT_EVERY_S:
            stage.checkpoint()
            last = now
    stage.close()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    return wall, cpu


SQL_SCHEMA = """
CREATE TABLE events (id TEXT PRIMARY KEY, ts TEXT NOT NULL, process_name TEXT, status INTEGER, doc BLOB NOT NULL);
CREATE INDEX events_ts ON events(ts);
CREATE INDEX events_process ON events(process_name, ts);
CREATE INDEX events_status ON events(status, ts);
CREATE VIRTUAL TABLE fts USING fts5(message, content='events_msg', content_rowid='rowid');
CREATE TABLE events_msg (rowid INTEGER PRIMARY KEY, id TEXT UNIQUE, message TEXT);
"""


def bench_sqlite(docs: list[bytes], path: Path) -> tuple[float, float]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SQL_SCHEMA)
    c0 = time.process_time()
    t0 = last = time.perf_counter()
    db.execute("BEGIN")
    for raw in docs:
        d = orjson.loads(raw)
        eid = d["event"]["id"]
        status = (d.get("http") or {}).get("response", {}).get("status_code")
        db.execute("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?)",
                   (eid, d["@timestamp"], (d.get("process") or {}).get("name"), status, raw))
        old = db.execute("SELECT rowid, message FROM events_msg WHERE id=?", (eid,)).fetchone()
        if old:
            db.execute("INSERT INTO fts(fts, rowid, message) VALUES('delete', ?, ?)", old)
            db.execute("DELETE FROM events_msg WHERE rowid=?", (old[0],))
        cur = db.execute("INSERT INTO events_msg(id, message) VALUES (?,?)", (eid, d["message"]))
        db.execute("INSERT INTO fts(rowid, message) VALUES (?,?)", (cur.lastrowid, d["message"]))
        now = time.perf_counter()
        if now - last >= COMMIT_EVERY_S:
            db.execute("COMMIT")
            db.execute("BEGIN")
            last = now
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - t0, time.process_time() - c0


QUERIES = {
    "term (process.name:sshd)": (
        "process.name:sshd",
        "SELECT doc, count(*) OVER () FROM events WHERE process_name='sshd' ORDER BY ts DESC LIMIT 100"),
    "phrase (\"failed password\")": (
        '"failed password"',
        "SELECT e.doc, count(*) OVER () FROM fts JOIN events_msg m ON m.rowid=fts.rowid JOIN events e ON e.id=m.id "
        "WHERE fts MATCH '\"failed password\"' ORDER BY e.ts DESC LIMIT 100"),
    "range+term (status>=500 AND GET)": (
        "http.response.status_code>=500 AND GET",
        "SELECT e.doc, count(*) OVER () FROM events e JOIN events_msg m ON m.id=e.id JOIN fts ON fts.rowid=m.rowid "
        "WHERE e.status>=500 AND fts MATCH 'GET' ORDER BY e.ts DESC LIMIT 100"),
}


def breakdown(docs: list[bytes], tmp: Path) -> None:
    import tantivy

    from logwarden.sinks import tantivy_schema as S

    parsed = [orjson.loads(d) for d in docs]
    c0 = time.process_time()
    bodies = [S.to_json(d, raw, d["event"]["id"]) for d, raw in zip(parsed, docs)]
    py = time.process_time() - c0

    def index(schema, items, path):
        path.mkdir()
        w = tantivy.Index(schema, path=str(path)).writer(128_000_000, 1)
        c = time.process_time()
        for it in items:
            w.add_json(it)
        w.commit()
        w.wait_merging_threads()
        return time.process_time() - c

    full = index(S.build_schema(), bodies, tmp / "bd-full")
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("message", tokenizer_name="default")
    msg = index(sb.build(), [orjson.dumps({"message": d["message"]}).decode() for d in parsed], tmp / "bd-msg")
    n = len(docs)
    print(f"{'breakdown, docs per CPU-second:':36}")
    print(f"{'  Python: ECS doc -> tantivy JSON':36}{n / py:>22,.0f}")
    print(f"{'  tantivy: index those (our schema)':36}{n / full:>22,.0f}")
    print(f"{'  tantivy: message text field only':36}{n / msg:>22,.0f}")


def timed(fn, runs: int) -> float:
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--breakdown", action="store_true")
    args = ap.parse_args()
    docs = make_docs(args.docs)
    mb = sum(len(d) for d in docs) / 1e6
    tmp = Path(tempfile.mkdtemp(prefix="lw-bench-"))
    try:
        t_tan, cpu_tan = bench_tantivy(docs, tmp / "tantivy")
        t_sql, cpu_sql = bench_sqlite(docs, tmp / "fts.db")
        t_stage, cpu_stage = bench_stage(docs, tmp / "stage")
        size_tan = sum(f.stat().st_size for f in (tmp / "tantivy").iterdir()) / 1e6
        size_sql = sum(f.stat().st_size for f in tmp.glob("fts.db*")) / 1e6
        print(f"{args.docs} ECS documents, {mb:.0f} MB as JSON, commit every {COMMIT_EVERY_S:.0f} s")
        print(f"{'':36}{'logwarden (tantivy)':>22}{'SQLite FTS5':>16}{'ratio':>8}")
        print(f"{'index docs/s (wall clock)':36}{args.docs / t_tan:>22,.0f}{args.docs / t_sql:>16,.0f}{t_sql / t_tan:>7.2f}x")
        print(f"{'index docs per CPU-second':36}{args.docs / cpu_tan:>22,.0f}{args.docs / cpu_sql:>16,.0f}{cpu_sql / cpu_tan:>7.2f}x")
        print(f"{'index stage path docs/s (wall)':36}{args.docs / t_stage:>22,.0f}")
        print(f"{'index stage path docs per CPU-second':36}{args.docs / cpu_stage:>22,.0f}")
        print(f"{'on disk MB':36}{size_tan:>22.0f}{size_sql:>16.0f}")
        reader = IndexReader(tmp / "tantivy")
        db = sqlite3.connect(tmp / "fts.db")
        for name, (q, sql) in QUERIES.items():
            res = reader.search(q, limit=100)
            rows = db.execute(sql).fetchall()
            assert res["total"] == (rows[0][1] if rows else 0), (name, res["total"], rows[0][1] if rows else 0)
            ms_tan = timed(lambda: reader.search(q, limit=100), args.runs)
            ms_sql = timed(lambda: [orjson.loads(r[0]) for r in db.execute(sql).fetchall()], args.runs)
            print(f"{'query ' + name + ' ms':36}{ms_tan:>22.2f}{ms_sql:>16.2f}{ms_sql / ms_tan:>7.2f}x   ({res['total']} hits)")
        ms_h = timed(lambda: reader.histogram("process.name:sshd", since=None, buckets=60), args.runs)
        ms_hs = timed(lambda: db.execute("SELECT substr(ts,1,13), count(*) FROM events WHERE process_name='sshd' GROUP BY 1").fetchall(), args.runs)
        print(f"{'histogram (sshd, hourly) ms':36}{ms_h:>22.2f}{ms_hs:>16.2f}{ms_hs / ms_h:>7.2f}x")
        if args.breakdown:
            breakdown(docs, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
