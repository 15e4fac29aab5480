"""What a person sees on a terminal, and what a pipe gets: real processes on a pseudo-terminal.

On a TTY `logwarden up` prints its start-up block and then readable log lines (no JSON, no
routine rebalance chatter at the default level); piped, every stderr line stays a JSON object;
`--log-format json` keeps JSON on a terminal. A new data directory is not reported as an
unclean shutdown (it was, on every first start).
"""
from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pytest

from lwtest import free_port, logwarden_cmd, wait_until

pytestmark = pytest.mark.integration

TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO |WARN |ERROR|CRIT ) \S+\s+\S")


class OnTerminal:
    """A command whose stdout and stderr are the slave side of a pseudo-terminal."""

    def __init__(self, argv: list[str]):
        master, slave = pty.openpty()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd="/",
                                  env={**os.environ, "PYTHONSAFEPATH": "1", "PYTHONUNBUFFERED": "1"})
        os.close(slave)
        self.master = master
        self.buf = bytearray()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO once every writer has closed the slave
                return
            if not chunk:
                return
            self.buf += chunk

    def text(self) -> str:
        return self.buf.decode(errors="replace").replace("\r\n", "\n")

    def stop(self) -> int:
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(60)
        finally:
            time.sleep(0.2)
            os.close(self.master)


def _config(tmp: Path) -> list[str]:
    return ["--data-dir", str(tmp / "data"), "--broker-listen", f"127.0.0.1:{free_port()}",
            "--http-listen", f"127.0.0.1:{free_port()}"]


def test_up_on_a_terminal_prints_a_block_then_readable_lines(tmp_path):
    t = OnTerminal(logwarden_cmd("up", *_config(tmp_path), "--tail", f"{tmp_path}/*.log:nginx"))
    try:
        wait_until(lambda: "rules loaded:" in t.text(), "the rules stage's load line", timeout=120, detail=t.text)
    finally:
        assert t.stop() == 0, t.text()
    out = t.text()
    assert "is up.  Ctrl-C stops it." in out
    assert re.search(r"^  web UI and API\s+http://127\.0\.0\.1:\d+$", out, re.M), out
    assert f"  tailing         {tmp_path}/*.log (nginx)" in out
    log_lines = [ln for ln in out.splitlines() if ln and not ln.startswith(("Logwarden ", "  "))]
    assert log_lines and all(TEXT_LINE.match(ln.replace("\x1b[2m", "").replace("\x1b[33m", "")) for ln in log_lines), out
    assert not any(ln.lstrip().startswith("{") for ln in out.splitlines()), out
    assert "new log directory" in out and "unclean" not in out, out
    assert "PreparingRebalance" not in out and "created topic" not in out, out  # routine: debug level
    assert re.search(r"rules loaded: 1 rule\(s\), 1 correlation\(s\), 0 load error\(s\)", out), out


def test_piped_stderr_stays_json_and_a_terminal_can_ask_for_json(tmp_path):
    port = free_port()
    argv = logwarden_cmd("broker", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "piped"))
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/",
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(p.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    wait_until(lambda: any(b"broker listening" in ln for ln in lines), "the listening record", timeout=60,
               detail=lambda: repr(lines))
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0
    reader.join(10)
    docs = [orjson.loads(ln) for ln in lines if ln.strip()]
    assert docs and all(d["component"] == "broker" for d in docs)
    assert docs[0]["message"].startswith("new log directory")

    # Reopened after that clean stop, on a terminal, with JSON asked for in the config file.
    cfg = tmp_path / "logwarden.yml"
    cfg.write_text(f"data_dir: {tmp_path / 'piped'}\nlog_format: json\nbroker: {{listen: '127.0.0.1:{port}'}}\n")
    t = OnTerminal(logwarden_cmd("broker", "-c", str(cfg)))
    try:
        wait_until(lambda: "broker listening" in t.text(), "the listening record", timeout=60, detail=t.text)
    finally:
        assert t.stop() == 0, t.text()
    docs = [orjson.loads(ln) for ln in t.text().splitlines() if ln.strip()]
    assert "after a clean shutdown" in docs[0]["message"], docs
