"""SASL mechanisms as sans-IO state machines: bytes from the client in, bytes out.

Credentials are stored the way Kafka stores SCRAM credentials (RFC 5802): per mechanism a
salt, an iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
ServerKey = HMAC(SaltedPassword, "Server Key"); never the password. The config string is
`<salt b64>:<iterations>:<stored key b64>:<server key b64>`, produced by `hash_password`
(`python -m logwarden.broker.security.scram USER` prints a ready config entry).
PLAIN is checked against the same stored SCRAM keys, so one hashed entry serves both.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys
from dataclasses import dataclass

HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
CONFIG_KEYS = {"SCRAM-SHA-256": "scram_sha_256", "SCRAM-SHA-512": "scram_sha_512"}
DEFAULT_ITERATIONS = 4096  # Kafka's minimum for SCRAM credentials


class AuthError(Exception):
    pass


REPEATED_NONCE = ("nonce mismatch: the client repeated its own nonce in client-final-message, a bug of "
                  "librdkafka before 2.6.1 (kcat, rsyslog omkafka from Debian 12); Kafka 4 refuses it too. "
                  "Upgrade the client's librdkafka, or use PLAIN over SASL_SSL")


@dataclass(frozen=True)
class ScramCredential:
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    @classmethod
    def parse(cls, text: str) -> "ScramCredential":
        salt, it, stored, server = text.split(":")
        return cls(base64.b64decode(salt), int(it), base64.b64decode(stored), base64.b64decode(server))

    def format(self) -> str:
        b = base64.b64encode
        return f"{b(self.salt).decode()}:{self.iterations}:{b(self.stored_key).decode()}:{b(self.server_key).decode()}"


def derive(password: str, mechanism: str, salt: bytes | None = None, iterations: int = DEFAULT_ITERATIONS) -> ScramCredential:
    h = HASHES[mechanism]
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac(h, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", h).digest()
    return ScramCredential(salt, iterations, hashlib.new(h, client_key).digest(),
                           hmac.new(salted, b"Server Key", h).digest())


def hash_password(password: str) -> dict[str, str]:
    """A config entry (both SCRAM mechanisms) for one user. An empty password is refused:
    it would let anyone who knows the user name in (PLAIN and SCRAM alike)."""
    if not password:
        raise ValueError("the password is empty")
    return {CONFIG_KEYS[m]: derive(password, m).format() for m in HASHES}


def _creds(users: dict[str, dict[str, str]], user: str, mechanism: str) -> ScramCredential | None:
    entry = users.get(user)
    text = entry.get(CONFIG_KEYS[mechanism]) if entry else None
    return ScramCredential.parse(text) if text else None


class PlainServer:
    """RFC 4616: one message `authzid NUL user NUL password`."""

    def __init__(self, users: dict[str, dict[str, str]]):
        self.users = users
        self.done = False
        self.principal: str | None = None

    def step(self, data: bytes) -> bytes:
        parts = data.split(b"\0")
        if len(parts) != 3:
            raise AuthError("malformed PLAIN message")
        user, password = parts[1].decode(errors="replace"), parts[2].decode(errors="replace")
        for mech in HASHES:
            cred = _creds(self.users, user, mech)
            if cred is not None:
                got = derive(password, mech, cred.salt, cred.iterations)
                if hmac.compare_digest(got.stored_key, cred.stored_key):
                    self.done, self.principal = True, user
                    return b""
                break
        raise AuthError(f"authentication failed for user {user!r}")


class ScramServer:
    """RFC 5802 server side: client-first -> server-first, client-final -> server-final."""

    def __init__(self, users: dict[str, dict[str, str]], mechanism: str):
        self.users, self.mechanism, self.h = users, mechanism, HASHES[mechanism]
        self.state = 0
        self.done = False
        self.principal: str | None = None

    def step(self, data: bytes) -> bytes:
        text = data.decode("utf-8", errors="strict")
        if self.state == 0:
            if not text.startswith(("n,", "y,")):
                raise AuthError("channel binding is not supported")
            _gs2, _authz, bare = text.split(",", 2)
            attrs = dict(kv.split("=", 1) for kv in bare.split(",") if "=" in kv)
            user = attrs.get("n", "").replace("=2C", ",").replace("=3D", "=")
            cnonce = attrs.get("r", "")
            self.cred = _creds(self.users, user, self.mechanism)
            if self.cred is None or not cnonce:
                raise AuthError(f"authentication failed for user {user!r}")
            self.user, self.client_first_bare = user, bare
            self.cnonce = cnonce
            self.nonce = cnonce + base64.b64encode(os.urandom(18)).decode()
            self.server_first = f"r={self.nonce},s={base64.b64encode(self.cred.salt).decode()},i={self.cred.iterations}"
            self.state = 1
            return self.server_first.encode()
        if self.state == 1:
            without_proof, _, proof = text.rpartition(",p=")
            attrs = dict(kv.split("=", 1) for kv in without_proof.split(",") if "=" in kv)
            if attrs.get("r") != self.nonce:
                # RFC 5802: the nonce must be exactly the server-first one. Kafka 4 checks it
                # with equals (3.8.1-3.9 accepted any suffix match, earlier ones did not look),
                # so librdkafka before 2.6.1, which prepends its client nonce a second time, is
                # refused here as there; say so, since that client is what Debian ships.
                if attrs.get("r") == self.cnonce + self.nonce:
                    raise AuthError(REPEATED_NONCE)
                raise AuthError("nonce mismatch")
            auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
            signature = hmac.new(self.cred.stored_key, auth_message, self.h).digest()
            client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature))
            if not hmac.compare_digest(hashlib.new(self.h, client_key).digest(), self.cred.stored_key):
                raise AuthError(f"authentication failed for user {self.user!r}")
            self.state, self.done, self.principal = 2, True, self.user
            return b"v=" + base64.b64encode(hmac.new(self.cred.server_key, auth_message, self.h).digest())
        raise AuthError("SCRAM exchange already finished")


def server_for(mechanism: str, users: dict[str, dict[str, str]]) -> PlainServer | ScramServer:
    if mechanism == "PLAIN":
        return PlainServer(users)
    return ScramServer(users, mechanism)


if __name__ == "__main__":  # python -m logwarden.broker.security.scram USER  (reads the password from stdin)
    import getpass

    import yaml

    if len(sys.argv) != 2 or not sys.argv[1]:
        sys.exit("usage: python -m logwarden.broker.security.scram USER  (the password is read from stdin)")
    user = sys.argv[1]
    pw = getpass.getpass(f"password for {user}: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not pw:
        print(f"error: the password for {user} is empty; nothing printed (give it on stdin, e.g. "
              f"`echo 's3cret' | python -m logwarden.broker.security.scram {user}`)", file=sys.stderr)
        sys.exit(2)
    print(yaml.safe_dump({user: hash_password(pw)}, sort_keys=False), end="")
