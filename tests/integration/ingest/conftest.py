import pytest

from ingest_testlib import RunningIngest


@pytest.fixture
def run_ingest():
    started: list[RunningIngest] = []

    def start(cfg) -> RunningIngest:
        r = RunningIngest(cfg)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()

