"""The first start of a real `logwarden up` without LOGWARDEN_ADMIN_PASSWORD: the start-up
block prints a generated admin password once, it logs in to the UI's API, and the next start
neither prints nor changes it."""
from __future__ import annotations

import re

import httpx
import pytest

from e2e_harness import Appliance, wait_for

pytestmark = pytest.mark.e2e
LOGIN = re.compile(r"login\s+user 'admin', password (\S+)\s+\(shown once; stored hashed in (\S+);")


def _login(app: Appliance, password: str) -> httpx.Response:
    return httpx.post(app.url + "/api/login", json={"username": "admin", "password": password}, timeout=10)


def test_generated_admin_password_is_printed_once_and_works(tmp_path):
    app = Appliance(tmp_path, admin_password=None)
    try:
        app.start()
        m = wait_for("the generated password in the start-up block", lambda: LOGIN.search(app.output()), app, timeout=60)
        password, users_file = m.group(1), m.group(2)
        assert users_file == str(app.data / "auth" / "users.json")
        assert password not in open(users_file).read()
        wait_for("HTTP API up", lambda: app.api("/health"), app, timeout=60)
        assert httpx.get(app.url + "/api/search", timeout=10).status_code == 401
        assert _login(app, "not it").status_code == 401
        r = _login(app, password)
        assert r.status_code == 200 and r.json()["role"] == "admin"
        search = httpx.get(app.url + "/api/search", cookies=r.cookies, timeout=10)
        assert search.status_code == 200 and "total" in search.json()
        app.stop()

        app.start()
        wait_for("the second start-up block", lambda: app.output().count("is up.") == 2, app, timeout=60)
        second = app.output().split("is up.")[-1]
        assert password not in second and "users in" in second
        wait_for("HTTP API up again", lambda: app.api("/health"), app, timeout=60)
        assert _login(app, password).status_code == 200
    finally:
        app.stop()
