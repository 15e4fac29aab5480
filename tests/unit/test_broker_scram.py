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
