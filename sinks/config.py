"""Configuration of the search index sink (`index:` in logwarden.yml)."""
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

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


_FEED_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def label_name(field: str) -> str:
    """The Prometheus label a field's values go under: dots become underscores (`http.response.status_code` -> `http_response_status_code`)."""
    return field.replace(".", "_").replace("@", "")


class FeedConfig(Model):
    """One log-to-metric feed (`metrics.feeds[]`): exported as logwarden_feed_<name>."""

    name: str = Field(..., description="The metric's name after the logwarden_feed_ prefix: letters, digits and underscores (a Prometheus metric name).")
    type: Literal["counter", "histogram"] = Field("counter", description="counter: events matching query; histogram: the numeric value of field in matching events.")
    query: str = Field("*", description="Which events count, in the search query language: field:value, wildcards and ranges on keyword and numeric fields, CIDR, _exists_, AND/OR/NOT. Full text, regular expressions and date fields are refused.")
    labels: list[str] = Field([], description="ECS fields whose values label the series (dots become underscores in the label name); a missing field is an empty label.")
    field: str | None = Field(None, description="histogram: the numeric ECS field observed (e.g. http.response.body.bytes); events without a number there are not observed.")
    buckets: list[float] = Field([100, 1000, 10_000, 100_000, 1_000_000], description="histogram: the upper bounds of the buckets, ascending (+Inf is added).")
    max_series: int = Field(1000, ge=1, le=100_000, description="Label sets kept per feed (per process); events with a new label set beyond it count in one series labelled __other__, and logwarden_feed_overflow_events_total{feed} counts them.")
    description: str | None = Field(None, description="The metric's HELP text; empty: the feed's name and query.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _FEED_NAME.fullmatch(v):
            raise ValueError(f"a metric name is letters, digits and underscores, not starting with a digit; got {v!r}")
        if v.removesuffix("_total") == "overflow_events":
            raise ValueError("overflow_events is taken: logwarden_feed_overflow_events_total counts the events beyond max_series")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        names = [label_name(f) for f in v]
        for f, n in zip(v, names):
            if not _LABEL_NAME.fullmatch(n) or n.startswith("__"):
                raise ValueError(f"{f!r} does not make a Prometheus label name ({n!r})")
        if len(set(names)) != len(names):
            raise ValueError(f"two labels map to the same label name: {names}")
        return v

    @model_validator(mode="after")
    def _check(self) -> "FeedConfig":
        from logwarden.sinks.feeds import compile_query

        if self.type == "histogram":
            if not self.field:
                raise ValueError("a histogram feed needs field: the numeric ECS field it observes")
            if not self.buckets or any(b >= c for b, c in zip(self.buckets, self.buckets[1:])):
                raise ValueError(f"buckets must be ascending and not empty, got {self.buckets}")
        elif self.field:
            raise ValueError("field is for histogram feeds; a counter counts events")
        try:
            compile_query(self.query)
        except ValueError as exc:
            raise ValueError(f"query {self.query!r}: {exc}") from exc
        return self


class MetricsConfig(Model):
    """`metrics:` in logwarden.yml: log-to-metric feeds on /metrics and the metrics topic."""

    feeds: list[FeedConfig] = Field([], description="Counters and histograms derived from ECS events, counted wherever the per-event metrics are (index.count_events), exported on /metrics as logwarden_feed_<name> and produced to topics.metrics as JSON samples.")
    sample_interval_ms: int = Field(10_000, ge=100, description="How often every feed series is produced to topics.metrics as one JSON sample (cumulative since the counting process started).")

    @field_validator("feeds")
    @classmethod
    def _unique(cls, v: list[FeedConfig]) -> list[FeedConfig]:
        names = [f.name.removesuffix("_total") for f in v]   # a counter `x` is exported as x_total
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"feed names must be unique: {dup}")
        return v
