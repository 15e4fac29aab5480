"""Who may use the HTTP API: every /api/* route refuses a request without credentials (401),
a viewer cannot change anything (403), a browser session needs its CSRF token for a change,
logins are rate limited, and the first admin gets a generated password stored hashed."""
from __future__ import annotations

import os
import stat

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from logwarden.auth.bootstrap import ensure_first_admin
from logwarden.auth.sessions import LoginLimiter, Sessions
from logwarden.auth.store import AuthError, Tokens, Users
from logwarden.config import Config
from logwarden.http.app import build_app

SAFE = {"GET", "HEAD"}


def _cfg(tmp_path, **http) -> Config:
    return Config(data_dir=str(tmp_path), http=http or {})


def _api_routes(app) -> list[tuple[str, str]]:
    """(method, concrete path) for every /api/* route the app serves, path parameters filled in."""
    out = []
    for r in app.routes:
        if isinstance(r, Route) and r.path.startswith("/api/") and r.path != "/api/login":
            path = r.path.replace("{alert_id}", "a1").replace("{", "").replace("}", "")
            for m in sorted(r.methods or {"GET"}):
                if m != "HEAD":
                    out.append((m, path))
    return out


def _login(client: TestClient, user: str, password: str, **kw):
    return client.post("/api/login", json={"username": user, "password": password}, **kw)


@pytest.fixture
def cfg(tmp_path):
    c = _cfg(tmp_path, auth={"login_max_failures": 3})
    Users(c.data_path).set("ana", "correct horse", "admin")
    Users(c.data_path).set("vic", "viewer pass", "viewer")
    return c


def test_every_api_route_without_credentials_is_401(cfg):
    app = build_app(cfg)
    routes = _api_routes(app)
    assert ("GET", "/api/search") in routes and ("GET", "/api/status") in routes and len(routes) >= 6
    client = TestClient(app)
    for method, path in routes:
        r = client.request(method, path)
        assert r.status_code == 401, (method, path, r.status_code)
        assert "authentication required" in r.json()["error"] and r.headers["www-authenticate"].startswith("Bearer")
        bad = client.request(method, path, headers={"Authorization": "Bearer lwt_0000_nope"})
        assert bad.status_code == 401, (method, path)


def test_a_token_opens_the_api_and_a_revoked_one_does_not(cfg):
    tokens = Tokens(cfg.data_path)
    tid, token = tokens.create("viewer", "ci")
    client = TestClient(build_app(cfg))
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/search", headers=h).status_code == 200
    assert client.get("/api/session", headers=h).json()["role"] == "viewer"
    assert token not in (cfg.data_path / "auth" / "tokens.json").read_text()   # only its hash is stored
    assert tokens.revoke(tid)
    assert client.get("/api/search", headers=h).status_code == 401   # the running app re-reads the file


def test_health_and_metrics_stay_open_unless_configured(cfg, tmp_path):
    client = TestClient(build_app(cfg))
    assert client.get("/metrics").status_code == 200 and client.get("/health").status_code == 200
    assert client.get("/").status_code == 200 and client.get("/static/app.js").status_code == 200
    closed = TestClient(build_app(_cfg(tmp_path / "b", auth={"open_paths": ["/health"]})))
    assert closed.get("/metrics").status_code == 401 and closed.get("/health").status_code == 200


def test_session_cookie_and_csrf(cfg):
    client = TestClient(build_app(cfg))
    r = _login(client, "ana", "correct horse")
    assert r.status_code == 200 and r.json()["role"] == "admin"
    cookie = r.headers["set-cookie"]
    assert "lw_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie
    csrf = r.json()["csrf"]
    assert client.get("/api/search").status_code == 200
    assert client.get("/api/session").json() == {"user": "ana", "role": "admin", "kind": "session", "csrf": csrf}
    # a state change with the cookie alone (what another site's form could make the browser send)
    assert client.post("/api/logout").status_code == 403
    assert client.post("/api/logout", headers={"X-CSRF-Token": "guess"}).status_code == 403
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}).status_code == 403
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/search").status_code == 401     # logged out


def test_secure_cookie_with_tls(tmp_path):
    cfg = _cfg(tmp_path, tls={"cert_file": "/x/cert.pem", "key_file": "/x/key.pem"})
    Users(cfg.data_path).set("ana", "correct horse", "admin")
    r = _login(TestClient(build_app(cfg), base_url="https://testserver"), "ana", "correct horse")
    assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]


def test_login_refuses_forms_and_foreign_origins(cfg):
    client = TestClient(build_app(cfg))
    r = client.post("/api/login", data={"username": "ana", "password": "correct horse"})
    assert r.status_code == 415
    r = _login(client, "ana", "correct horse", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "Origin" in r.json()["error"]
    assert client.post("/api/login", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400


def test_bad_password_is_refused_and_rate_limited(cfg):
    client = TestClient(build_app(cfg))
    for _ in range(3):
        r = _login(client, "ana", "wrong")
        assert r.status_code == 401 and r.json()["error"] == "wrong user name or password"
        assert "set-cookie" not in r.headers
    r = _login(client, "ana", "correct horse")   # the right password, but too late
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "too many failed logins" in r.json()["error"]
    assert _login(client, "vic", "viewer pass").status_code == 429   # the same client address
    assert _login(client, "nobody", "whatever").status_code == 429


def test_unknown_user_is_refused_like_a_wrong_password(cfg):
    r = _login(TestClient(build_app(cfg)), "nobody", "correct horse")
    assert r.status_code == 401 and r.json()["error"] == "wrong user name or password"


def test_removed_user_loses_its_session(cfg):
    client = TestClient(build_app(cfg))
    assert _login(client, "vic", "viewer pass").status_code == 200
    assert client.get("/api/search").status_code == 200
    Users(cfg.data_path).remove("vic")
    assert client.get("/api/search").status_code == 401


def test_limiter_window_and_success():
    lim = LoginLimiter(max_failures=2, window_s=60)
    keys = ["addr:1", "user:a"]
    lim.failed(keys, 0)
    assert lim.retry_after(keys, 1) == 0
    lim.failed(keys, 10)
    assert lim.retry_after(keys, 11) == pytest.approx(49)
    assert lim.retry_after(["addr:2", "user:b"], 11) == 0
    assert lim.retry_after(keys, 59) == pytest.approx(1)
    assert lim.retry_after(keys, 60) == 0      # the first failure has left the window
    lim.failed(keys, 61)
    assert lim.retry_after(keys, 62) > 0
    lim.succeeded("user:a")                     # a success clears the name, not the address
    assert lim.retry_after(["user:a"], 62) == 0 and lim.retry_after(["addr:1"], 62) > 0


def test_sessions_expire_when_idle_or_old():
    s = Sessions(idle_s=10, max_s=100)
    sid, _ = s.create("ana", "admin", 0)
    assert s.get(sid, 9) and s.get(sid, 18) and s.get(sid, 27)   # used within the idle time
    assert s.get(sid, 38) is None
    sid, _ = s.create("ana", "admin", 0)
    for t in range(5, 100, 5):
        assert s.get(sid, t)
    assert s.get(sid, 101) is None


def test_store_refuses_bad_input(tmp_path):
    users = Users(tmp_path)
    with pytest.raises(AuthError, match="role"):
        users.set("ana", "long enough", "root")
    with pytest.raises(AuthError, match="at least 8"):
        users.set("ana", "short", "admin")
    with pytest.raises(AuthError, match="user name"):
        users.set("a b", "long enough", "admin")
    with pytest.raises(AuthError, match="role"):
        Tokens(tmp_path).create("owner")
    assert not users.exists()


def test_generated_first_admin_is_stored_hashed_and_private(tmp_path):
    first = ensure_first_admin(tmp_path, env={})
    assert first and first.user == "admin" and first.password and len(first.password) >= 16
    users_file = tmp_path / "auth" / "users.json"
    assert first.users_file == users_file
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(users_file.parent).st_mode) == 0o700
    text = users_file.read_text()
    assert first.password not in text and "$argon2id$" in text
    assert Users(tmp_path).verify("admin", first.password) == "admin"
    assert ensure_first_admin(tmp_path, env={}) is None     # once only


def test_first_admin_from_the_environment(tmp_path):
    first = ensure_first_admin(tmp_path, env={"LOGWARDEN_ADMIN_PASSWORD": "from the env", "LOGWARDEN_ADMIN_USER": "root"})
    assert first and first.user == "root" and first.password is None
    assert Users(tmp_path).verify("root", "from the env") == "admin"
    assert Users(tmp_path).verify("admin", "from the env") is None


def test_token_and_user_commands(tmp_path):
    from lwtest import run_cli

    d = str(tmp_path)
    res = run_cli("token", "create", "--role", "viewer", "--name", "ci", "--data-dir", d)
    assert res.returncode == 0, res.stderr
    token = res.stdout.strip()
    assert token.startswith("lwt_") and "\n" not in token and "shown only now" in res.stderr
    tid = token[4:].split("_")[0]
    assert Tokens(tmp_path).verify(token) == (tid, "viewer")
    listed = run_cli("token", "list", "--data-dir", d).stdout
    assert tid in listed and "viewer" in listed and "ci" in listed and token not in listed
    assert run_cli("token", "create", "--role", "root", "--data-dir", d).returncode == 2
    res = run_cli("user", "set", "ana", "--role", "admin", "--password-stdin", "--data-dir", d, input="s3cret pass\n")
    assert res.returncode == 0, res.stderr
    assert Users(tmp_path).verify("ana", "s3cret pass") == "admin"
    res = run_cli("user", "set", "bob", "--password-stdin", "--data-dir", d, input="short\n")
    assert res.returncode == 2 and "at least 8" in res.stderr
    assert run_cli("token", "revoke", tid, "--data-dir", d).returncode == 0
    assert Tokens(tmp_path).verify(token) is None
    res = run_cli("user", "remove", "nobody", "--data-dir", d)
    assert res.returncode == 2 and "no user" in res.stderr
