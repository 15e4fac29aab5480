"""The demo log source behind `logwarden up --demo`.

It writes what a small public web server writes: nginx access lines (real-looking
clients, bots and 404 probes) and sshd auth lines in the syslog format of
/var/log/auth.log, including a password-guessing burst from one address every
BURST_EVERY_S seconds. The agent tails these files like any others and the bundled
Sigma correlation rule (rules/bundled/ssh_bruteforce.yml) raises an alert on the burst,
so a new user sees events and an alert within a minute of `logwarden up --demo`.
"""
from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from logwarden.agents.config import FileSource
from logwarden.config import Config

BURST_EVERY_S = 45.0
FIRST_BURST_AFTER_S = 5.0
BURST_ATTEMPTS = 8

_CLIENTS = ["198.51.100.23", "198.51.100.87", "192.0.2.14", "203.0.113.77", "2001:db8::17", "192.0.2.201"]
_PATHS = [("GET", "/", 200), ("GET", "/index.html", 200), ("GET", "/static/app.css", 200), ("GET", "/api/v1/items?page=2", 200),
          ("POST", "/api/v1/login", 200), ("POST", "/api/v1/login", 401), ("GET", "/favicon.ico", 404),
          ("GET", "/wp-login.php", 404), ("GET", "/.env", 404), ("GET", "/api/v1/items/42", 500)]
_AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
           "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)", "python-requests/2.32.3"]
_USERS = ["deploy", "alice", "backup"]
_GUESSES = ["admin", "root", "test", "oracle", "ubuntu", "postgres", "git", "pi"]


def demo_dir(cfg: Config) -> Path:
    return cfg.data_path / "demo"


def enable(cfg: Config) -> None:
    """Add the demo files as tailed sources (auto-detected formats)."""
    d = demo_dir(cfg)
    d.mkdir(parents=True, exist_ok=True)
    paths = {p for s in cfg.sources for p in s.paths}
    for name in ("nginx-access.log", "auth.log"):
        glob = str(d / name)
        if glob not in paths:
            cfg.sources = [*cfg.sources, FileSource(paths=[glob], fields={"demo": "true"})]


def _syslog_ts(t: float) -> str:
    # RFC 3164 timestamps: day of month padded with a space, local time, no year.
    lt = time.localtime(t)
    return time.strftime("%b ", lt) + f"{lt.tm_mday:>2}" + time.strftime(" %H:%M:%S", lt)


def nginx_line(rng: random.Random, t: float) -> str:
    method, path, status = rng.choice(_PATHS)
    size = 0 if status in (304,) else rng.randint(120, 48000)
    ts = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(t))
    ref = rng.choice(["-", "https://example.com/", "https://www.example.org/search?q=logs"])
    return f'{rng.choice(_CLIENTS)} - - [{ts}] "{method} {path} HTTP/1.1" {status} {size} "{ref}" "{rng.choice(_AGENTS)}"'


def sshd_line(rng: random.Random, t: float, host: str = "web-1") -> str:
    pid = rng.randint(2000, 60000)
    user = rng.choice(_USERS)
    ip = rng.choice(_CLIENTS[:4])
    port = rng.randint(40000, 65000)
    body = rng.choice([
        f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:pP3kq0Zb1r9x0mM6bL7C4nq2kL1nJt4Xb2bq3ZfQy8E",
        f"pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)",
        f"Disconnected from user {user} {ip} port {port}",
    ] + ([f"Failed password for {user} from {ip} port {port} ssh2"] if rng.random() < 0.3 else []))
    return f"{_syslog_ts(t)} {host} sshd[{pid}]: {body}"


def burst_lines(rng: random.Random, t: float, host: str = "web-1", attacker: str = "203.0.113.5") -> list[str]:
    pid = rng.randint(2000, 60000)
    return [f"{_syslog_ts(t)} {host} sshd[{pid}]: Failed password for invalid user {rng.choice(_GUESSES)} "
            f"from {attacker} port {rng.randint(40000, 65000)} ssh2" for _ in range(BURST_ATTEMPTS)]


AUTH_SHARE = 0.05  # about one auth line in twenty, as on a busy web server


def tick(rng: random.Random, now: float) -> tuple[str, str]:
    """One background line: ("access", nginx line) or ("auth", sshd line)."""
    if rng.random() < AUTH_SHARE:
        return "auth", sshd_line(rng, now)
    return "access", nginx_line(rng, now)


def run(cfg: Config) -> None:
    """Append demo lines until SIGTERM."""
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    d = demo_dir(cfg)
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random()
    next_burst = time.time() + FIRST_BURST_AFTER_S
    interval = 1.0 / cfg.demo.rate_per_s
    with open(d / "nginx-access.log", "a", buffering=1) as access, open(d / "auth.log", "a", buffering=1) as auth:
        files = {"access": access, "auth": auth}
        while not stop:
            now = time.time()
            stream, line = tick(rng, now)
            files[stream].write(line + "\n")
            if now >= next_burst:
                auth.write("\n".join(burst_lines(rng, now)) + "\n")
                next_burst = now + BURST_EVERY_S
            time.sleep(interval)
