"""Garbage-collector settings for the consumer stages (`logwarden worker NAME`).

A stage decodes each batch of up to 5,000 records into fresh dicts and lists. With
CPython's default thresholds (700, 10, 10) that many container allocations run about a
hundred young collections per batch, middle ones over the survivors, and now and then a full
collection that walks every object the process has imported (~50k). Profiled
under `bench/e2e.py`, collection was 27 % of the index stage's main thread and most of the
metrics stage's `orjson.loads`; in isolation a 5,000-document batch decodes in 13.6 µs per
document with the defaults and 4.4 µs with this policy.

The decoded events are acyclic and die with their batch (reference counting frees them),
so collecting rarely loses nothing: the objects alive at startup are frozen out of the
collector's view, and young collections run every 100k allocations instead of 700. Cycles
that a stage does create are still collected, later.
"""
from __future__ import annotations

import gc

YOUNG_THRESHOLD = 100_000   # container allocations between young collections (default 700)
MIDDLE_THRESHOLD = 50       # young collections per middle one (default 10)
OLD_THRESHOLD = 1_000       # middle collections per full one (default 10); CPython also waits for 25 % growth


def for_batch_worker() -> None:
    """Apply the policy to this process: call once, after the stage's modules are imported."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
