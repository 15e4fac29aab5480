"""Request and response schemas of every API this broker serves, per version.

Transcribed from Apache Kafka's clients/src/main/resources/common/message/*.json, limited
to the version ranges real clients here negotiate (confluent-kafka/librdkafka, kcat and
rsyslog's older Debian librdkafka, kafka-python, aiokafka). Only ApiVersions v3 is a
flexible version in these ranges; ApiVersions' response header is v0 in every version.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .types import (BOOL, BYTES, INT8, INT16, INT32, INT64, NSTRING, RECORDS, STRING,
                    Array, Codec, F, NArray, Struct, Type)


@dataclass
class Api:
    key: int
    name: str
    min_version: int
    max_version: int
    request: Type
    response: Type
    flexible_from: int = 1 << 15
    _cache: dict[tuple[int, bool], tuple[Codec, Codec]] = field(default_factory=dict, repr=False)

    def codecs(self, version: int) -> tuple[Codec, Codec]:
        """(request codec, response codec) for `version`, compiled once."""
        flex = version >= self.flexible_from
        got = self._cache.get((version, flex))
        if got is None:
            got = (self.request.compile(version, flex), self.response.compile(version, flex))
            self._cache[(version, flex)] = got
        return got

    def flexible(self, version: int) -> bool:
        return version >= self.flexible_from


PRODUCE = Api(0, "Produce", 3, 8,
    Struct(
        F("transactional_id", NSTRING, "3+"),
        F("acks", INT16), F("timeout_ms", INT32),
        F("topics", Array(Struct(
            F("name", STRING),
            F("partitions", Array(Struct(F("index", INT32), F("records", RECORDS)))))))),
    Struct(
        F("responses", Array(Struct(
            F("name", STRING),
            F("partitions", Array(Struct(
                F("index", INT32), F("error_code", INT16), F("base_offset", INT64),
                F("log_append_time_ms", INT64, "2+", -1), F("log_start_offset", INT64, "5+", -1),
                F("record_errors", Array(Struct(F("batch_index", INT32), F("batch_index_error_message", NSTRING))), "8+"),
                F("error_message", NSTRING, "8+"))))))),
        F("throttle_time_ms", INT32, "1+")))

FETCH = Api(1, "Fetch", 4, 11,
    Struct(
        F("replica_id", INT32), F("max_wait_ms", INT32), F("min_bytes", INT32),
        F("max_bytes", INT32, "3+", 0x7FFFFFFF), F("isolation_level", INT8, "4+"),
        F("session_id", INT32, "7+"), F("session_epoch", INT32, "7+", -1),
        F("topics", Array(Struct(
            F("topic", STRING),
            F("partitions", Array(Struct(
                F("partition", INT32), F("current_leader_epoch", INT32, "9+", -1),
                F("fetch_offset", INT64), F("log_start_offset", INT64, "5+", -1),
                F("partition_max_bytes", INT32))))))),
        F("forgotten_topics_data", Array(Struct(F("topic", STRING), F("partitions", Array(INT32)))), "7+"),
        F("rack_id", STRING, "11+")),
    Struct(
        F("throttle_time_ms", INT32, "1+"), F("error_code", INT16, "7+"), F("session_id", INT32, "7+"),
        F("responses", Array(Struct(
            F("topic", STRING),
            F("partitions", Array(Struct(
                F("partition_index", INT32), F("error_code", INT16), F("high_watermark", INT64),
                F("last_stable_offset", INT64, "4+", -1), F("log_start_offset", INT64, "5+", -1),
                F("aborted_transactions", NArray(Struct(F("producer_id", INT64), F("first_offset", INT64))), "4+"),
                F("preferred_read_replica", INT32, "11+", -1),
                F("records", RECORDS)))))))))

LIST_OFFSETS = Api(2, "ListOffsets", 1, 5,
    Struct(
        F("replica_id", INT32), F("isolation_level", INT8, "2+"),
        F("topics", Array(Struct(
            F("name", STRING),
            F("partitions", Array(Struct(
                F("partition_index", INT32), F("current_leader_epoch", INT32, "4+", -1),
                F("timestamp", INT64)))))))),
    Struct(
        F("throttle_time_ms", INT32, "2+"),
        F("topics", Array(Struct(
            F("name", STRING),
            F("partitions", Array(Struct(
                F("partition_index", INT32), F("error_code", INT16),
                F("timestamp", INT64, "1+", -1), F("offset", INT64, "1+", -1),
                F("leader_epoch", INT32, "4+", -1)))))))))

METADATA = Api(3, "Metadata", 0, 8,
    Struct(
        F("topics", Array(Struct(F("name", STRING))), "0"),
        F("topics", NArray(Struct(F("name", STRING))), "1+"),
        F("allow_auto_topic_creation", BOOL, "4+", True),
        F("include_cluster_authorized_operations", BOOL, "8+"),
        F("include_topic_authorized_operations", BOOL, "8+")),
    Struct(
        F("throttle_time_ms", INT32, "3+"),
        F("brokers", Array(Struct(F("node_id", INT32), F("host", STRING), F("port", INT32), F("rack", NSTRING, "1+")))),
        F("cluster_id", NSTRING, "2+"), F("controller_id", INT32, "1+", -1),
        F("topics", Array(Struct(
            F("error_code", INT16), F("name", STRING), F("is_internal", BOOL, "1+"),
            F("partitions", Array(Struct(
                F("error_code", INT16), F("partition_index", INT32), F("leader_id", INT32),
                F("leader_epoch", INT32, "7+", 0), F("replica_nodes", Array(INT32)),
                F("isr_nodes", Array(INT32)), F("offline_replicas", Array(INT32), "5+")))),
            F("topic_authorized_operations", INT32, "8+", -2147483648)))),
        F("cluster_authorized_operations", INT32, "8+", -2147483648)))

OFFSET_COMMIT = Api(8, "OffsetCommit", 2, 7,
    Struct(
        F("group_id", STRING), F("generation_id", INT32, "1+", -1), F("member_id", STRING, "1+"),
        F("group_instance_id", NSTRING, "7+"), F("retention_time_ms", INT64, "2-4", -1),
        F("topics", Array(Struct(
            F("name", STRING),
            F("partitions", Array(Struct(
                F("partition_index", INT32), F("committed_offset", INT64),
                F("committed_leader_epoch", INT32, "6+", -1), F("commit_timestamp", INT64, "1"),
                F("committed_metadata", NSTRING)))))))),
    Struct(
        F("throttle_time_ms", INT32, "3+"),
        F("topics", Array(Struct(
            F("name", STRING),
            F("partitions", Array(Struct(F("partition_index", INT32), F("error_code", INT16)))))))))

OFFSET_FETCH = Api(9, "OffsetFetch", 1, 5,
    Struct(
        F("group_id", STRING),
        F("topics", Array(Struct(F("name", STRING), F("partition_indexes", Array(INT32)))), "0-1"),
        F("topics", NArray(Struct(F("name", STRING), F("partition_indexes", Array(INT32)))), "2+")),
    Struct(
        F("throttle_time_ms", INT32, "3+"),
        F("topics", Array(Struct(
            F("name", STRING),
            F("partitions", Array(Struct(
                F("partition_index", INT32), F("committed_offset", INT64),
                F("committed_leader_epoch", INT32, "5+", -1), F("metadata", NSTRING),
                F("error_code", INT16))))))),
        F("error_code", INT16, "2+")))

FIND_COORDINATOR = Api(10, "FindCoordinator", 0, 2,
    Struct(F("key", STRING), F("key_type", INT8, "1+")),
    Struct(
        F("throttle_time_ms", INT32, "1+"), F("error_code", INT16), F("error_message", NSTRING, "1+"),
        F("node_id", INT32), F("host", STRING), F("port", INT32)))

JOIN_GROUP = Api(11, "JoinGroup", 0, 5,
    Struct(
        F("group_id", STRING), F("session_timeout_ms", INT32), F("rebalance_timeout_ms", INT32, "1+", -1),
        F("member_id", STRING), F("group_instance_id", NSTRING, "5+"), F("protocol_type", STRING),
        F("protocols", Array(Struct(F("name", STRING), F("metadata", BYTES))))),
    Struct(
        F("throttle_time_ms", INT32, "2+"), F("error_code", INT16), F("generation_id", INT32, "0+", -1),
        F("protocol_name", STRING), F("leader", STRING), F("member_id", STRING),
        F("members", Array(Struct(F("member_id", STRING), F("group_instance_id", NSTRING, "5+"), F("metadata", BYTES))))))

HEARTBEAT = Api(12, "Heartbeat", 0, 3,
    Struct(F("group_id", STRING), F("generation_id", INT32), F("member_id", STRING), F("group_instance_id", NSTRING, "3+")),
    Struct(F("throttle_time_ms", INT32, "1+"), F("error_code", INT16)))

LEAVE_GROUP = Api(13, "LeaveGroup", 0, 3,
    Struct(
        F("group_id", STRING), F("member_id", STRING, "0-2"),
        F("members", Array(Struct(F("member_id", STRING), F("group_instance_id", NSTRING))), "3+")),
    Struct(
        F("throttle_time_ms", INT32, "1+"), F("error_code", INT16),
        F("members", Array(Struct(F("member_id", STRING), F("group_instance_id", NSTRING), F("error_code", INT16))), "3+")))

SYNC_GROUP = Api(14, "SyncGroup", 0, 3,
    Struct(
        F("group_id", STRING), F("generation_id", INT32), F("member_id", STRING),
        F("group_instance_id", NSTRING, "3+"),
        F("assignments", Array(Struct(F("member_id", STRING), F("assignment", BYTES))))),
    Struct(F("throttle_time_ms", INT32, "1+"), F("error_code", INT16), F("assignment", BYTES)))

DESCRIBE_GROUPS = Api(15, "DescribeGroups", 0, 4,
    Struct(F("groups", Array(STRING)), F("include_authorized_operations", BOOL, "3+", False)),
    Struct(
        F("throttle_time_ms", INT32, "1+"),
        F("groups", Array(Struct(
            F("error_code", INT16), F("group_id", STRING), F("group_state", STRING),
            F("protocol_type", STRING), F("protocol_data", STRING),
            F("members", Array(Struct(
                F("member_id", STRING), F("group_instance_id", NSTRING, "4+", None), F("client_id", STRING),
                F("client_host", STRING), F("member_metadata", BYTES), F("member_assignment", BYTES)))),
            F("authorized_operations", INT32, "3+", -2147483648))))))

LIST_GROUPS = Api(16, "ListGroups", 0, 2,
    Struct(),
    Struct(F("throttle_time_ms", INT32, "1+"), F("error_code", INT16),
           F("groups", Array(Struct(F("group_id", STRING), F("protocol_type", STRING))))))

SASL_HANDSHAKE = Api(17, "SaslHandshake", 0, 1,
    Struct(F("mechanism", STRING)),
    Struct(F("error_code", INT16), F("mechanisms", Array(STRING))))

API_VERSIONS = Api(18, "ApiVersions", 0, 3,
    Struct(F("client_software_name", STRING, "3+"), F("client_software_version", STRING, "3+")),
    Struct(
        F("error_code", INT16),
        F("api_keys", Array(Struct(F("api_key", INT16), F("min_version", INT16), F("max_version", INT16)))),
        F("throttle_time_ms", INT32, "1+")),
    flexible_from=3)

CREATE_TOPICS = Api(19, "CreateTopics", 2, 4,
    Struct(
        F("topics", Array(Struct(
            F("name", STRING), F("num_partitions", INT32), F("replication_factor", INT16),
            F("assignments", Array(Struct(F("partition_index", INT32), F("broker_ids", Array(INT32))))),
            F("configs", Array(Struct(F("name", STRING), F("value", NSTRING))))))),
        F("timeout_ms", INT32), F("validate_only", BOOL, "1+")),
    Struct(
        F("throttle_time_ms", INT32, "2+"),
        F("topics", Array(Struct(F("name", STRING), F("error_code", INT16), F("error_message", NSTRING, "1+"))))))

DELETE_TOPICS = Api(20, "DeleteTopics", 1, 3,
    Struct(F("topic_names", Array(STRING)), F("timeout_ms", INT32)),
    Struct(F("throttle_time_ms", INT32, "1+"),
           F("responses", Array(Struct(F("name", STRING), F("error_code", INT16))))))

INIT_PRODUCER_ID = Api(22, "InitProducerId", 0, 1,
    Struct(F("transactional_id", NSTRING), F("transaction_timeout_ms", INT32)),
    Struct(F("throttle_time_ms", INT32), F("error_code", INT16), F("producer_id", INT64, "0+", -1),
           F("producer_epoch", INT16, "0+", -1)))

DESCRIBE_CONFIGS = Api(32, "DescribeConfigs", 1, 3,
    Struct(
        F("resources", Array(Struct(
            F("resource_type", INT8), F("resource_name", STRING), F("configuration_keys", NArray(STRING))))),
        F("include_synonyms", BOOL, "1+"), F("include_documentation", BOOL, "3+")),
    Struct(
        F("throttle_time_ms", INT32),
        F("results", Array(Struct(
            F("error_code", INT16), F("error_message", NSTRING), F("resource_type", INT8), F("resource_name", STRING),
            F("configs", Array(Struct(
                F("name", STRING), F("value", NSTRING), F("read_only", BOOL), F("is_default", BOOL, "0"),
                F("config_source", INT8, "1+", 5), F("is_sensitive", BOOL),
                F("synonyms", Array(Struct(F("name", STRING), F("value", NSTRING), F("source", INT8))), "1+"),
                F("config_type", INT8, "3+"), F("documentation", NSTRING, "3+")))))))))

ALTER_CONFIGS = Api(33, "AlterConfigs", 0, 1,
    Struct(
        F("resources", Array(Struct(
            F("resource_type", INT8), F("resource_name", STRING),
            F("configs", Array(Struct(F("name", STRING), F("value", NSTRING))))))),
        F("validate_only", BOOL)),
    Struct(
        F("throttle_time_ms", INT32),
        F("responses", Array(Struct(F("error_code", INT16), F("error_message", NSTRING),
                                    F("resource_type", INT8), F("resource_name", STRING))))))

CREATE_PARTITIONS = Api(37, "CreatePartitions", 0, 1,
    Struct(
        F("topics", Array(Struct(
            F("name", STRING), F("count", INT32),
            F("assignments", NArray(Struct(F("broker_ids", Array(INT32)))))))),
        F("timeout_ms", INT32), F("validate_only", BOOL)),
    Struct(
        F("throttle_time_ms", INT32),
        F("results", Array(Struct(F("name", STRING), F("error_code", INT16), F("error_message", NSTRING))))))

INCREMENTAL_ALTER_CONFIGS = Api(44, "IncrementalAlterConfigs", 0, 1,
    Struct(
        F("resources", Array(Struct(
            F("resource_type", INT8), F("resource_name", STRING),
            F("configs", Array(Struct(F("name", STRING), F("config_operation", INT8), F("value", NSTRING))))))),
        F("validate_only", BOOL)),
    Struct(
        F("throttle_time_ms", INT32),
        F("responses", Array(Struct(F("error_code", INT16), F("error_message", NSTRING),
                                    F("resource_type", INT8), F("resource_name", STRING))))),
    flexible_from=1)

DELETE_GROUPS = Api(42, "DeleteGroups", 0, 1,
    Struct(F("groups_names", Array(STRING))),
    Struct(F("throttle_time_ms", INT32),
           F("results", Array(Struct(F("group_id", STRING), F("error_code", INT16))))))

SASL_AUTHENTICATE = Api(36, "SaslAuthenticate", 0, 1,
    Struct(F("auth_bytes", BYTES)),
    Struct(F("error_code", INT16), F("error_message", NSTRING), F("auth_bytes", BYTES),
           F("session_lifetime_ms", INT64, "1+")))

APIS: dict[int, Api] = {a.key: a for a in (
    PRODUCE, FETCH, LIST_OFFSETS, METADATA, OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR,
    JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP, DESCRIBE_GROUPS, LIST_GROUPS,
    SASL_HANDSHAKE, API_VERSIONS, CREATE_TOPICS, DELETE_TOPICS, INIT_PRODUCER_ID,
    DESCRIBE_CONFIGS, ALTER_CONFIGS, SASL_AUTHENTICATE, CREATE_PARTITIONS, DELETE_GROUPS, INCREMENTAL_ALTER_CONFIGS)}


def api_versions_table() -> list[dict[str, Any]]:
    return [{"api_key": a.key, "min_version": a.min_version, "max_version": a.max_version}
            for a in sorted(APIS.values(), key=lambda a: a.key)]
