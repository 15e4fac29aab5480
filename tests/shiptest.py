"""Helpers for the agent and ingest tests: waiting, a running agent, a real broker, reading a topic.

Importable as `from shiptest import ...` (pytest puts tests/ on sys.path).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
from lwtest import free_port  # noqa: F401 - re-exported for the agent/ingest tests

from logwarden.agents.service import Agent


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


# -- a real broker for tests that need one ---------------------------------------------------

def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


class Broker:
    """The built-in broker as a real process (`logwarden broker`) on a free port, fresh per test.

    LOGWARDEN_TEST_TANSU=<tansu binary> runs that memory-only broker instead (a peer
    implementation, useful to tell a client bug from a broker bug); it cannot keep data
    across a restart, so `durable` is False then.
    """

    def __init__(self, data_dir: Path):
        self.proc: subprocess.Popen[bytes] | None = None
        self.data_dir = data_dir
        self.tansu = os.environ.get("LOGWARDEN_TEST_TANSU")
        self.durable = not self.tansu
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        env = {**os.environ, "PYTHONSAFEPATH": "1"}
        url = f"tcp://{self.bootstrap}"
        argv = ([self.tansu, "broker", "--listener-url", url, "--advertised-listener-url", url] if self.tansu else
                [sys.executable, "-m", "logwarden", "broker", "--listen", self.bootstrap, "--data-dir", str(self.data_dir)])
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.data_dir.parent / "broker.stderr", "ab"), env=env, cwd="/")
        assert wait_until(lambda: port_open("127.0.0.1", self.port) or self.proc.poll() is not None, 30)
        assert self.proc.poll() is None, (self.data_dir.parent / "broker.stderr").read_text()[-3000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def consume(bootstrap: str, topic: str, want: int, timeout: float = 30.0) -> list[dict]:
    """Every record of `topic` from the start (all partitions) until `want` arrived or timeout."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "logwarden-test-reader", "enable.auto.commit": False,
                  "log_level": 3})
    try:
        deadline = time.monotonic() + timeout
        parts: list[int] = []
        while not parts and time.monotonic() < deadline:  # the producer may not have created it yet
            md = c.list_topics(topic, timeout=10)
            t = md.topics.get(topic)
            parts = list(t.partitions) if t is not None and t.error is None else []
            if not parts:
                time.sleep(0.2)
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[dict] = []
        while time.monotonic() < deadline and len(out) < want:
            for m in c.consume(1000, 0.2):
                if m.error() is None:
                    out.append(orjson.loads(m.value()))
        # a short grace read: duplicates beyond `want` must be visible to the test too
        for m in c.consume(10000, 0.5):
            if m.error() is None:
                out.append(orjson.loads(m.value()))
        return out
    finally:
        c.close()
