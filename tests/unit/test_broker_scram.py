"""The SCRAM server state machine fed by hand: the nonce check of client-final-message."""
from __future__ import annotations

import pytest

from logwarden.broker.security.scram import REPEATED_NONCE, AuthError, ScramServer, hash_password

USERS = {"alice": hash_password("wonderland")}


def server_first(mechanism: str = "SCRAM-SHA-256") -> tuple[ScramServer, str]:
    srv = ScramServer(USERS, mechanism)
    first = srv.step(b"n,,n=alice,r=client-nonce-1").decode()
    nonce = dict(kv.split("=", 1) for kv in first.split(","))["r"]
    assert nonce.startswith("client-nonce-1") and len(nonce) > len("client-nonce-1")
    return srv, nonce


def test_a_repeated_client_nonce_is_refused_and_named():
    """What librdkafka before 2.6.1 (Debian's kcat, omkafka) sends: client nonce + the whole nonce."""
    srv, nonce = server_first()
    with pytest.raises(AuthError) as exc:
        srv.step(f"c=biws,r=client-nonce-1{nonce},p=AAAA".encode())
    assert str(exc.value) == REPEATED_NONCE and "librdkafka before 2.6.1" in REPEATED_NONCE
    assert not srv.done


@pytest.mark.parametrize("bad", ["client-nonce-1", "{nonce}x", "x{nonce}", ""])
def test_any_other_nonce_is_a_plain_mismatch(bad):
    srv, nonce = server_first("SCRAM-SHA-512")
    with pytest.raises(AuthError, match="^nonce mismatch$"):
        srv.step(f"c=biws,r={bad.format(nonce=nonce)},p=AAAA".encode())


def helper(*args: str, stdin: str) -> "subprocess.CompletedProcess[str]":
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-P", "-m", "logwarden.broker.security.scram", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("stdin", ["\n", ""])
def test_the_credential_helper_refuses_an_empty_password(stdin):
    r = helper("alice", stdin=stdin)
    assert r.returncode == 2 and r.stdout == ""
    assert "the password for alice is empty" in r.stderr
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_the_credential_helper_prints_an_entry_that_logs_in():
    import yaml

    from logwarden.broker.security.scram import PlainServer

    r = helper("alice", stdin="s3cret\n")
    assert r.returncode == 0, r.stderr
    users = yaml.safe_load(r.stdout)
    assert set(users["alice"]) == {"scram_sha_256", "scram_sha_512"}
    assert PlainServer(users).step(b"\0alice\0s3cret") == b""
    assert helper(stdin="x\n").returncode == 1  # no USER: usage
