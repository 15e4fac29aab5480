"""Helpers shared by the agent integration tests."""
import socket
import threading
import time

from logwarden.agents.service import Agent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout=30.0, interval=0.05):
    """Wait for a condition (not a timing assertion: the timeout only bounds a hung test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return cond()


class Running:
    def __init__(self, agent: Agent):
        self.agent = agent
        self.thread = threading.Thread(target=agent.run_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.agent.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()
