"""Run the built-in broker as a real subprocess for integration tests, and talk to it in raw
Kafka frames where a test needs a request no client library sends on demand."""
from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import yaml

from logwarden.broker.protocol.frames import decode_response, encode_request

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BrokerProcess:
    """A `logwarden broker` child process with its own data dir, config and log file."""

    def __init__(self, tmp: Path, broker: dict[str, Any] | None = None, port: int | None = None):
        self.tmp = tmp
        self.port = port or free_port()
        self.data_dir = tmp / "data"
        self.config_path = tmp / "logwarden.yml"
        self.log_path = tmp / "broker.log"
        cfg = {"data_dir": str(self.data_dir), "broker": {"listen": f"127.0.0.1:{self.port}", **(broker or {})}}
        self.config_path.write_text(yaml.safe_dump(cfg))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "BrokerProcess":
        logf = open(self.log_path, "ab")
        cmd = [sys.executable, "-P", "-m", "logwarden", "broker", "-c", str(self.config_path)]
        self.proc = subprocess.Popen(cmd,
                                     stdout=logf, stderr=logf, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"broker did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def connect(self, timeout: float = 10.0) -> socket.socket:
        """A plain connection for raw request frames (kafka_call)."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def module_broker(tmp_path_factory: Any, name: str, broker: dict[str, Any] | None = None) -> Iterator[BrokerProcess]:
    """The body of a test module's `broker` fixture: one broker process for the module,
    which must stop cleanly (exit code 0) when the module is done."""
    b = BrokerProcess(tmp_path_factory.mktemp(name), broker).start()
    yield b
    assert b.stop() == 0, b.log()


def recv_exact(s: socket.socket, n: int) -> bytes:
    """Exactly n bytes, or ConnectionError when the broker closes the connection first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed by broker")
        buf += chunk
    return bytes(buf)


def kafka_call(s: socket.socket, api: int, version: int, body: dict, corr: int = 1,
               resp_version: int | None = None, client_id: str = "logwarden-test") -> dict:
    """Send one request on an open connection and return its decoded response body."""
    s.sendall(encode_request(api, version, corr, client_id, body))
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    got_corr, resp = decode_response(api, version if resp_version is None else resp_version, recv_exact(s, size))
    assert got_corr == corr
    return resp
