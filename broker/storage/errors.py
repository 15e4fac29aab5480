"""Storage errors, each carrying the Kafka error code the protocol layer answers with.

The storage layer never speaks the wire protocol, but every refusal it makes has exactly
one Kafka meaning; keeping the code beside the exception stops the two from drifting.
"""


class StorageError(Exception):
    kafka_error_code: int = -1  # UNKNOWN_SERVER_ERROR


class CorruptRecordError(StorageError):
    """Bad CRC, bad length, bad magic or a malformed batch header."""
    kafka_error_code = 2  # CORRUPT_MESSAGE


class RecordTooLargeError(StorageError):
    """A batch larger than max.message.bytes (or than a whole segment)."""
    kafka_error_code = 10  # MESSAGE_TOO_LARGE


class RecordBatchTooLargeError(StorageError):
    """The batches of one produce do not fit in a segment (segment.bytes): Kafka's
    RecordBatchTooLargeException, which producers do not retry by splitting."""
    kafka_error_code = 18  # RECORD_LIST_TOO_LARGE


class InvalidRecordError(StorageError):
    """A well-formed batch the topic refuses, e.g. a record without key on a compacted topic."""
    kafka_error_code = 87  # INVALID_RECORD


class KafkaStorageError(StorageError):
    """The disk refused a write (ENOSPC, EIO, EFBIG); nothing of the request was kept."""
    kafka_error_code = 56  # KAFKA_STORAGE_ERROR


class OffsetOutOfRangeError(StorageError):
    kafka_error_code = 1  # OFFSET_OUT_OF_RANGE


class UnknownTopicError(StorageError):
    kafka_error_code = 3  # UNKNOWN_TOPIC_OR_PARTITION


class UnknownPartitionError(StorageError):
    kafka_error_code = 3  # UNKNOWN_TOPIC_OR_PARTITION


class TopicExistsError(StorageError):
    kafka_error_code = 36  # TOPIC_ALREADY_EXISTS


class InvalidTopicError(StorageError):
    kafka_error_code = 17  # INVALID_TOPIC_EXCEPTION


class InvalidPartitionsError(StorageError):
    kafka_error_code = 37  # INVALID_PARTITIONS


class InvalidConfigError(StorageError):
    kafka_error_code = 40  # INVALID_CONFIG
