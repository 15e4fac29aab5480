"""The broker's own Prometheus series (logwarden_broker_*), plus the component-wide series
every stage reports (logwarden_component_*{component="broker"}).

The hot path only bumps plain integers in STATS (a Prometheus increment costs a few
microseconds, several per request would be a sizeable share of a small Produce);
`publish()` moves their growth into the Prometheus series, once a second from the
service loop. Rare events (refusals, closed connections) go to Prometheus directly.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge

from logwarden import metrics as core

REQUESTS = Counter("logwarden_broker_requests_total", "Kafka requests handled, by API.", ["api"])
PRODUCED_RECORDS = Counter("logwarden_broker_produced_records_total", "Records appended to partition logs by Produce.")
PRODUCED_BYTES = Counter("logwarden_broker_produced_bytes_total", "Record-batch bytes appended by Produce.")
FETCHED_BYTES = Counter("logwarden_broker_fetched_bytes_total", "Record-batch bytes returned by Fetch.")
PRODUCE_ERRORS = Counter("logwarden_broker_produce_errors_total", "Partitions of Produce requests refused, by Kafka error code.", ["error_code"])
CLOSED = Counter("logwarden_broker_closed_connections_total", "Connections the broker closed because of what the peer sent.", ["reason"])
CONNECTIONS = Gauge("logwarden_broker_connections", "Open client connections.", multiprocess_mode="livesum")

CORE_RECEIVED = core.RECEIVED.labels("broker")
CORE_SENT = core.SENT.labels("broker")



class Stats:
    __slots__ = ("requests", "produced_records", "produced_bytes", "fetched_bytes")

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.produced_records = 0
        self.produced_bytes = 0
        self.fetched_bytes = 0


STATS = Stats()
_published = Stats()


def request(api_name: str) -> None:
    r = STATS.requests
    r[api_name] = r.get(api_name, 0) + 1


def publish() -> None:
    """Move what STATS gained since the last call into the Prometheus series."""
    for api, n in list(STATS.requests.items()):
        done = _published.requests.get(api, 0)
        if n > done:
            REQUESTS.labels(api).inc(n - done)
            _published.requests[api] = n
    for name, series in (("produced_records", (PRODUCED_RECORDS, CORE_RECEIVED, CORE_SENT)),
                         ("produced_bytes", (PRODUCED_BYTES,)), ("fetched_bytes", (FETCHED_BYTES,))):
        grown = getattr(STATS, name) - getattr(_published, name)
        if grown:
            for c in series:
                c.inc(grown)
            setattr(_published, name, getattr(STATS, name))


def produce_error(code: int) -> None:
    PRODUCE_ERRORS.labels(str(code)).inc()
    if core:
        core.ERRORS.labels("broker", "produce_refused").inc()


def closed(reason: str) -> None:
    CLOSED.labels(reason).inc()
