"""The rendered units set MemoryDenyWriteExecute=yes: no memory may be made writable and
executable at once, which breaks JITs and libffi closures. The whole appliance (broker,
agent, parsers with their C accelerator, the tantivy index, rules, the web UI) runs here
under the kernel's own form of that rule, prctl(PR_SET_MDWE), inherited by every child -
the same refusal systemd's seccomp filter makes."""
from __future__ import annotations

import ctypes
import sys

import pytest

import e2e_harness
from e2e_harness import SSHD_FAIL, Appliance, wait_for

pytestmark = pytest.mark.e2e

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
WRAPPER = f"""
import ctypes, os, sys
if ctypes.CDLL("libc.so.6", use_errno=True).prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_MDWE): " + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
"""


def _mdwe_supported() -> bool:
    import subprocess

    probe = "import ctypes, sys; sys.exit(ctypes.CDLL('libc.so.6').prctl(65, 1, 0, 0, 0) != 0)"
    return subprocess.run([sys.executable, "-c", probe]).returncode == 0  # Linux 6.3 and later


@pytest.mark.skipif(not _mdwe_supported(), reason="prctl(PR_SET_MDWE) needs Linux 6.3 or later")
def test_the_appliance_runs_with_memory_deny_write_execute(tmp_path, monkeypatch):
    wrapper = tmp_path / "mdwe.py"
    wrapper.write_text(WRAPPER)
    plain = e2e_harness.logwarden_cmd
    monkeypatch.setattr(e2e_harness, "logwarden_cmd", lambda *a: [sys.executable, str(wrapper), *plain(*a)])
    app = Appliance(tmp_path)
    try:
        app.start()
        app.append([SSHD_FAIL.format(s=s, port=50000 + s) for s in range(8)])
        wait_for("alert raised", lambda: app.api("/api/alerts").get("hits"), app, timeout=90)
        assert app.api("/api/search", q="process.name:sshd")["total"] == 8
        children = app.api("/health")["children"]
        assert children and all(c["running"] and c["restarts"] == 0 for c in children.values()), children
    finally:
        app.stop()
    assert "prctl(PR_SET_MDWE)" not in app.output()
