from typing import Any

import pytest

from logwarden.parsers.config import ParsersConfig
from logwarden.parsers.engine import Engine

from parsers_testlib import NOW, envelope  # noqa: F401  (re-exported for tests)


@pytest.fixture
def engine() -> Engine:
    return Engine(ParsersConfig(timezone="UTC"), now=NOW)


@pytest.fixture
def parse(engine: Engine):
    def run(line: str, fmt: str | None = None, **extra: Any):
        raw = envelope(line, **extra)
        if fmt:
            raw["fields"] = {"log_format": fmt}
        return engine.parse(raw)
    return run
