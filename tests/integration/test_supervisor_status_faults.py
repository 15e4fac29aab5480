"""`logwarden up` keeps supervising while it cannot write its status file (issue 18, "A full disk").

Two real ENOSPC faults from the kernel:

* /dev/full (runs everywhere): before the start `<data_dir>/run/status.json.tmp` is made a
  symlink to /dev/full, so every write of the status file fails with "No space left on
  device" while the rest of the disk has room; removing the symlink is the space coming back.
* a full tmpfs (where the test may mount one, i.e. as root with CAP_SYS_ADMIN, else
  skipped): `<data_dir>/run` is a 2 MiB tmpfs that the test fills; the stages' metrics
  files live there too, so stages may crash and be restarted meanwhile. The broker's and
  index's data stay on the ordinary disk: their own disk-full behaviour is not tested here.
"""
import os
import signal
import subprocess

import orjson
import pytest

from lwtest import Proc, fill, free_port, logwarden_cmd, wait_listening, wait_until

pytestmark = pytest.mark.integration


def children_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except FileNotFoundError:
        return []


def test_supervisor_survives_enospc_on_its_status_file_and_recovers(tmp_path):
    data = tmp_path / "data"
    run = data / "run"
    run.mkdir(parents=True)
    os.symlink("/dev/full", run / "status.json.tmp")
    http_port = free_port()
    up = Proc(logwarden_cmd("up", "--data-dir", str(data), "--broker-listen", f"127.0.0.1:{free_port()}",
                            "--http-listen", f"127.0.0.1:{http_port}"), tmp_path / "up.log")
    try:
        wait_until(lambda: "cannot write the status file" in up.output(100_000) or up.proc.poll() is not None,
                   "the status write fails", 60, detail=up.output)
        wait_listening(http_port, up, 90)  # fails with the output if the supervisor died
        assert up.proc.poll() is None, "the supervisor died on its status file:\n" + up.output()
        assert not (run / "status.json").exists()

        # still supervising while the status file cannot be written: a killed stage comes back
        (http_pid,) = [p for p in children_of(up.proc.pid) if b"http" in cmdline(p)]
        os.kill(http_pid, signal.SIGKILL)
        wait_until(lambda: [p for p in children_of(up.proc.pid) if b"http" in cmdline(p) and p != http_pid],
                   "the http stage restarted", 60, detail=up.output)
        wait_listening(http_port, up, 90)
        assert up.output(100_000).count("cannot write the status file") == 1  # once per outage, not per tick

        (run / "status.json.tmp").unlink()  # space is back
        status = wait_until(lambda: (run / "status.json").exists() and orjson.loads((run / "status.json").read_bytes()),
                            "status.json written again", 30, detail=up.output)
        assert status["pid"] == up.proc.pid
        assert status["children"]["http"]["restarts"] == 1
        assert all(c["running"] for c in status["children"].values()), status
        assert "status file written again" in up.output(100_000)
    finally:
        code = up.stop(60)
    assert code == 0, up.output()


@pytest.fixture
def small_run_dir(tmp_path):
    run = tmp_path / "data" / "run"
    run.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "logwarden-test", str(run)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield run
    subprocess.run(["umount", "-l", str(run)], check=False)


def test_supervisor_survives_a_full_run_directory_and_restarts_everything_after(tmp_path, small_run_dir):
    data, run = tmp_path / "data", small_run_dir
    http_port = free_port()
    up = Proc(logwarden_cmd("up", "--data-dir", str(data), "--broker-listen", f"127.0.0.1:{free_port()}",
                            "--http-listen", f"127.0.0.1:{http_port}"), tmp_path / "up.log")
    try:
        wait_listening(http_port, up, 90)
        wait_until(lambda: (run / "status.json").exists(), "status.json written", 30, detail=up.output)
        filler = fill(run)
        wait_until(lambda: "cannot write the status file" in up.output(100_000) or up.proc.poll() is not None,
                   "the status write fails", 30, detail=up.output)
        assert up.proc.poll() is None, "the supervisor died on its status file:\n" + up.output()
        (http_pid,) = [p for p in children_of(up.proc.pid) if b"http" in cmdline(p)]
        os.kill(http_pid, signal.SIGKILL)  # a stage dying while the disk is full
        wait_until(lambda: "child exited; restarting" in up.output(100_000), "the supervisor saw it", 30, detail=up.output)
        assert up.proc.poll() is None, up.output()

        filler.unlink()  # space is back: everything runs again without a person acting
        wait_until(lambda: "status file written again" in up.output(100_000), "status.json written again", 30, detail=up.output)

        def all_running():
            st = orjson.loads((run / "status.json").read_bytes())
            return st if all(c["running"] for c in st["children"].values()) else None

        status = wait_until(all_running, "every stage running again", 90, 0.5, detail=up.output)
        assert status["children"]["http"]["restarts"] >= 1
        wait_listening(http_port, up, 60)
    finally:
        code = up.stop(60)
    assert code == 0, up.output()
