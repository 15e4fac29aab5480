"""The integration layer's fixtures: the built-in broker as a real process (lwtest.Broker).

* `broker` - one broker for the whole test module, stopped when the module is done; it must
  exit 0 on SIGTERM. Settings for its `broker:` section come from the module's
  `pytest.mark.broker_config(...)` marker; `pytest.mark.parametrize("broker", ["builtin",
  "kafka"], indirect=True, scope="module")` runs the module against the real Kafka as well.
* `fresh_broker` - a broker of the test's own, for tests that stop, restart, kill or freeze
  it (LOGWARDEN_TEST_TANSU=<binary> runs tansu instead, see lwtest.Broker).
* `conn` - a plain connection to `broker` for raw request frames (broker/broker_wire.kafka_call).
"""
from __future__ import annotations

import pytest

from lwtest import Broker


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "broker_config(**settings): the `broker:` settings of the module's `broker` fixture")


@pytest.fixture(scope="module")
def broker(request, tmp_path_factory):
    """One built-in broker for the module (or the session's Kafka, when parametrized so)."""
    if getattr(request, "param", "builtin") == "kafka":
        yield request.getfixturevalue("kafka_engine")   # .bootstrap and .port, as Broker
        return
    marker = request.node.get_closest_marker("broker_config")
    b = Broker(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]), marker.kwargs if marker else None).start()
    yield b
    assert b.stop() == 0, b.output()


@pytest.fixture
def fresh_broker(tmp_path):
    """A broker of the test's own in <tmp_path>/broker (stop/start/kill/freeze it freely)."""
    b = Broker(tmp_path / "broker", tansu=True).start()
    yield b
    code = b.stop()
    assert b.tansu or code == 0, b.output()


@pytest.fixture
def conn(broker):
    """A plain connection to the module's `broker` (raw request frames with kafka_call)."""
    with broker.connect() as s:
        yield s
