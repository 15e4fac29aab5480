"""The index stage's pure part: records in, documents in tantivy (durable at checkpoint), DLQ out."""
from __future__ import annotations

import gzip

import orjson
import pytest
from confluent_kafka import Message

from logwarden.config import Config
from logwarden.events import ALERTS_TOPIC, DLQ_TOPIC, ECS_TOPIC
from logwarden.sinks import archive
from logwarden.sinks.embedded import IndexReader, index_path
from logwarden.sinks.index_service import IndexStage


def ev(i: int, **extra) -> dict:
    return {"@timestamp": f"2024-05-01T1{i % 3}:00:{i % 60:02d}Z", "message": f"line {i}", "event": {"id": f"id-{i}"},
            "process": {"name": "sshd"}, **extra}


def msgs(docs, topic=ECS_TOPIC, start=0):
    return [Message(topic=topic, partition=0, offset=start + i, value=d if isinstance(d, bytes) else orjson.dumps(d))
            for i, d in enumerate(docs)]


@pytest.fixture
def cfg(tmp_path):
    return Config.model_validate({"data_dir": str(tmp_path), "index": {"writer_heap_bytes": 16_000_000}})


def test_documents_become_visible_at_checkpoint_only(cfg):
    stage = IndexStage(cfg)
    events = IndexReader(index_path(cfg.data_path, "events"))
    try:
        assert list(stage.process(msgs([ev(i) for i in range(20)]))) == []
        assert events.search("*", limit=1)["total"] == 0
        stage.checkpoint()
        assert events.search("*", limit=1)["total"] == 20
    finally:
        stage.close()


def test_replayed_records_are_indexed_once(cfg):
    stage = IndexStage(cfg)
    batch = [ev(i) for i in range(10)]
    list(stage.process(msgs(batch)))
    stage.checkpoint()
    list(stage.process(msgs(batch + [ev(10)])))     # the same records again, plus one
    stage.close()                                    # close commits too
    res = IndexReader(index_path(cfg.data_path, "events")).search("*", limit=100)
    assert res["total"] == 11
    assert sorted(h["event"]["id"] for h in res["hits"]) == sorted(f"id-{i}" for i in range(11))


def test_alerts_go_to_their_own_index(cfg):
    stage = IndexStage(cfg)
    alert = {"@timestamp": "2024-05-01T10:05:00Z", "event": {"kind": "alert", "id": "al-1", "severity": 73},
             "rule": {"name": "SSH brute force", "description": "Many failed logins"},
             "alert": {"level": "high", "count": 3, "events": [ev(1), ev(2)], "group": {"source.ip": "10.0.0.1"}}}
    list(stage.process(msgs([ev(1)]) + msgs([alert], ALERTS_TOPIC)))
    stage.close()
    alerts = IndexReader(index_path(cfg.data_path, "alerts"))
    assert alerts.search("*", limit=10)["hits"] == [alert]
    assert alerts.search("alert.level:high AND rule.description:failed", limit=10)["total"] == 1
    assert alerts.search("line", limit=10)["total"] == 0      # nested events are not searched as the alert
    assert IndexReader(index_path(cfg.data_path, "events")).search("*", limit=10)["total"] == 1


def test_bad_records_go_to_the_dead_letter_topic(cfg):
    stage = IndexStage(cfg)
    outs = list(stage.process(msgs([ev(1), b"\xff not json", b'"a string"', b"", ev(2)])))
    stage.close()
    assert [o.topic for o in outs] == [DLQ_TOPIC] * 3
    bodies = [orjson.loads(o.value) for o in outs]
    assert bodies[0]["error"]["type"] == "index" and bodies[0]["error"]["message"].startswith("not JSON")
    assert bodies[0]["event"]["kind"] == "pipeline_error"
    assert bodies[0]["event"]["original"] == "\ufffd not json"
    assert bodies[1]["error"]["message"] == "expected a JSON object, got str"
    assert bodies[0]["event"]["id"] != bodies[1]["event"]["id"]
    assert IndexReader(index_path(cfg.data_path, "events")).search("*", limit=10)["total"] == 2


def test_archive_writes_hourly_gzip_members_at_checkpoint(tmp_path):
    cfg = Config.model_validate({"data_dir": str(tmp_path), "index": {"writer_heap_bytes": 16_000_000,
                                                                      "archive": {"enabled": True}}})
    stage = IndexStage(cfg)
    list(stage.process(msgs([ev(i) for i in range(9)])))
    assert not (tmp_path / "archive").exists()
    stage.checkpoint()
    list(stage.process(msgs([ev(i) for i in range(9, 12)])))
    stage.close()
    files = sorted((tmp_path / "archive").rglob("*.ndjson.gz"))
    assert [f.name for f in files] == [f"events-2024-05-01T1{h}.ndjson.gz" for h in range(3)]
    assert files[0].parent == tmp_path / "archive" / "2024" / "05" / "01"
    docs = [d for f in files for d in archive.read(f)]
    assert sorted(d["event"]["id"] for d in docs) == sorted(f"id-{i}" for i in range(12))
    # two checkpoints -> two gzip members in a file, readable as one stream by gzip itself
    assert len(gzip.decompress(files[0].read_bytes()).splitlines()) == 4


def test_archive_reader_survives_a_torn_last_member(tmp_path):
    a = archive.Archive(tmp_path)
    a.write([(ev(1), orjson.dumps(ev(1)))])
    a.flush()
    path = a.path_for("2024-05-01T11")
    whole = path.read_bytes()
    path.write_bytes(whole + gzip.compress(b'{"x": 1}\n')[:15])
    assert [d["event"]["id"] for d in archive.read(path)] == ["id-1"]


def test_retention_deletes_old_documents_at_checkpoint(tmp_path):
    from datetime import datetime, timedelta, timezone
    cfg = Config.model_validate({"data_dir": str(tmp_path), "index": {"writer_heap_bytes": 16_000_000, "retention_days": 2}})
    now = datetime.now(timezone.utc)
    docs = [{"@timestamp": (now - timedelta(hours=20 * i)).isoformat(), "message": f"m{i}", "event": {"id": f"r{i}"}}
            for i in range(6)]                                     # 0, 20, 40 h old are kept; 60, 80, 100 h go
    stage = IndexStage(cfg)
    list(stage.process(msgs(docs)))
    stage.checkpoint()   # the first checkpoint expires too: the old ones never become visible
    events = IndexReader(index_path(cfg.data_path, "events"))
    assert sorted(h["event"]["id"] for h in events.search("*", limit=10)["hits"]) == ["r0", "r1", "r2"]
    stage.close()
