"""Helpers shared by tests: free loopback ports and running `logwarden` as a real process.

Importable from any test as `from lwtest import ...` (pytest puts tests/ on sys.path).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
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
