"""Who is asking: sessions and tokens checked in front of every route (an ASGI middleware),
and the login, logout and session routes.

* `/api/*` needs a session cookie or `Authorization: Bearer <token>`: 401 without.
* A state change (any method but GET/HEAD/OPTIONS) needs the admin role (403 for a viewer)
  and, with a session, the session's CSRF token in `X-CSRF-Token` and no foreign `Origin`
  (403): a page on another site can make the browser send the cookie, never the header.
  A token is not sent by the browser on its own, so it needs no CSRF token.
* `POST /api/login` takes JSON only (a cross-site form cannot send it without a CORS
  preflight, which is never granted) and is rate limited per client address and per name.
* The page and /static are open (they hold no data); `http.auth.open_paths` (/health and
  /metrics by default) too. Everything else needs credentials.
"""
from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from logwarden.auth.sessions import LoginLimiter, Sessions
from logwarden.auth.store import Tokens, Users
from logwarden.config import Config
from logwarden.durations import parse_duration

log = logging.getLogger("logwarden.http.auth")
COOKIE = "lw_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PREFIXES = ("/static/",)
LOGIN = "/api/login"
CLOSABLE = frozenset({"/health", "/metrics"})   # open only while listed in http.auth.open_paths
UNAUTHENTICATED = ("authentication required: log in, or send Authorization: Bearer <token> "
                   "(create one with `logwarden token create --role viewer`)")


@dataclass
class Principal:
    """The user or token behind a request; `session_id` is set for browser sessions."""
    name: str
    role: str
    kind: str               # "session" or "token"
    session_id: str | None = None
    csrf: str | None = None


class Auth:
    def __init__(self, cfg: Config, clock=time.monotonic):
        a = cfg.http.auth
        self.cfg = cfg
        self.clock = clock
        self.users = Users(cfg.data_path)
        self.tokens = Tokens(cfg.data_path)
        self.sessions = Sessions(parse_duration(a.session_idle).total_seconds(), parse_duration(a.session_max).total_seconds())
        self.limiter = LoginLimiter(a.login_max_failures, parse_duration(a.login_window).total_seconds())
        self.open_paths = frozenset(a.open_paths)
        self.secure_cookie = bool(cfg.http.tls.cert_file)

    def is_public(self, path: str) -> bool:
        """The login route, open_paths, and the page's own routes and assets (no data in them)."""
        if path == LOGIN or path in self.open_paths or path.startswith(PUBLIC_PREFIXES):
            return True
        return not (path == "/api" or path.startswith("/api/") or path in CLOSABLE)

    def identify(self, headers: dict[str, str], cookies: dict[str, str]) -> Principal | None:
        authz = headers.get("authorization", "")
        if authz[:7].lower() == "bearer ":
            found = self.tokens.verify(authz[7:].strip())
            return Principal(f"token:{found[0]}", found[1], "token") if found else None
        sid = cookies.get(COOKIE)
        s = self.sessions.get(sid, self.clock())
        if s is None:
            return None
        user = self.users.all().get(s.user)
        if user is None:   # removed with `logwarden user remove` since the login
            self.sessions.end_user(s.user)
            return None
        return Principal(s.user, user["role"], "session", sid, s.csrf)


def _deny(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _origin_ok(headers: dict[str, str], scheme: str) -> bool:
    """No Origin (curl, scripts, same-origin GETs) or our own; a foreign page's is refused."""
    origin = headers.get("origin")
    if not origin:
        return True
    return origin == f"{scheme}://{headers.get('host', '')}"


class AuthMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware), so the live tail's event stream passes untouched."""

    def __init__(self, app: Any, auth: Auth):
        self.app = app
        self.auth = auth

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.auth.is_public(path):
            if path == LOGIN and method not in SAFE_METHODS and not _origin_ok(headers, scope.get("scheme", "http")):
                return await _deny(403, "login from another site's page refused (Origin)")(scope, receive, send)
            return await self.app(scope, receive, send)
        cookies: dict[str, str] = {}
        if "cookie" in headers:
            jar: SimpleCookie = SimpleCookie()
            jar.load(headers["cookie"])
            cookies = {k: m.value for k, m in jar.items()}
        who = self.auth.identify(headers, cookies)
        if who is None:
            return await _deny(401, UNAUTHENTICATED, {"WWW-Authenticate": 'Bearer realm="logwarden"'})(scope, receive, send)
        if method not in SAFE_METHODS:
            if who.kind == "session":
                sent = headers.get("x-csrf-token", "")
                if not sent or not hmac.compare_digest(sent, who.csrf or ""):
                    return await _deny(403, "CSRF token missing or wrong: send the X-CSRF-Token header "
                                            "that GET /api/session returns")(scope, receive, send)
                if not _origin_ok(headers, scope.get("scheme", "http")):
                    return await _deny(403, "request from another site's page refused (Origin)")(scope, receive, send)
            if who.role != "admin" and path != "/api/logout":
                return await _deny(403, f"{method} {path} needs the admin role; {who.name} is a {who.role}")(scope, receive, send)
        scope.setdefault("state", {})["principal"] = who
        return await self.app(scope, receive, send)


def principal(request: Request) -> Principal:
    return request.state.principal


class AuthRoutes:
    def __init__(self, auth: Auth):
        self.auth = auth

    def _cookie(self, resp: Response, value: str, max_age: int | None) -> None:
        resp.set_cookie(COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=self.auth.secure_cookie)

    async def login(self, request: Request) -> Response:
        if request.method != "POST":
            return _deny(405, "POST a JSON body {\"username\": ..., \"password\": ...}")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _deny(415, "login: send Content-Type: application/json")
        try:
            body = orjson.loads(await request.body())
            name, password = body["username"], body["password"]
            if not isinstance(name, str) or not isinstance(password, str):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _deny(400, "login: expected {\"username\": \"...\", \"password\": \"...\"}")
        client = request.client.host if request.client else "?"
        keys = [f"addr:{client}", f"user:{name}"]
        now = self.auth.clock()
        wait = self.auth.limiter.retry_after(keys, now)
        if wait > 0:
            log.warning("login refused: too many failures", extra={"user": name, "client": client})
            return _deny(429, f"too many failed logins; try again in {int(wait) + 1} s",
                         {"Retry-After": str(int(wait) + 1)})
        from starlette.concurrency import run_in_threadpool

        role = await run_in_threadpool(self.auth.users.verify, name, password)  # argon2: ~50 ms, off the loop
        if role is None:
            self.auth.limiter.failed(keys, now)
            log.warning("login failed", extra={"user": name, "client": client})
            return _deny(401, "wrong user name or password")
        self.auth.limiter.succeeded(f"user:{name}")
        sid, s = self.auth.sessions.create(name, role, now)
        log.info("login", extra={"user": name, "client": client})
        resp = JSONResponse({"user": name, "role": role, "csrf": s.csrf})
        self._cookie(resp, sid, int(self.auth.sessions.max_s))
        return resp

    async def logout(self, request: Request) -> Response:
        who = principal(request)
        if who.kind != "session":
            return _deny(400, "logout ends a browser session; a token is revoked with `logwarden token revoke ID`")
        self.auth.sessions.end(who.session_id)
        resp = JSONResponse({"ok": True})
        self._cookie(resp, "", 0)
        return resp

    async def session(self, request: Request) -> Response:
        who = principal(request)
        return JSONResponse({"user": who.name, "role": who.role, "kind": who.kind, "csrf": who.csrf})
