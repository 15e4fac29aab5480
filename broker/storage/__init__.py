"""The broker's storage: topics -> partitions -> segment files of Kafka v2 record batches.

Modules: batch (sans-IO header parsing and validation), index (sparse offset and time
indexes), segment (one .log/.index/.timeindex triple), log (PartitionLog), cleaner
(compaction), records (decoding inside batches, off the hot path), manager (LogManager).
"""
from .config import LogConfig
from .errors import (CorruptRecordError, InvalidConfigError, InvalidPartitionsError, InvalidRecordError,
                     InvalidTopicError, KafkaStorageError, OffsetOutOfRangeError, RecordBatchTooLargeError,
                     RecordTooLargeError, StorageError, TopicExistsError, UnknownPartitionError, UnknownTopicError)
from .log import PartitionLog, ReadSlice
from .manager import INTERNAL_TOPICS, LogDirLockedError, LogManager, is_internal_topic, validate_topic_name

__all__ = [
    "LogConfig", "PartitionLog", "ReadSlice", "LogManager", "LogDirLockedError", "validate_topic_name",
    "INTERNAL_TOPICS", "is_internal_topic",
    "StorageError", "CorruptRecordError", "RecordTooLargeError", "RecordBatchTooLargeError", "OffsetOutOfRangeError", "InvalidRecordError", "KafkaStorageError",
    "UnknownTopicError", "UnknownPartitionError", "TopicExistsError", "InvalidTopicError",
    "InvalidPartitionsError", "InvalidConfigError",
]
