"""The test harness: free loopback ports, waiting on a condition, and real processes.

Every layer (unit, integration, e2e, chaos) imports these from here as `from lwtest import ...`
(pytest puts tests/ on sys.path), so there is one way to pick a port, one way to wait and one
way to run a broker or a stage as a child process:

* `free_port()`  - a loopback port that is free now.
* `wait_until(check, what, timeout)` - a deadline on a condition, not a timed assertion: it
  returns the first truthy value of `check()` and fails naming `what` once the deadline passed.
* `Proc(argv, log)` - a child process (usually `logwarden_cmd(...)`) with its output in a
  file; `stop()` is SIGTERM then, if ignored, SIGKILL and a failure showing the output's tail.
* `Broker(tmp, {...})` - the built-in broker (`logwarden broker -c`) as a `Proc` on a free
  port with its own data dir, config and log; `tests/integration/conftest.py` turns it into
  the `broker` fixtures.
"""
from __future__ import annotations

import errno
import inspect
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def logwarden_cmd(*args: str) -> list[str]:
    """The CLI as a user runs it, from the installed package, never from the checkout's cwd."""
    return [sys.executable, "-P", "-m", "logwarden", *args]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 60, **kw) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    return subprocess.run(logwarden_cmd(*args), capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or Path("/"), env=env, **kw)


def _describe(check: Callable[[], Any]) -> str:
    """The source of a lambda (what a test waited for, when it gave no words for it)."""
    try:
        return inspect.getsource(check).strip()
    except (OSError, TypeError):
        return repr(check)


def wait_until(check: Callable[[], T], what: str | None = None, timeout: float = 30.0, interval: float = 0.1,
               detail: Callable[[], str] = lambda: "", procs: "tuple[Proc, ...] | list[Proc]" = ()) -> T:
    """Poll `check` until it returns something truthy and return that; fail naming `what`
    (the check's source when not given), the last value seen and `detail()` (a process's
    output, say) once `timeout` has passed, or at once with its output when one of `procs`
    exits meanwhile. The timeout bounds a hung test; it is no assertion about speed, so make
    it generous for a busy 2-core machine."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        for p in procs:
            if not p.alive():
                raise AssertionError(f"{what or _describe(check)}: {p.argv} exited with "
                                     f"{p.proc and p.proc.returncode}:\n{p.output()}")
        time.sleep(interval)
    last = check()   # once more: the deadline may have passed while the last check slept
    if last:
        return last
    raise AssertionError(f"{what or _describe(check)}: not within {timeout:.0f} s (last: {last!r}){detail()}")


class Proc:
    """A command (usually `logwarden_cmd(...)`) as a real child process in `/`, stdout and
    stderr appended to `log` (never an unread pipe, which would block the child once full).

    `env` adds to (or, with None values, removes from) the test's environment. `start=False`
    builds it without starting; `start()` may be called again after `stop()`/`kill()`
    (a restart, the same log file continued)."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str | None] | None = None, start: bool = True):
        self.argv = argv
        self.log_path = log
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        if start:
            self.start()

    def start(self) -> "Proc":
        env = {**os.environ, "PYTHONSAFEPATH": "1", "PYTHONUNBUFFERED": "1"}
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        with open(self.log_path, "ab") as fh:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                         cwd="/", env=env)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """All of the process's output so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output(self, tail: int = 3000) -> str:
        """The last `tail` characters of its output (for failure messages)."""
        return self.log()[-tail:]

    def wait_listening(self, port: int, timeout: float = 30) -> None:
        """Until it accepts connections on 127.0.0.1:`port`; fails with its output if it dies."""
        wait_listening(port, self, timeout)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; the exit code. A process that ignores SIGTERM is killed and the
        test fails with its output."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"{self.argv} ignored SIGTERM for {timeout:.0f} s:\n{self.output()}")
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL (a crash: no shutdown code runs) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(10)


def wait_listening(port: int, proc: Proc, timeout: float = 30) -> None:
    """Wait until `proc` accepts connections on 127.0.0.1:`port`; fail with its output if it dies."""
    def up() -> bool:
        assert proc.alive(), f"{proc.argv} exited with {proc.proc and proc.proc.returncode}:\n{proc.output()}"
        return port_open("127.0.0.1", port)

    wait_until(up, f"{proc.argv} listening on {port}", timeout, 0.05, lambda: f":\n{proc.output()}")


class Broker(Proc):
    """The built-in broker (`logwarden broker -c <tmp>/logwarden.yml`) on a free port, its data
    in `<tmp>/data` and its output in `<tmp>/broker.log`; `broker` is extra settings of the
    config's `broker:` section. `start()` returns once it listens.

    `tansu=True` lets LOGWARDEN_TEST_TANSU=<tansu binary> run that memory-only broker instead
    (a peer implementation, useful to tell a client bug from a broker bug); it cannot keep
    data across a restart, so `durable` is False then.
    """

    def __init__(self, tmp: Path, broker: dict[str, Any] | None = None, port: int | None = None, *, tansu: bool = False):
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.port = port or free_port()
        self.data_dir = tmp / "data"
        self.config_path = tmp / "logwarden.yml"
        cfg = {"data_dir": str(self.data_dir), "broker": {"listen": self.bootstrap, **(broker or {})}}
        self.config_path.write_text(yaml.safe_dump(cfg))
        self.tansu = os.environ.get("LOGWARDEN_TEST_TANSU") if tansu else None
        self.durable = not self.tansu
        url = f"tcp://{self.bootstrap}"
        argv = ([self.tansu, "broker", "--listener-url", url, "--advertised-listener-url", url] if self.tansu else
                logwarden_cmd("broker", "-c", str(self.config_path)))
        super().__init__(argv, tmp / "broker.log", start=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "Broker":
        super().start()
        self.wait_listening(self.port, timeout)
        return self

    def connect(self, timeout: float = 10.0) -> socket.socket:
        """A plain connection for raw request frames (kafka_call)."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


class Stack:
    """Processes of one deployment that all read one logwarden.yml (`cfg`, written to
    <tmp>/logwarden.yml): `start("worker", "index")` runs `logwarden worker index -c <it>`
    with its output in <tmp>/<name>-<n>.log. `env` applies to every process started."""

    def __init__(self, tmp: Path, cfg: dict[str, Any], env: dict[str, str | None] | None = None):
        self.tmp = tmp
        self.cfg_path = tmp / "logwarden.yml"
        self.cfg_path.write_text(yaml.safe_dump(cfg))
        self.env = env
        self.procs: list[Proc] = []

    def start(self, *argv: str) -> Proc:
        p = Proc(logwarden_cmd(*argv, "-c", str(self.cfg_path)), self.tmp / f"{argv[-1]}-{len(self.procs)}.log", self.env)
        self.procs.append(p)
        return p

    def output(self) -> str:
        return "".join(f"\n--- {' '.join(p.argv[3:5])} ---\n{p.output(1500)}" for p in self.procs)

    def kill_all(self) -> None:
        for p in reversed(self.procs):
            p.kill()


def consume(bootstrap: str, topic: str, want: int, timeout: float = 30.0) -> list[dict]:
    """Every record of `topic` from the start (all partitions) until `want` arrived or timeout."""
    import orjson
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
