"""Top values count exactly on an index of many segments.

tantivy's terms aggregation keeps only each segment's top values (segment_size, 10 x size),
as Elasticsearch keeps each shard's: a value that is not among some segment's top is
under-counted. bench/search.py at 1M events showed every top-10 count low (2 for 3).
"""
from __future__ import annotations

from logwarden.sinks.embedded import IndexReader, IndexWriter


def doc(i: int, ip: str) -> dict:
    return {"@timestamp": "2026-12-07T13:00:00Z", "message": "m", "event": {"id": f"e{i}"}, "source": {"ip": ip}}


def test_a_value_outside_some_segments_top_is_counted_in_full(tmp_path):
    path = tmp_path / "events"
    w = IndexWriter(path, heap_bytes=16_000_000)
    n = 0
    for seg in range(5):
        if seg < 3:   # here 198.51.100.7 leads its segment
            rows = ["198.51.100.7"] * 5 + [f"10.{seg}.0.{j}" for j in range(3)]
        else:         # here it is one of 21 values and the 20 others come twice
            rows = ["198.51.100.7"] + [f"10.{seg}.1.{j}" for j in range(20) for _ in range(2)]
        for ip in rows:
            w.add(doc(n, ip))
            n += 1
        w.commit()    # one segment each
    w.close()
    top = IndexReader(path).top("", "source.ip", size=1)
    assert top["values"] == [{"value": "198.51.100.7", "count": 17}], top
    assert top["total"] == n and top["missing"] == 0
    assert top["other"] == n - 17, top
