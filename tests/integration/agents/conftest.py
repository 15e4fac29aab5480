"""Agent tests run the agent in-process (a thread), against `fresh_broker` (tests/integration/conftest.py)."""
import threading

import pytest

from logwarden.agents.service import Agent


class Running:
    """An Agent's run_forever on a daemon thread; stop() must end it."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.thread = threading.Thread(target=agent.run_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.agent.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()


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
