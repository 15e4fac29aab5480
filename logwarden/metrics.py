"""Prometheus metrics shared by every stage.

In `logwarden up` the supervisor sets PROMETHEUS_MULTIPROC_DIR so that every child
process writes its samples to a shared directory and the HTTP app's /metrics endpoint
aggregates them; a stage run on its own still counts in-process.
"""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

RECEIVED = Counter("logwarden_component_received_events_total", "Events a component consumed.", ["component"])
SENT = Counter("logwarden_component_sent_events_total", "Events a component produced or wrote durably.", ["component"])
ERRORS = Counter("logwarden_component_errors_total", "Events a component failed on (dead-lettered or retried).", ["component", "kind"])
# Set by the worker shell (logwarden/worker.py) once per checkpoint from its own partitions;
# livesum adds the processes of one stage (each holds different partitions) and forgets dead ones.
LAG = Gauge("logwarden_component_consumer_lag_events", "Events behind the log end offset, per consumer stage (its processes summed).",
            ["component"], multiprocess_mode="livesum")


def exposition() -> bytes:
    """Prometheus text for this process, or for all processes in multiprocess mode."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path and os.path.isdir(path):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        return generate_latest(registry)
    return generate_latest()
