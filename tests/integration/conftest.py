"""Fixtures of the integration layer."""
from __future__ import annotations

import pytest


@pytest.fixture
def conn(broker):
    """A plain connection to the module's `broker` (raw request frames with kafka_call)."""
    with broker.connect() as s:
        yield s
