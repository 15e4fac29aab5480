"""Admin requests answered as Kafka answers them, against the broker in a real process:
CreateTopics' order of checks and what it refuses, duplicates in CreateTopics and
DeleteTopics, null values in AlterConfigs, and DescribeConfigs listing every topic config
with its source and synonyms (confluent-kafka's AdminClient and raw frames).

Each case failed before: an existing topic asked for with three replicas got
INVALID_REPLICATION_FACTOR (so "create if absent" code failed), a duplicate name created
the topic, replica assignments to absent brokers and bogus config values were accepted,
a null config value was silently dropped or reset the key, and DescribeConfigs listed 12
configs without synonyms and ignored the broker resource's name.
"""
from __future__ import annotations

import socket
import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

from broker_wire import kafka_call
from logwarden.broker.protocol import errors as E

pytestmark = pytest.mark.integration

CREATE_TOPICS, DELETE_TOPICS, DESCRIBE_CONFIGS, ALTER_CONFIGS = 19, 20, 32, 33


def topic(name: str, partitions: int = 1, rf: int = 1, assignments=(), **configs) -> dict:
    return {"name": name, "num_partitions": partitions, "replication_factor": rf,
            "assignments": [{"partition_index": i, "broker_ids": b} for i, b in assignments],
            "configs": [{"name": k.replace("_", "."), "value": v} for k, v in configs.items()]}


def create(s: socket.socket, *topics: dict) -> list[tuple[str, int]]:
    r = kafka_call(s, CREATE_TOPICS, 4, {"topics": list(topics), "timeout_ms": 10_000, "validate_only": False})
    return [(t["name"], t["error_code"]) for t in r["topics"]]


def test_create_topics_checks_in_kafkas_order_and_refuses_what_kafka_refuses(conn):
    name = f"a-{uuid.uuid4().hex[:6]}"
    assert create(conn, topic(name)) == [(name, 0)]
    # existence is reported before anything else about the request
    assert create(conn, topic(name, rf=3)) == [(name, E.TOPIC_ALREADY_EXISTS)]
    assert create(conn, topic(name, no_such_config="1")) == [(name, E.TOPIC_ALREADY_EXISTS)]
    # a name given twice: refused for both, nothing created
    dup = f"d-{uuid.uuid4().hex[:6]}"
    assert create(conn, topic(dup), topic(dup)) == [(dup, E.INVALID_REQUEST), (dup, E.INVALID_REQUEST)]
    assert create(conn, topic(dup)) == [(dup, 0)]
    # replica assignments: only to this broker (id 0), never together with counts
    n7, n6, ok = (f"{p}-{uuid.uuid4().hex[:6]}" for p in ("asg7", "asg6", "asg0"))
    assert create(conn, topic(n7, -1, -1, [(0, [7])])) == [(n7, E.INVALID_REPLICA_ASSIGNMENT)]
    assert create(conn, topic(n6, 6, -1, [(0, [0])])) == [(n6, E.INVALID_REQUEST)]
    assert create(conn, topic(ok, -1, -1, [(0, [0]), (1, [0])])) == [(ok, 0)]
    # config values: null and values Kafka would refuse
    nc, bc = f"nullcfg-{uuid.uuid4().hex[:6]}", f"badcomp-{uuid.uuid4().hex[:6]}"
    assert create(conn, topic(nc, retention_ms=None)) == [(nc, E.INVALID_CONFIG)]
    assert create(conn, topic(bc, compression_type="bogus")) == [(bc, E.INVALID_CONFIG)]
    assert create(conn, topic(bc, compression_type="zstd", min_insync_replicas="1")) == [(bc, 0)]


def test_delete_topics_refuses_a_name_given_twice(conn):
    name = f"dd-{uuid.uuid4().hex[:6]}"
    assert create(conn, topic(name)) == [(name, 0)]
    r = kafka_call(conn, DELETE_TOPICS, 3, {"topic_names": [name, name], "timeout_ms": 10_000})
    assert [x["error_code"] for x in r["responses"]] == [E.INVALID_REQUEST, E.INVALID_REQUEST]
    r = kafka_call(conn, DELETE_TOPICS, 3, {"topic_names": [name], "timeout_ms": 10_000})
    assert [x["error_code"] for x in r["responses"]] == [0]


def test_alter_configs_refuses_a_null_value(conn):
    name = f"ac-{uuid.uuid4().hex[:6]}"
    assert create(conn, topic(name, retention_ms="60000")) == [(name, 0)]
    body = {"resources": [{"resource_type": 2, "resource_name": name,
                           "configs": [{"name": "retention.ms", "value": None}]}], "validate_only": False}
    assert kafka_call(conn, ALTER_CONFIGS, 1, body)["responses"][0]["error_code"] == E.INVALID_REQUEST
    cfg = kafka_call(conn, DESCRIBE_CONFIGS, 1, {"resources": [{"resource_type": 2, "resource_name": name,
                                                                 "configuration_keys": ["retention.ms"]}],
                                                  "include_synonyms": False})
    assert cfg["results"][0]["configs"][0]["value"] == "60000"  # untouched


def test_describe_configs_lists_every_topic_config_with_source_and_synonyms(broker, conn):
    name = f"dc-{uuid.uuid4().hex[:6]}"
    assert create(conn, topic(name, retention_ms="60000")) == [(name, 0)]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    entries = admin.describe_configs([res])[res].result(10)
    for key in ("compression.type", "min.insync.replicas", "cleanup.policy", "retention.ms", "segment.bytes"):
        assert key in entries, key
    assert entries["compression.type"].value == "producer"
    retention = entries["retention.ms"]
    assert retention.value == "60000" and retention.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert [(s.name, s.source) for s in retention.synonyms.values()] == [
        ("retention.ms", ConfigSource.DYNAMIC_TOPIC_CONFIG.value), ("log.retention.ms", ConfigSource.DEFAULT_CONFIG.value)]
    # an empty key list means every config, as null does; a bad name is INVALID_TOPIC_EXCEPTION
    r = kafka_call(conn, DESCRIBE_CONFIGS, 1, {"resources": [
        {"resource_type": 2, "resource_name": name, "configuration_keys": []},
        {"resource_type": 2, "resource_name": "bad/name", "configuration_keys": None}], "include_synonyms": False})
    assert len(r["results"][0]["configs"]) == len(entries)
    assert r["results"][1]["error_code"] == E.INVALID_TOPIC_EXCEPTION


def test_describe_configs_of_the_broker_resource_follows_its_name(conn):
    def broker_res(rname: str) -> dict:
        return kafka_call(conn, DESCRIBE_CONFIGS, 1, {"resources": [
            {"resource_type": 4, "resource_name": rname, "configuration_keys": None}], "include_synonyms": False})["results"][0]
    mine = broker_res("0")
    assert mine["error_code"] == 0
    got = {c["name"]: c for c in mine["configs"]}
    assert got["broker.id"]["value"] == "0" and got["broker.id"]["read_only"]
    assert "log.retention.ms" in got  # the defaults topics inherit
    assert broker_res("")["configs"] == []  # cluster-wide dynamic defaults: none
    assert broker_res("7")["error_code"] == E.INVALID_REQUEST
