"""LogManager: topics, Kafka's name rules, configs, persistence, recovery on open."""
import shutil

import pytest

from logwarden.broker.storage import (InvalidConfigError, LogDirLockedError, InvalidPartitionsError, InvalidTopicError, LogConfig,
                                      LogManager, TopicExistsError, UnknownPartitionError, UnknownTopicError)

from broker_storage_batches import make_batch, read_all


def test_create_append_reopen(tmp_path):
    m = LogManager(tmp_path, LogConfig())
    m.create_topic("logs.raw", 3)
    m.create_topic("__consumer_offsets", 2, {"cleanup.policy": "compact", "segment.bytes": "1048576"})
    assert m.topics() == {"logs.raw": 3, "__consumer_offsets": 2}
    m.get("logs.raw", 2).append(make_batch([b"a", b"b"]))
    assert (tmp_path / "broker" / "logs.raw-2" / "00000000000000000000.log").exists()
    m.close()
    m2 = LogManager(tmp_path, LogConfig())
    assert m2.topics() == {"logs.raw": 3, "__consumer_offsets": 2}
    assert m2.get("logs.raw", 2).log_end_offset == 2
    assert [r[2] for r in read_all(m2.get("logs.raw", 2))] == [b"a", b"b"]
    assert m2.topic_config("__consumer_offsets").cleanup_policy == "compact"
    d = m2.describe_config("__consumer_offsets")
    assert d["cleanup.policy"] == "compact" and d["segment.bytes"] == "1048576"
    assert d["retention.ms"] == str(7 * 24 * 3600 * 1000)
    assert d["flush.messages"] == "9223372036854775807"
    assert m2.config_overrides("__consumer_offsets") == {"cleanup.policy": "compact", "segment.bytes": "1048576"}
    m2.close()


def test_unclean_reopen_recovers_appended_data(tmp_path):
    m = LogManager(tmp_path / "live", LogConfig(flush_ms=None))
    m.create_topic("t", 1)
    for i in range(10):
        m.get("t", 0).append(make_batch([b"x%d" % i]))
    # A copy taken now is what a killed process leaves: appended data, no clean marker.
    shutil.copytree(tmp_path / "live", tmp_path / "crashed")
    m2 = LogManager(tmp_path / "crashed", LogConfig())
    assert [r[2] for r in read_all(m2.get("t", 0))] == [b"x%d" % i for i in range(10)]
    m2.close()
    m.close()


def test_one_manager_per_directory(tmp_path):
    m = LogManager(tmp_path)
    with pytest.raises(LogDirLockedError):
        LogManager(tmp_path)
    m.close()
    LogManager(tmp_path).close()


@pytest.mark.parametrize("name", ["", ".", "..", "a" * 250, "bad/name", "spa ce", "ünï"])
def test_topic_name_rules(tmp_path, name):
    m = LogManager(tmp_path)
    with pytest.raises(InvalidTopicError):
        m.create_topic(name, 1)
    m.close()


def test_topic_errors(tmp_path):
    m = LogManager(tmp_path)
    m.create_topic("a.b", 1)
    m.create_topic("a" * 249, 1)
    with pytest.raises(TopicExistsError):
        m.create_topic("a.b", 1)
    with pytest.raises(InvalidTopicError):
        m.create_topic("a_b", 1)  # collides with a.b
    with pytest.raises(InvalidPartitionsError):
        m.create_topic("zero", 0)
    with pytest.raises(InvalidConfigError):
        m.create_topic("cfg", 1, {"retention.mss": "1"})
    with pytest.raises(InvalidConfigError):
        m.create_topic("cfg", 1, {"retention.ms": "soon"})
    with pytest.raises(InvalidConfigError):
        m.create_topic("cfg", 1, {"cleanup.policy": "shred"})
    assert not m.has_topic("cfg")
    m.create_topic("cfg", 1, {"compression.type": "lz4", "min.insync.replicas": "1"})
    assert m.describe_config("cfg")["compression.type"] == "lz4"
    with pytest.raises(UnknownTopicError):
        m.get("nope", 0)
    with pytest.raises(UnknownPartitionError):
        m.get("a.b", 1)
    with pytest.raises(UnknownTopicError):
        m.delete_topic("nope")
    m.close()


def test_delete_topic_removes_files_and_survives_reopen(tmp_path):
    m = LogManager(tmp_path)
    m.create_topic("gone", 2)
    m.get("gone", 0).append(make_batch([b"a"]))
    m.delete_topic("gone")
    assert m.topics() == {}
    assert not (tmp_path / "broker" / "gone-0").exists()
    m.create_topic("gone", 1)  # the name is free again, with an empty log
    assert m.get("gone", 0).log_end_offset == 0
    m.close()
    m2 = LogManager(tmp_path)
    assert m2.topics() == {"gone": 1}
    m2.close()


def test_orphan_partition_dir_is_removed(tmp_path):
    m = LogManager(tmp_path)
    m.create_topic("t", 1)
    m.close()
    (tmp_path / "broker" / "half-0").mkdir()
    (tmp_path / "broker" / "operator notes").mkdir()
    m2 = LogManager(tmp_path)
    assert not (tmp_path / "broker" / "half-0").exists()
    assert (tmp_path / "broker" / "operator notes").exists()  # not a partition directory: left alone
    m2.close()


def test_alter_config_and_partitions(tmp_path):
    m = LogManager(tmp_path)
    m.create_topic("t", 1)
    m.alter_topic_config("t", {"retention.ms": "1000"})
    assert m.get("t", 0).config.retention_ms == 1000
    m.alter_topic_config("t", {"retention.ms": None})
    assert m.get("t", 0).config.retention_ms == LogConfig().retention_ms
    m.create_partitions("t", 3)
    assert m.topics() == {"t": 3}
    with pytest.raises(InvalidPartitionsError):
        m.create_partitions("t", 2)
    # validate_only (CreateTopics / CreatePartitions) runs the same checks and changes nothing
    m.create_partitions("t", 5, validate_only=True)
    with pytest.raises(InvalidPartitionsError):
        m.create_partitions("t", 2, validate_only=True)
    m.create_topic("u", 2, validate_only=True)
    with pytest.raises(InvalidPartitionsError):
        m.create_topic("u", 0, validate_only=True)
    assert m.topics() == {"t": 3}
    m.close()


def test_checkpoint_writes_from_two_threads_do_not_collide(tmp_path):
    """CreateTopics (event loop) and the maintenance thread both rewrite the recovery-point
    checkpoint through one temporary file; unserialised, the second os.replace found its
    .tmp already renamed away (FileNotFoundError: a CreateTopics request failed and its
    connection was closed, seen while benchmarking)."""
    import threading

    m = LogManager(tmp_path, LogConfig())
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(k: int) -> None:
        start.wait()
        try:
            for i in range(60):
                if k == 0:
                    m.create_topic(f"t{i}", 1)
                else:
                    m.flush_all()  # what a maintenance pass does after a flush.ms fsync
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    m.close()
    lines = (tmp_path / "broker" / "recovery-point-offset-checkpoint").read_text().splitlines()
    assert lines[1] == "60" and len(lines) == 62


def test_new_topic_logs_no_index_rebuild_warning(tmp_path, caplog):
    """A new partition has no index files yet; that is not damage worth a WARNING per
    partition on every CreateTopics (and on every start for __consumer_offsets)."""
    import logging

    m = LogManager(tmp_path, LogConfig())
    with caplog.at_level(logging.WARNING, logger="logwarden.broker.storage"):
        m.create_topic("t", 3)
    assert [r.getMessage() for r in caplog.records] == []
    m.get("t", 0).append(make_batch([b"a"]))
    m.close()
    for index in (tmp_path / "broker" / "t-0").glob("*.index"):
        index.unlink()  # a lost index on an existing segment is still reported
    with caplog.at_level(logging.WARNING, logger="logwarden.broker.storage"):
        m2 = LogManager(tmp_path, LogConfig())
    assert any("rebuilding indexes" in r.getMessage() for r in caplog.records)
    assert m2.get("t", 0).log_end_offset == 1
    m2.close()


def _opened_message(caplog) -> str:
    return [r for r in caplog.records if r.name.startswith("logwarden.broker")][-1].getMessage()


def test_open_says_fresh_clean_or_what_recovery_did(tmp_path, caplog):
    """A brand-new directory is no unclean shutdown (it read like a fault on first start);
    a reopen after a crash says what it re-validated and truncated."""
    caplog.set_level("INFO", logger="logwarden.broker")
    m = LogManager(tmp_path / "live", LogConfig(flush_ms=None))
    assert _opened_message(caplog).startswith("new log directory")
    m.create_topic("t", 1)
    for i in range(10):
        m.get("t", 0).append(make_batch([b"x%d" % i]))
    shutil.copytree(tmp_path / "live", tmp_path / "crashed")
    m.close()
    LogManager(tmp_path / "live", LogConfig()).close()
    assert "1 partition(s) of 1 topic(s)" in _opened_message(caplog)
    assert "after a clean shutdown" in _opened_message(caplog)
    seg = tmp_path / "crashed" / "broker" / "t-0" / "00000000000000000000.log"
    with open(seg, "ab") as f:
        f.write(b"\x00" * 7)  # a torn batch header at the tail
    LogManager(tmp_path / "crashed", LogConfig()).close()
    last = [r for r in caplog.records if r.name.startswith("logwarden.broker") and "recovered" in r.getMessage()][-1]
    assert "after an unclean shutdown: 1 segment(s) re-validated, 7 byte(s) of torn batches truncated" in last.getMessage()
    assert last.levelname == "WARNING"
