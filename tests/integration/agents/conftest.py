import pytest

from shiptest import Running

from logwarden.agents.service import Agent


@pytest.fixture
def run_agent():
    started: list[Running] = []

    def start(agent: Agent) -> Running:
        r = Running(agent)
        started.append(r)
        return r

    yield start
    for r in started:
        if r.thread.is_alive():
            r.stop()


@pytest.fixture
def broker(tmp_path):
    from shiptest import Broker

    (tmp_path / "broker").mkdir()
    b = Broker(tmp_path / "broker")
    yield b
    b.stop()
