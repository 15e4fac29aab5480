"""Helpers shared by tests: free loopback ports and running `logwarden` as a real process.

Importable from any test as `from lwtest import ...` (pytest puts tests/ on sys.path).
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def logwarden_cmd(*args: str) -> list[str]:
    """The CLI as a user runs it, from the installed package, never from the checkout's cwd."""
    return [sys.executable, "-P", "-m", "logwarden", *args]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 60, **kw) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    return subprocess.run(logwarden_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or Path("/"), env=env, **kw)


class Proc:
    """A command (usually `logwarden_cmd(...)`) as a real child process, its output in a log file."""

    def __init__(self, argv: list[str], log: Path):
        self.log = log
        with open(log, "ab") as fh:
            self.p = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, cwd="/",
                                      env={**os.environ, "PYTHONSAFEPATH": "1", "PYTHONUNBUFFERED": "1"})

    def output(self, tail: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; a process that ignores it is killed and the test fails."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
                raise AssertionError(f"{self.p.args} ignored SIGTERM:\n{self.output()}")
        return self.p.returncode

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)


def wait_until(check, what: str = "condition", timeout: float = 30.0, interval: float = 0.1, detail=lambda: ""):
    """Poll `check` until it returns something truthy and return that; fail naming `what`,
    the last value seen and `detail()` (a process's output, say) once `timeout` has passed."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r}){detail()}")


def wait_listening(port: int, proc: Proc, timeout: float = 30) -> None:
    """Wait until `proc` accepts connections on 127.0.0.1:`port`; fail with its output if it dies."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            assert proc.p.poll() is None, proc.output()
            assert time.monotonic() < deadline, f"{proc.p.args} did not listen on {port}:\n{proc.output()}"
            time.sleep(0.1)


def fill(directory: Path) -> Path:
    """Write a filler file into `directory` until its file system says ENOSPC (a small
    tmpfs a test mounted); returns its path - unlink it to give the space back."""
    filler = directory / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler
