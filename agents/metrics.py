"""The agent's own counters, as Prometheus metrics and as plain numbers for logs and tests.

Names follow logwarden_<component>_<what>_<unit|total>; the supervisor's multiprocess
directory makes them show up on the HTTP app's /metrics.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from prometheus_client import Counter, Gauge

from logwarden import metrics as core

LINES = Counter("logwarden_agent_lines_read_total", "Records (lines, or joined multiline records) read from files.")
BYTES = Counter("logwarden_agent_read_bytes_total", "Bytes read from files.")
SENT = Counter("logwarden_agent_sent_events_total", "Records the broker acknowledged (acks=all), replays from the spool included.")
# The same events on the component-wide series every stage reports (UI overview, alerts on errors).
CORE_RECEIVED = core.RECEIVED.labels("agent")
CORE_SENT = core.SENT.labels("agent")
CORE_DROPPED = core.ERRORS.labels("agent", "dropped")
SPOOLED = Counter("logwarden_agent_spooled_events_total", "Records written to the disk spool because the broker did not take them.")
DROPPED = Counter("logwarden_agent_dropped_events_total", "Records the broker rejected for good (e.g. larger than its maximum message size).")
TRUNCATED = Counter("logwarden_agent_truncated_lines_total", "Lines cut to max_line_bytes.")
FILES = Gauge("logwarden_agent_open_files", "Files currently open.", multiprocess_mode="livesum")
SPOOL_BYTES = Gauge("logwarden_agent_spool_bytes", "Bytes in the disk spool.", multiprocess_mode="livesum")
INFLIGHT = Gauge("logwarden_agent_inflight_events", "Records produced and not yet acknowledged or spooled.", multiprocess_mode="livesum")
# A harvester held back or stuck shows as lag that grows while lines_read stands still.
LAG_BYTES = Gauge("logwarden_agent_lag_bytes", "Bytes of open files not read yet (size minus read position), all files.", multiprocess_mode="livesum")
FILE_LAG_BYTES = Gauge("logwarden_agent_file_lag_bytes", "Bytes not read yet per path; rotated files count under the path they were opened at.",
                       ["path"], multiprocess_mode="livesum")
_lag_paths: set[str] = set()


def publish_lag(by_path: dict[str, int]) -> None:
    """Set the lag gauges from {path: unread bytes}; paths no longer open drop to 0 and go."""
    LAG_BYTES.set(sum(by_path.values()))
    for path, n in by_path.items():
        FILE_LAG_BYTES.labels(path).set(n)
    for path in _lag_paths - by_path.keys():
        FILE_LAG_BYTES.labels(path).set(0)  # multiprocess files keep a removed series' last value
        FILE_LAG_BYTES.remove(path)
    _lag_paths.clear()
    _lag_paths.update(by_path)


@dataclass
class Stats:
    """Plain counters, bumped per record on the hot path (a Prometheus inc costs ~3 us);
    `publish` moves their growth into the Prometheus series every registry flush."""

    lines_read: int = 0
    bytes_read: int = 0
    sent: int = 0
    spooled: int = 0
    dropped: int = 0
    truncated: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_published = Stats()
_SERIES = {"lines_read": (LINES, CORE_RECEIVED), "bytes_read": (BYTES,), "sent": (SENT, CORE_SENT),
           "spooled": (SPOOLED,), "dropped": (DROPPED, CORE_DROPPED), "truncated": (TRUNCATED,)}


def publish(stats: Stats) -> None:
    """Add what `stats` counted since the last call to the Prometheus counters."""
    for name, series in _SERIES.items():
        delta = getattr(stats, name) - getattr(_published, name)
        if delta > 0:
            for s in series:
                s.inc(delta)
            setattr(_published, name, getattr(stats, name))
