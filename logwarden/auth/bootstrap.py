"""The first admin, so the first `logwarden up` leads to a working, protected UI.

`LOGWARDEN_ADMIN_PASSWORD` (user `admin`, or `LOGWARDEN_ADMIN_USER`) names it; without it a
password is generated, stored hashed and returned so `up` prints it once in its start-up
block. Only a data directory without users gets one: later starts leave the users alone
(change a password with `logwarden user set NAME`).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from logwarden.auth.store import Users

ENV_USER = "LOGWARDEN_ADMIN_USER"
ENV_PASSWORD = "LOGWARDEN_ADMIN_PASSWORD"


@dataclass
class FirstAdmin:
    user: str
    password: str | None      # the generated one, to print once; None when it came from the environment
    users_file: Path


def ensure_first_admin(data_path: Path, env: dict[str, str] | None = None) -> FirstAdmin | None:
    """Create the first admin when no user exists; None when users exist already."""
    env = os.environ if env is None else env
    users = Users(data_path)
    if users.exists():
        return None
    name = env.get(ENV_USER) or "admin"
    given = env.get(ENV_PASSWORD)
    password = given or secrets.token_urlsafe(12)
    users.set(name, password, "admin")
    return FirstAdmin(name, None if given else password, users.path)


def banner_line(first: FirstAdmin | None, users_file: Path) -> str:
    """The `login` row of `up`'s start-up block."""
    if first is None:
        return f"users in {users_file} (logwarden user set NAME)"
    if first.password is None:
        return f"user {first.user!r}, password from ${ENV_PASSWORD}"
    return (f"user {first.user!r}, password {first.password}  (shown once; stored hashed in {first.users_file}; "
            f"set ${ENV_PASSWORD} before the first start to choose it)")
