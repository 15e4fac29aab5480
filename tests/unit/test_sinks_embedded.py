"""The embedded tantivy index: compiled queries agree with the reference evaluator,
writes are idempotent by event.id, reads see commits, histogram and paging work."""
from __future__ import annotations

import multiprocessing
from datetime import timedelta

import orjson
import pytest

from logwarden.sinks.embedded import IndexReader, IndexWriter
from logwarden.sinks.query import parse

from sinks_corpus import NOW, QUERIES, corpus, evaluate



@pytest.fixture(scope="module")
def docs():
    return corpus()


@pytest.fixture(scope="module")
def reader(tmp_path_factory, docs):
    path = tmp_path_factory.mktemp("idx") / "events"
    w = IndexWriter(path, heap_bytes=32_000_000)
    for d in docs:
        w.add(d)
    assert w.commit() == len(docs)
    w.close()
    return IndexReader(path)


@pytest.mark.parametrize("q", QUERIES)
def test_tantivy_agrees_with_reference(reader, docs, q):
    node = parse(q)
    expected = {d["event"]["id"] for d in docs if evaluate(node, d, NOW)}
    res = reader.search(q, limit=10_000, now=NOW)
    got = [h["event"]["id"] for h in res["hits"]]
    assert res["total"] == len(expected)
    assert set(got) == expected
    assert len(got) == len(set(got))


def test_queries_discriminate(reader, docs):
    """The corpus is varied enough that the agreement above means something."""
    counts = {q: reader.search(q, limit=1, now=NOW)["total"] for q in QUERIES}
    interesting = [q for q, c in counts.items() if 0 < c < len(docs)]
    boring = {q for q in QUERIES if q not in interesting}
    # all, case-sensitivity, word order, a whole-day match, and "before the corpus" are expected extremes
    assert boring <= {"*", "process.name:SSHD", '"password failed"', "@timestamp:2024-05-01", "@timestamp<2024-05-01"}, counts


def test_hits_newest_first_with_paging(reader, docs):
    first = reader.search("process.name:sshd", limit=5, now=NOW)
    second = reader.search("process.name:sshd", limit=5, offset=5, now=NOW)
    stamps = [h["@timestamp"] for h in first["hits"] + second["hits"]]
    assert stamps == sorted(stamps, reverse=True)
    assert len(set(stamps)) == 10
    assert first["total"] == second["total"]


def test_limit_zero_counts_without_hits(reader, docs):
    res = reader.search("*", limit=0, now=NOW)
    assert res == {"total": len(docs), "hits": []}


def test_since_filters_on_timestamp(reader, docs):
    res = reader.search("*", since=timedelta(minutes=10), limit=1000, now=NOW)
    assert res["total"] == len([d for d in docs if d["@timestamp"] >= "2024-05-01T11:50:00.000Z"])


def test_hits_are_the_documents_as_written(reader, docs):
    by_id = {d["event"]["id"]: d for d in docs}
    for h in reader.search("*", limit=50, now=NOW)["hits"]:
        assert h == by_id[h["event"]["id"]]


def test_histogram_counts_sum_to_total(reader, docs):
    buckets = reader.histogram("process.name:sshd", since=timedelta(hours=3), buckets=12, now=NOW)
    total = reader.search("process.name:sshd", since=timedelta(hours=3), limit=1, now=NOW)["total"]
    assert sum(b["count"] for b in buckets) == total
    assert 12 <= len(buckets) <= 13
    keys = [b["key"] for b in buckets]
    assert keys == sorted(keys)
    assert all(b2 - b1 == buckets[0]["interval_ms"] for b1, b2 in zip(keys, keys[1:]))
    whole = reader.histogram("*", since=None, buckets=10, now=NOW)
    assert sum(b["count"] for b in whole) == len(docs)


def test_rewrites_by_event_id_keep_one_copy(tmp_path):
    path = tmp_path / "events"
    w = IndexWriter(path, heap_bytes=16_000_000)
    doc = {"@timestamp": "2024-05-01T10:00:00Z", "message": "first", "event": {"id": "abc"}}
    w.add(doc)
    w.add({**doc, "message": "second"})          # same batch, same id
    w.commit()
    w.add({**doc, "message": "third"})           # a replay after the commit
    w.commit()
    w.close()
    r = IndexReader(path)
    res = r.search("*", limit=10)
    assert res["total"] == 1
    assert res["hits"][0]["message"] == "third"
    assert r.search("first OR second", limit=10)["total"] == 0


def test_a_batch_replaces_committed_copies_and_keeps_the_last_copy_within_itself(tmp_path):
    path = tmp_path / "events"
    w = IndexWriter(path, heap_bytes=16_000_000)

    def doc(i, msg):
        d = {"@timestamp": f"2024-05-01T10:00:{i:02d}Z", "message": msg, "event": {"id": f"id-{i}"}}
        return d, orjson.dumps(d)

    assert w.add_batch([doc(i, "old") for i in range(5)]) == []
    w.commit()
    assert w.committed_ids(["id-1", "id-3", "id-9"]) == {"id-1", "id-3"}
    batch = [doc(3, "new"), doc(7, "first"), doc(1, "new"), doc(7, "second"), doc(3, "newest")]
    nameless = {"@timestamp": "2024-05-01T10:01:00Z", "message": "no id"}
    batch += [(nameless, orjson.dumps(nameless))] * 2          # keyed by content: one copy
    assert w.add_batch(batch) == []
    w.commit()
    w.close()
    res = IndexReader(path).search("*", limit=20)
    by_id = {h.get("event", {}).get("id"): h["message"] for h in res["hits"]}
    assert res["total"] == 7
    assert by_id == {"id-0": "old", "id-1": "new", "id-2": "old", "id-3": "newest", "id-4": "old",
                     "id-7": "second", None: "no id"}


def test_missing_index_reads_empty(tmp_path):
    r = IndexReader(tmp_path / "nothing-yet")
    assert r.search("*") == {"total": 0, "hits": []}
    assert r.histogram("*", timedelta(hours=1)) == []


def test_long_values_are_stored_but_not_keyword_indexed(tmp_path):
    w = IndexWriter(tmp_path / "e", heap_bytes=16_000_000)
    long = "x" * 5000
    w.add({"@timestamp": "2024-05-01T10:00:00Z", "event": {"id": "1"}, "url": {"original": long}, "message": long})
    w.close()
    r = IndexReader(tmp_path / "e")
    assert r.search(f"url.original:{long}", limit=1)["total"] == 0
    assert r.search("_exists_:message", limit=1)["hits"][0]["url"]["original"] == long


def _write_in_child(path: str, n: int, conn) -> None:
    w = IndexWriter(path, heap_bytes=16_000_000)
    for i in range(n):
        w.add({"@timestamp": f"2024-05-01T10:00:{i:02d}Z", "message": f"child {i}", "event": {"id": f"c{i}"}})
    w.commit()
    conn.send("committed")
    conn.recv()  # keep the writer (and its lock) alive until the parent has looked
    for i in range(n, 2 * n):
        w.add({"@timestamp": f"2024-05-01T10:01:{i - n:02d}Z", "message": f"child {i}", "event": {"id": f"c{i}"}})
    w.commit()
    conn.send("committed")
    conn.recv()
    w.close()


def test_reader_in_another_process_sees_each_commit(tmp_path):
    path = tmp_path / "events"
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_write_in_child, args=(str(path), 5, child))
    proc.start()
    try:
        reader = IndexReader(path)
        assert parent.poll(60) and parent.recv() == "committed"
        assert reader.search("child", limit=1)["total"] == 5
        parent.send("go")
        assert parent.poll(60) and parent.recv() == "committed"
        assert reader.search("child", limit=1)["total"] == 10   # same reader object: reloaded
        parent.send("done")
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == 0


def test_source_is_returned_byte_for_byte_equal(tmp_path):
    w = IndexWriter(tmp_path / "e", heap_bytes=16_000_000)
    doc = {"@timestamp": "2024-05-01T10:00:00.123+02:00", "event": {"id": "u"}, "message": "ünïcode ✓", "n": 1.5, "b": True, "z": None}
    w.add(doc, orjson.dumps(doc))
    w.close()
    assert IndexReader(tmp_path / "e").search("ünïcode", limit=1)["hits"] == [doc]


def test_malformed_ip_and_flat_dotted_keys(tmp_path):
    w = IndexWriter(tmp_path / "e", heap_bytes=16_000_000)
    w.add({"@timestamp": "2024-05-01T10:00:00Z", "event": {"id": "bad-ip"}, "source": {"ip": "not-an-ip"}, "message": "x"})
    w.add({"@timestamp": "2024-05-01T10:00:01", "event.id": "ignored", "event": {"id": "flat"},
           "source.ip": "10.9.8.7", "process.name": "cron", "error.message": "disk full"})
    w.close()
    r = IndexReader(tmp_path / "e")
    assert [h["event"]["id"] for h in r.search("not-an-ip", limit=5)["hits"]] == ["bad-ip"]
    assert r.search("source.ip:10.9.8.0/24", limit=5)["total"] == 1
    assert r.search("process.name:cron", limit=5)["total"] == 1
    assert r.search('error.message:"disk full"', limit=5)["total"] == 1
    # a timestamp without an offset is taken as UTC
    assert r.search("@timestamp:[2024-05-01T10:00:01Z TO 2024-05-01T10:00:01Z]", limit=5)["total"] == 1


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from logwarden.sinks.query import QueryError  # noqa: E402

PIECES = st.sampled_from(["process.name:", "user.name:", "source.ip:", "http.response.status_code", "@timestamp", "message:",
                          "sshd", "adm*", "?", "10.0.0.0/8", "10.1.2.3", '"failed password"', "[1 TO 500]", "{a TO *]",
                          ">=", "<", "now-1h", "2024-05-01", "_exists_:", "tags", " AND ", " OR ", "NOT ", "-", "(", ")",
                          " ", "\\*", "x.y"])


@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, max_size=8).map("".join))
def test_every_parseable_query_agrees_with_reference(reader, docs, q):
    try:
        node = parse(q)
        res = reader.search(node, limit=10_000, now=NOW)
    except QueryError:
        return
    expected = {d["event"]["id"] for d in docs if evaluate(node, d, NOW)}
    assert {h["event"]["id"] for h in res["hits"]} == expected, node
    assert res["total"] == len(expected)


def test_an_index_of_another_schema_version_is_refused_with_the_fix(tmp_path):
    from logwarden.sinks.embedded import SCHEMA_MARK, IncompatibleIndex
    IndexWriter(tmp_path / "e", heap_bytes=16_000_000).close()
    (tmp_path / "e" / SCHEMA_MARK).write_text("0\n")
    with pytest.raises(IncompatibleIndex, match="delete .* and start it again"):
        IndexWriter(tmp_path / "e", heap_bytes=16_000_000)
