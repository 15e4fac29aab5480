"""Fixtures shared by every test layer."""
from __future__ import annotations

import os

import pytest

from lwtest import free_port


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a test must not skip for want of a tool: `.ci/run` installs kcat, rsyslog and
    Chromium, so such a skip means the install step broke and the suite would be green for
    nothing. Locally (README's test command on a bare machine) those tests skip with the reason."""
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("CI") == "true" and rep.skipped and "not installed" in str(rep.longrepr):
        rep.outcome = "failed"
        rep.longrepr = f"CI=true but a required tool is missing: {rep.longrepr}"


# -- real engines (tests/engines): one JVM of each per session, started on first use ----------

def _engine(name: str, factory, tmp_path_factory):
    from engines import EngineError, missing

    why = missing()
    if why:
        pytest.skip(f"real {name}: {why}")
    engine = factory(tmp_path_factory.mktemp(name))
    try:
        engine.start()
    except EngineError:
        engine.stop()
        raise
    return engine


@pytest.fixture(scope="session")
def kafka_engine(tmp_path_factory):
    """Apache Kafka 4.4, one KRaft node on loopback for the whole session (see tests/engines)."""
    from engines import Kafka

    engine = _engine("kafka", Kafka, tmp_path_factory)
    yield engine
    engine.stop()


@pytest.fixture
def kafka(kafka_engine):
    """The session's Kafka, emptied of the topics and groups of earlier tests."""
    kafka_engine.reset()
    return kafka_engine


@pytest.fixture(scope="session")
def opensearch_engine(tmp_path_factory):
    """OpenSearch 2.19, one node on loopback for the whole session (see tests/engines)."""
    from engines import OpenSearch

    engine = _engine("opensearch", OpenSearch, tmp_path_factory)
    yield engine
    engine.stop()


@pytest.fixture
def opensearch(opensearch_engine):
    """The session's OpenSearch without the indices and templates of earlier tests."""
    opensearch_engine.reset()
    return opensearch_engine
