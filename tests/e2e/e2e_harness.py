"""Run `logwarden up` as a real process on free loopback ports for end-to-end tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from lwtest import free_port, logwarden_cmd, wait_until

NGINX = [
    '198.51.100.23 - - [26/Nov/2026:10:00:0{i} +0000] "GET /index.html HTTP/1.1" 200 512 "-" "curl/8.5.0"',
    '192.0.2.14 - - [26/Nov/2026:10:00:1{i} +0000] "GET /wp-login.php HTTP/1.1" 404 153 "-" "python-requests/2.32.3"',
]
SSHD_FAIL = "Nov 26 10:01:{s:02d} web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port {port} ssh2"
SSHD_OK = "Nov 26 10:02:{s:02d} web-1 sshd[4300]: Accepted publickey for deploy from 198.51.100.7 port {port} ssh2: ED25519 SHA256:abc"
DEADLINE_S = 30  # the promise: appended lines are searchable and alerted on within 30 s
ADMIN_PASSWORD = "e2e admin password"   # the first admin's, given to `up` as a user would (README quick start)


class Appliance:
    def __init__(self, tmp: Path, config: Path | dict | None = None, admin_password: str | None = ADMIN_PASSWORD):
        """`config`: a logwarden.yml (a path, or a mapping written to one) passed with -c; the
        flags below still apply and override it. `admin_password`: LOGWARDEN_ADMIN_PASSWORD for
        `up` (None: unset, so `up` generates one and prints it)."""
        self.admin_password = admin_password
        self.tmp = tmp
        self.config = config
        self.data = tmp / "data"
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.broker_port = free_port()
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.token = ""
        self._saved_env: tuple[str | None] | None = None

    def _authenticate(self) -> None:
        """An admin API token for api() and for `logwarden search|alerts|status` run by the test:
        exported as LOGWARDEN_TOKEN while this appliance runs, as a user's shell would."""
        if not self.token:
            from logwarden.auth.store import Tokens

            _, self.token = Tokens(self.data).create("admin", "e2e harness")
        if self._saved_env is None:
            self._saved_env = (os.environ.get("LOGWARDEN_TOKEN"),)
        os.environ["LOGWARDEN_TOKEN"] = self.token

    def start(self, session: bool = False) -> None:
        """`session`: in a process group of its own, as a terminal runs it (see `interrupt`)."""
        self.runs += 1
        self._authenticate()
        out = open(self.tmp / f"up-{self.runs}.log", "wb")
        conf: tuple[str, ...] = ()
        if isinstance(self.config, dict):
            import yaml

            (self.tmp / "logwarden.yml").write_text(yaml.safe_dump(self.config))
            conf = ("-c", str(self.tmp / "logwarden.yml"))
        elif self.config is not None:
            conf = ("-c", str(self.config))
        self.proc = subprocess.Popen(
            logwarden_cmd("up", *conf, "--data-dir", str(self.data), "--broker-listen", f"127.0.0.1:{self.broker_port}",
                          "--http-listen", f"127.0.0.1:{self.http_port}", "--tail", str(self.logs / "*.log")),
            stdout=out, stderr=subprocess.STDOUT, cwd="/",
            env=self._env(), start_new_session=session)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("LOGWARDEN_ADMIN_PASSWORD", "LOGWARDEN_ADMIN_USER")}
        if self.admin_password is not None:
            env["LOGWARDEN_ADMIN_PASSWORD"] = self.admin_password
        return {**env, "PYTHONSAFEPATH": "1"}

    def interrupt(self) -> int:
        """Ctrl-C in a terminal: SIGINT to the whole foreground process group; the exit code."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(60)

    def output(self) -> str:
        return "".join((self.tmp / f"up-{i}.log").read_text(errors="replace")[-4000:] for i in range(1, self.runs + 1))

    def output_all(self) -> str:
        """Everything every run printed (stdout and stderr), not only the tail `output()` keeps."""
        return "".join((self.tmp / f"up-{i}.log").read_text(errors="replace") for i in range(1, self.runs + 1))

    def sigkill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        # children die with it (PR_SET_PDEATHSIG); wait until their ports are free
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not any(_listening(p) for p in (self.broker_port, self.http_port)):
                return
            time.sleep(0.2)
        raise AssertionError("children of a SIGKILLed supervisor kept their ports")

    def stop(self) -> None:
        if self._saved_env is not None:
            (saved,) = self._saved_env
            if saved is None:
                os.environ.pop("LOGWARDEN_TOKEN", None)
            else:
                os.environ["LOGWARDEN_TOKEN"] = saved
            self._saved_env = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def append(self, lines: list[str]) -> None:
        with open(self.logs / "app.log", "a") as f:
            f.write("".join(line + "\n" for line in lines))

    def api(self, path: str, **params) -> dict:
        try:
            r = httpx.get(self.url + path, params=params, timeout=5, headers={"Authorization": f"Bearer {self.token}"})
        except httpx.TransportError:
            return {}
        return r.json() if r.status_code == 200 else {}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(what: str, check, app: Appliance, timeout: float = DEADLINE_S):
    return wait_until(check, what, timeout, 0.5, lambda: f"\n--- logwarden up output ---\n{app.output()}")
