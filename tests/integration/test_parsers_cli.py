"""`logwarden parse` as a user runs it: a real process, a real file, stdout/stderr/exit code."""
import orjson
import pytest

from lwtest import DATA, run_cli

pytestmark = pytest.mark.integration

SAMPLE = DATA / "logs" / "samples" / "apache_combined_10k.log"


def test_parse_real_file_in_auto_mode(tmp_path):
    r = run_cli("parse", str(SAMPLE), timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    docs = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == 10_000 and r.stderr == ""
    assert all(d["log"]["file"]["path"] == str(SAMPLE) for d in docs)
    offsets = [d["log"]["offset"] for d in docs]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert len({d["event"]["id"] for d in docs}) == 10_000


def test_strict_exit_and_stderr_reasons(tmp_path):
    f = tmp_path / "mixed.log"
    f.write_text("Nov 26 10:01:02 web-1 sshd[1]: Invalid user x from 203.0.113.5 port 2\n\x00\x01 binary junk\n", encoding="utf-8")
    r = run_cli("parse", "--strict", str(f))
    assert r.returncode == 1
    assert orjson.loads(r.stdout)["event"]["action"] == "invalid_user"
    err = orjson.loads(r.stderr.splitlines()[-1])
    assert err["line"] == 2 and err["parser"] == "auto" and err["reason"]
