"""Configuration of the search index sink (`index:` in logwarden.yml)."""
from typing import Literal

from pydantic import Field

from logwarden.model import Listen, Model


class ArchiveConfig(Model):
    enabled: bool = Field(False, description="Also write every ECS event to gzip-compressed NDJSON files, one per hour, under <data_dir>/archive.")


class IndexConfig(Model):
    type: Literal["embedded", "elasticsearch", "opensearch"] = Field("embedded", description="embedded (tantivy in the data dir), elasticsearch (the official client; Elasticsearch 8/9) or opensearch (opensearch-py; OpenSearch 2.x).")
    commit_interval_ms: int = Field(1000, ge=50, description="How often the embedded index commits; offsets are committed after it.")
    commit_max_docs: int = Field(200_000, ge=1000, description="Also commit the embedded index when this many documents are pending, between checkpoints (offsets still move only at checkpoints).")
    retention_days: float | None = Field(None, gt=0, description="Delete events (and, embedded, alerts) older than this many days, hourly: by @timestamp in the embedded index, whole daily indices on Elasticsearch. Empty keeps everything.")
    writer_heap_bytes: int = Field(128_000_000, ge=16_000_000, description="Indexing memory of the embedded index writer before it flushes a segment.")
    writer_threads: int = Field(1, ge=1, le=16, description="tantivy indexing threads of the embedded index writer; more only helps with idle cores (the heap is shared among them).")
    elasticsearch_url: str | None = Field(None, description="Elasticsearch or OpenSearch endpoint when type is elasticsearch or opensearch.")
    elasticsearch_username: str | None = Field(None, description="Basic-auth user for Elasticsearch or OpenSearch.")
    elasticsearch_password: str | None = Field(None, description="Basic-auth password; use ${ENV_VAR} rather than a literal.")
    elasticsearch_api_key: str | None = Field(None, description="Elasticsearch API key (base64 id:key) instead of basic auth; not for OpenSearch.")
    elasticsearch_ca_certs: str | None = Field(None, description="CA bundle that signed the cluster's certificate.")
    index_prefix: str = Field("logwarden", description="Elasticsearch/OpenSearch index names: <prefix>-events-YYYY.MM.DD and <prefix>-alerts.")
    bulk_max_actions: int = Field(5000, ge=1, le=100_000, description="Documents per _bulk request.")
    bulk_max_bytes: int = Field(10_000_000, ge=10_000, description="Largest _bulk request body in bytes.")
    bulk_max_retries: int = Field(5, ge=0, le=100, description="Retries of 429/5xx items (and whole failed requests) before the batch fails and is redelivered.")
    bulk_retry_backoff_ms: int = Field(200, ge=1, description="First retry delay; doubles per retry.")
    count_events: bool | None = Field(None, description="Which process counts the metrics feed's per-event metrics (logwarden_events_total, HTTP status, delay). true: the index stage, from the events it decodes anyway, and `logwarden worker metrics` reads only logs.dlq; false: the metrics worker reads logs.ecs as well. Empty: true under `logwarden up` (its /metrics aggregates every process), false for workers run on their own (there only the metrics worker serves /metrics).")
    metrics_listen: Listen | None = Field(None, description="HOST:PORT where `logwarden worker metrics` serves /metrics when run on its own; under `logwarden up` the HTTP app aggregates every process instead.")
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig, description="Compressed NDJSON archive of the ECS events.")
