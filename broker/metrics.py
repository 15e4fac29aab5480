"""The broker's own Prometheus series (logwarden_broker_*), plus the component-wide series
every stage reports (logwarden_component_*{component="broker"}).

Counted per request or per batch, never per record: a Prometheus increment costs a few
microseconds, and a Produce request carries thousands of records.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge

try:
    from logwarden import metrics as core
except ImportError:  # the broker branch predates logwarden/metrics.py; main has it
    core = None

REQUESTS = Counter("logwarden_broker_requests_total", "Kafka requests handled, by API.", ["api"])
PRODUCED_RECORDS = Counter("logwarden_broker_produced_records_total", "Records appended to partition logs by Produce.")
PRODUCED_BYTES = Counter("logwarden_broker_produced_bytes_total", "Record-batch bytes appended by Produce.")
FETCHED_BYTES = Counter("logwarden_broker_fetched_bytes_total", "Record-batch bytes returned by Fetch.")
PRODUCE_ERRORS = Counter("logwarden_broker_produce_errors_total", "Partitions of Produce requests refused, by Kafka error code.", ["error_code"])
CLOSED = Counter("logwarden_broker_closed_connections_total", "Connections the broker closed because of what the peer sent.", ["reason"])
CONNECTIONS = Gauge("logwarden_broker_connections", "Open client connections.", multiprocess_mode="livesum")

CORE_RECEIVED = core.RECEIVED.labels("broker") if core else Counter("logwarden_broker_received_records_total", "Records received by Produce.")
CORE_SENT = core.SENT.labels("broker") if core else Counter("logwarden_broker_appended_records_total", "Records appended by Produce.")

_requests: dict[str, Counter] = {}


def request(api_name: str) -> None:
    c = _requests.get(api_name)
    if c is None:
        c = _requests[api_name] = REQUESTS.labels(api_name)
    c.inc()


def produce_error(code: int) -> None:
    PRODUCE_ERRORS.labels(str(code)).inc()
    if core:
        core.ERRORS.labels("broker", "produce_refused").inc()


def closed(reason: str) -> None:
    CLOSED.labels(reason).inc()
