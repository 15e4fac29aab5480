"""Browser sessions and the login rate limiter: pure state with the clock passed in.

Sessions live in the HTTP process's memory: an id (the cookie, 32 random bytes) maps to the
user, the role and a CSRF token the page sends back in `X-CSRF-Token` on every state change.
A restarted HTTP process forgets them and people log in again; nothing else is lost, which
is why they are not written to disk.
"""
from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass


@dataclass
class Session:
    user: str
    role: str
    csrf: str
    created: float
    seen: float


class Sessions:
    def __init__(self, idle_s: float, max_s: float):
        self.idle_s = idle_s
        self.max_s = max_s
        self._by_id: dict[str, Session] = {}

    def create(self, user: str, role: str, now: float) -> tuple[str, Session]:
        self._expire(now)
        sid = secrets.token_urlsafe(32)
        s = Session(user, role, secrets.token_urlsafe(32), now, now)
        self._by_id[sid] = s
        return sid, s

    def get(self, sid: str | None, now: float) -> Session | None:
        s = self._by_id.get(sid) if sid else None
        if s is None:
            return None
        if now - s.seen > self.idle_s or now - s.created > self.max_s:
            del self._by_id[sid]  # type: ignore[arg-type]
            return None
        s.seen = now
        return s

    def end(self, sid: str | None) -> None:
        if sid:
            self._by_id.pop(sid, None)

    def end_user(self, user: str) -> None:
        """Log a user out everywhere (a removed user or a changed password)."""
        for sid in [k for k, s in self._by_id.items() if s.user == user]:
            del self._by_id[sid]

    def _expire(self, now: float) -> None:
        for sid in [k for k, s in self._by_id.items() if now - s.seen > self.idle_s or now - s.created > self.max_s]:
            del self._by_id[sid]


class LoginLimiter:
    """At most `max_failures` failed logins per key (the client address, and the user name)
    within `window_s`; past that every attempt for that key is refused, right password or
    not, until the oldest failure leaves the window. A success clears the user name's count."""

    def __init__(self, max_failures: int, window_s: float):
        self.max_failures = max_failures
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = {}

    def retry_after(self, keys: list[str], now: float) -> float:
        """Seconds until an attempt for all of `keys` is allowed; 0 when it is now."""
        wait = 0.0
        for k in keys:
            q = self._fails.get(k)
            if not q:
                continue
            while q and now - q[0] >= self.window_s:
                q.popleft()
            if len(q) >= self.max_failures:
                wait = max(wait, q[0] + self.window_s - now)
        return wait

    def failed(self, keys: list[str], now: float) -> None:
        for k in keys:
            self._fails.setdefault(k, deque()).append(now)
        if len(self._fails) > 10_000:  # bound memory under a spray of names
            for k in [k for k, q in self._fails.items() if not q or now - q[-1] >= self.window_s]:
                del self._fails[k]

    def succeeded(self, key: str) -> None:
        self._fails.pop(key, None)
