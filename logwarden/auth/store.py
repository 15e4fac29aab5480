"""Local users (argon2id password hashes) and API tokens (SHA-256 of a random secret).

Both live under `<data_dir>/auth/` (folder 0700, files 0600) as small JSON files written
atomically (temporary file, fsync, rename), so the CLI (`logwarden user`, `logwarden token`)
and the HTTP process can share them: the HTTP process re-reads a file whose mtime or size
changed, so a token created from a shell works at once without a restart.

Why two hashes: a password is chosen by a person and may be guessable, so it gets argon2id
(slow and memory-hard on purpose, ~50 ms a check). A token is 32 random bytes chosen by us;
nobody can guess it, so a fast SHA-256 is enough and keeps every API call cheap.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any, Literal

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role = Literal["viewer", "admin"]
ROLES: tuple[str, ...] = ("viewer", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKEN_PREFIX = "lwt_"
MIN_PASSWORD = 8

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name costs as long as a wrong
    password. Made on first use: a hash costs ~50 ms and 64 MiB, too much for every import."""
    return _hasher.hash(secrets.token_urlsafe(16))


class AuthError(ValueError):
    """A bad name, role or password given to the store (the caller's to fix)."""


def auth_dir(data_path: Path) -> Path:
    return data_path / "auth"


def _write_private(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, orjson.dumps(body, option=orjson.OPT_INDENT_2))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class _JsonFile:
    """A JSON object on disk, re-read when another process replaced it."""

    def __init__(self, path: Path):
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._data: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._data = None, {}
            return self._data
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._data = orjson.loads(self.path.read_bytes())
            self._stamp = stamp
        return self._data

    def save(self, data: dict[str, Any]) -> None:
        _write_private(self.path, data)
        self._stamp = None
        self.load()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AuthError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")


class Users:
    """`users.json`: {"users": {name: {"hash", "role", "created"}}}."""

    def __init__(self, data_path: Path):
        self.file = _JsonFile(auth_dir(data_path) / "users.json")

    @property
    def path(self) -> Path:
        return self.file.path

    def all(self) -> dict[str, dict[str, Any]]:
        return dict(self.file.load().get("users", {}))

    def exists(self) -> bool:
        return bool(self.all())

    def set(self, name: str, password: str, role: str) -> None:
        """Add the user, or give an existing one this password and role."""
        if not NAME_RE.match(name):
            raise AuthError(f"user name: letters, digits and . _ @ - (at most 64), got {name!r}")
        _check_role(role)
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"password: at least {MIN_PASSWORD} characters")
        users = self.all()
        created = users.get(name, {}).get("created") or _now_iso()
        users[name] = {"hash": _hasher.hash(password), "role": role, "created": created}
        self.file.save({"users": users})

    def remove(self, name: str) -> bool:
        users = self.all()
        if users.pop(name, None) is None:
            return False
        self.file.save({"users": users})
        return True

    def verify(self, name: str, password: str) -> str | None:
        """The user's role when the password is right, else None (same cost either way)."""
        user = self.all().get(name)
        try:
            _hasher.verify(user["hash"] if user else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        return user["role"] if user else None


class Tokens:
    """`tokens.json`: {"tokens": {id: {"sha256", "role", "name", "created"}}}. A token reads
    `lwt_<id>_<secret>`; the id finds the entry, the secret's hash must match."""

    def __init__(self, data_path: Path):
        self.file = _JsonFile(auth_dir(data_path) / "tokens.json")

    def all(self) -> dict[str, dict[str, Any]]:
        return dict(self.file.load().get("tokens", {}))

    def create(self, role: str, name: str = "") -> tuple[str, str]:
        """(token id, the token itself): the token is shown once and only its hash is kept."""
        _check_role(role)
        tid = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        tokens = self.all()
        tokens[tid] = {"sha256": _sha256(secret), "role": role, "name": name, "created": _now_iso()}
        self.file.save({"tokens": tokens})
        return tid, f"{TOKEN_PREFIX}{tid}_{secret}"

    def revoke(self, tid: str) -> bool:
        tokens = self.all()
        if tokens.pop(tid, None) is None:
            return False
        self.file.save({"tokens": tokens})
        return True

    def verify(self, token: str) -> tuple[str, str] | None:
        """(token id, role) of a valid token, else None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        tid, sep, secret = token[len(TOKEN_PREFIX):].partition("_")
        entry = self.all().get(tid) if sep else None
        if not entry or not hmac.compare_digest(entry["sha256"], _sha256(secret)):
            return None
        return tid, entry["role"]


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
