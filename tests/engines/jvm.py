"""Fetching an engine's jars with Maven and running a JVM as a test's child process.

The jars of one engine land in `<cache>/<name>-<hash of its POM>/lib`, with a `complete`
mark written last: an interrupted fetch is redone, a changed POM fetches afresh, and two
test sessions fetching at once take turns on a lock file instead of mixing jars.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLS = ("java", "javac", "mvn")
# Below the ephemeral range (32768-60999): a listener picked there can collide with another
# program's outgoing connection on a busy machine.
PORT_RANGE = (10_000, 32_767)


class EngineError(RuntimeError):
    """An engine could not be fetched or started; carries the tail of its output."""


def missing() -> str | None:
    """Why real engines cannot run here, or None: the reason says "not installed"."""
    absent = [t for t in TOOLS if shutil.which(t) is None]
    if absent:
        return f"{', '.join(absent)} not installed (real Kafka and OpenSearch need a JDK 17 and Maven)"
    return None


def cache_root() -> Path:
    return Path(os.environ.get("LOGWARDEN_ENGINES_CACHE") or Path.home() / ".cache" / "logwarden-engines")


def fetch(name: str) -> Path:
    """The folder holding every jar of engine `name` (its POM is `<name>-pom.xml` here)."""
    pom = HERE / f"{name}-pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    home = cache_root() / f"{name}-{digest}"
    lib, done = home / "lib", home / "complete"
    if done.exists():
        return lib
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return lib
        shutil.rmtree(lib, ignore_errors=True)
        # -B: batch mode; -q: only errors. The POM's own folder is the working directory so
        # Maven writes nothing into the caller's.
        r = subprocess.run(["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                            f"-DoutputDirectory={lib}"], cwd=HERE, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise EngineError(f"mvn could not fetch the {name} jars (exit {r.returncode}):\n{(r.stdout + r.stderr)[-3000:]}")
        done.write_text(f"{len(list(lib.glob('*.jar')))} jars\n")
    return lib


def free_ports(n: int) -> list[int]:
    """`n` distinct loopback ports that are free now, below the ephemeral range."""
    ports: list[int] = []
    while len(ports) < n:
        p = random.randint(*PORT_RANGE)
        if p in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        ports.append(p)
    return ports


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


class JavaProcess:
    """A JVM child in a process group of its own, its output in `log`. It dies with the test
    session (PR_SET_PDEATHSIG, as `logwarden up`'s children): a killed pytest leaves no
    half-gigabyte JVM behind holding its ports."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None):
        from logwarden.supervisor import _pdeathsig

        self.log = log
        with open(log, "ab") as fh:
            self.p = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      cwd=log.parent, env={**os.environ, **(env or {})}, process_group=0,
                                      preexec_fn=_pdeathsig)

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def alive(self) -> bool:
        return self.p.poll() is None

    def wait_for(self, check, what: str, timeout: float) -> None:
        """Poll `check()` until true; fail with the JVM's output if it dies or time runs out."""
        deadline = time.monotonic() + timeout
        while not check():
            if not self.alive():
                raise EngineError(f"{what}: the JVM exited with {self.p.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise EngineError(f"{what}: not within {timeout:.0f} s:\n{self.output()}")
            time.sleep(0.25)

    def stop(self, grace: float = 30) -> None:
        """SIGTERM (both engines shut down cleanly on it), then SIGKILL after `grace`."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)


def java(heap: str = "512m") -> list[str]:
    """The java command with a small heap: both engines share a 2-core machine with the tests."""
    return ["java", "-Xms128m", f"-Xmx{heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true"]
