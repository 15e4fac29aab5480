"""`logwarden up`: run every stage as a supervised child process.

Workers are processes, not threads, so the appliance uses every core (parsers scale with
`parsers.workers`). The supervisor:

* writes the effective configuration to `<data_dir>/run/effective.yml` and starts each
  child as the ordinary CLI command with `-c` pointing at it, so what runs under `up` is
  exactly what an operator would run by hand in the scaled-out form;
* starts the broker first and waits for its port, then the consumers, then producers;
* restarts a child that dies, with exponential backoff (1 s doubling to 30 s, reset after a
  minute of health);
* on SIGINT/SIGTERM stops producers first and the broker last, each with SIGTERM and a
  grace period, then SIGKILL (children run in process groups of their own, so a terminal's
  Ctrl-C reaches only the supervisor and this order holds);
* sets PR_SET_PDEATHSIG on every child, so a SIGKILLed supervisor takes its children with
  it instead of leaving orphans that hold ports and locks;
* writes `<data_dir>/run/status.json` for the HTTP app's /health; a write that fails (a
  full disk: ENOSPC, a read-only remount: EROFS) is logged once and tried again every tick,
  because supervising the children matters more than reporting on them - a supervisor
  that died on its own status file would take every stage down and restart none of them
  when space came back.
"""
from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

import logwarden
from logwarden import logs
from logwarden.config import Config, dump
from logwarden.model import parse_hostport
from logwarden.stages import STAGES

log = logging.getLogger("logwarden.supervisor")

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0  # a child up this long has its backoff reset
STOP_GRACE_S = 15.0


# -P: never put the working directory on sys.path. Started from a source checkout, `-m
# logwarden` would otherwise import the checkout's bare `logwarden/` folder (which does not
# contain the stage packages) instead of the installed package.
CHILD_PREFIX = [sys.executable, "-P", "-m", "logwarden"]


def startup_banner(cfg: Config, children: list[str], login: str = "") -> str:
    """What `up` started and where, in a few lines on stdout; the log records follow on stderr.
    `login`: how to log in to the UI (the first admin's generated password, once)."""
    url = f"{'https' if cfg.http.tls.cert_file else 'http'}://{cfg.http.listen}"
    if cfg.kafka.bootstrap_servers:
        broker = f"{cfg.kafka.bootstrap_servers} (external Kafka)"
    else:
        broker = f"{cfg.bootstrap_servers} (built-in, Kafka protocol)"
    sources = [f"{p}" + (f" ({s.format})" if s.format else "") for s in cfg.sources for p in s.paths] or ["none (use --tail GLOB[:FORMAT])"]
    rules = ["bundled"] if cfg.rules.bundled else []
    rules += list(cfg.rules.paths)
    processes = sorted({n.split("-")[0] if n.startswith("parsers-") else n for n in children})
    rows = [
        ("web UI and API", url),
        *([("login", login)] if login else []),
        ("broker", broker),
        ("data directory", str(cfg.data_path)),
        ("tailing", ", ".join(sources)),
        ("rules", ", ".join(rules) or "none"),
        ("processes", ", ".join(processes) + f"  ({cfg.parsers.process_count} parser worker(s))"),
    ]
    if cfg.demo.enabled:
        rows.append(("demo", f"writing nginx and sshd lines; try: export LOGWARDEN_TOKEN=$(logwarden token create "
                             f"--data-dir {cfg.data_path}); logwarden search 'process.name:sshd' --url {url}"
                             f"  and  logwarden alerts --url {url}"))
    return "\n".join([f"Logwarden {logwarden.__version__} is up.  Ctrl-C stops it.", *(f"  {k:<15} {v}" for k, v in rows)])


def _pdeathsig() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = BACKOFF_START_S
    restart_at: float = 0.0
    restarts: int = 0
    history: list[int] = field(default_factory=list)


class Supervisor:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.run_dir = cfg.data_path / "run"
        self.children: list[Child] = []
        self.stopping = False
        self.login = ""
        self.status_error: str | None = None  # why the last status write failed; None when it worked

    # -- layout ---------------------------------------------------------------
    def _prepare(self) -> Path:
        self.cfg.data_path.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        metrics_dir = self.run_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)  # samples of dead processes are meaningless
        metrics_dir.mkdir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        if self.cfg.demo.enabled:
            from logwarden.demo import enable

            enable(self.cfg)
        from logwarden.auth.bootstrap import banner_line, ensure_first_admin
        from logwarden.auth.store import Users

        self.login = banner_line(ensure_first_admin(self.cfg.data_path), Users(self.cfg.data_path).path)
        if self.cfg.index.count_events is None:
            # One box, one /metrics over every process: the index stage counts the events it
            # decodes anyway, and the metrics worker only reads logs.dlq (sinks.metrics_service).
            self.cfg.index.count_events = True
        effective = self.run_dir / "effective.yml"
        effective.write_text(dump(self.cfg))
        return effective

    def _plan(self, effective: Path) -> list[Child]:
        """One child per process the stage registry (logwarden.stages) says this config runs."""
        c = ["-c", str(effective)]
        return [Child(name, [*CHILD_PREFIX, *stage.command, *c]) for stage in STAGES for name in stage.children(self.cfg)]

    # -- process control -------------------------------------------------------
    def _spawn(self, child: Child) -> None:
        # A process group of its own: a terminal's Ctrl-C (SIGINT to the whole foreground group)
        # reaches only the supervisor, which then stops the children in order (_stop_all).
        child.proc = subprocess.Popen(child.argv, preexec_fn=_pdeathsig, stdin=subprocess.DEVNULL, process_group=0)
        child.started = time.monotonic()
        log.debug("child started", extra={"child": child.name, "child_pid": child.proc.pid})

    def _wait_port(self, listen: str, timeout: float = 30.0) -> bool:
        host, port = parse_hostport(listen)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.1)
        return False

    def _write_status(self) -> None:
        status = {
            "pid": os.getpid(),
            "children": {
                c.name: {"pid": c.proc.pid if c.proc else None,
                         "running": bool(c.proc and c.proc.poll() is None),
                         "restarts": c.restarts}
                for c in self.children
            },
        }
        tmp = self.run_dir / "status.json.tmp"
        try:
            tmp.write_bytes(orjson.dumps(status))
            tmp.replace(self.run_dir / "status.json")
        except OSError as exc:
            if self.status_error is None:  # once per outage, not five times a second
                log.error("cannot write the status file; the children stay supervised, retrying every tick",
                          extra={"path": str(tmp), "error": str(exc), "errno": exc.errno})
            self.status_error = str(exc)
            return
        if self.status_error is not None:
            log.info("status file written again", extra={"path": str(self.run_dir / "status.json"), "after_error": self.status_error})
            self.status_error = None

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def run(self) -> int:
        logs.setup("supervisor", self.cfg.log_level, self.cfg.log_format)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        effective = self._prepare()
        self.children = self._plan(effective)
        for child in self.children:
            self._spawn(child)
            if child.name == "broker" and not self._wait_port(self.cfg.broker.listen):
                log.error("broker did not open its port", extra={"listen": self.cfg.broker.listen})
        print(startup_banner(self.cfg, [c.name for c in self.children], self.login), flush=True)
        from logwarden import exposure

        for warning in exposure.warnings(self.cfg):  # what `config check` warns about, once more at start
            log.warning(warning)
        try:
            while not self.stopping:
                self._tick()
                self._write_status()
                time.sleep(0.2)
        finally:
            self._stop_all()
        return 0

    def _tick(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if now >= child.restart_at:
                    self._spawn(child)
                continue
            code = child.proc.poll()
            if code is None:
                if now - child.started > HEALTHY_AFTER_S:
                    child.backoff = BACKOFF_START_S
                continue
            child.history.append(code)
            child.restarts += 1
            log.error("child exited; restarting", extra={"child": child.name, "exit_code": code, "backoff_s": child.backoff})
            child.proc = None
            child.restart_at = now + child.backoff
            child.backoff = min(child.backoff * 2, BACKOFF_MAX_S)

    def _stop_all(self) -> None:
        # Producers and consumers first, the broker last, so in-flight work is flushed and committed.
        others = [c for c in reversed(self.children) if c.name != "broker"]
        brokers = [c for c in self.children if c.name == "broker"]
        for group in (others, brokers):
            live = [c for c in group if c.proc and c.proc.poll() is None]
            for child in live:
                child.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            deadline = time.monotonic() + STOP_GRACE_S
            for child in live:
                self._reap(child, deadline)
        self._write_status()
        log.info("stopped")

    @staticmethod
    def _reap(child: Child, deadline: float) -> None:
        assert child.proc is not None
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("child did not stop in time; killing", extra={"child": child.name})
            child.proc.kill()
            child.proc.wait()
