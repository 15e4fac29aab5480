"""No configured or presented secret appears in a log line, an error or /health.

A run of the whole appliance with every kind of secret it handles - the first admin's
password, an ingest token, a webhook URL (which, as Slack's are, is itself the credential)
and a header token of that webhook, a wrong password and bogus tokens presented by
clients - then every line `logwarden up` printed, /health and /api/status are searched for
each secret. The webhook answers 500, so the notifier's error path is logged too.
"""
from __future__ import annotations

import http.server
import threading

import httpx
import pytest

from e2e_harness import ADMIN_PASSWORD, SSHD_FAIL, Appliance, wait_for
from lwtest import free_port

pytestmark = [pytest.mark.e2e]

INGEST_TOKEN = "ingest-secret-7f3a9c2e"
URL_SECRET = "url-secret-51d2c0ffee"
HEADER_SECRET = "header-secret-88e1b0"
WRONG_PASSWORD = "wrong-password-secret-4410"
BOGUS_TOKEN = "bogus-token-secret-9a9a"
WRONG_INGEST_TOKEN = "wrong-ingest-secret-3c3c"


class FailingHook(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that always fails (what a misconfigured endpoint does)."""

    hits = 0

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).hits += 1
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"boom")

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FailingHook)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()


def test_no_secret_is_logged_or_served(tmp_path, hook):
    ingest_port = free_port()
    app = Appliance(tmp_path, config={
        "ingest": {"http": f"127.0.0.1:{ingest_port}", "tokens": [{"name": "web", "token": INGEST_TOKEN}]},
        "rules": {"notifiers": [{"type": "webhook", "url": f"http://127.0.0.1:{hook}/hook/{URL_SECRET}",
                                 "headers": {"Authorization": f"Bearer {HEADER_SECRET}"}, "retries": 0}]},
    })
    try:
        app.start()
        wait_for("HTTP API up", lambda: app.api("/health"), app, timeout=60)
        app.append([SSHD_FAIL.format(s=s, port=50000 + s) for s in range(8)])
        wait_for("the brute-force alert", lambda: app.api("/api/alerts").get("hits"), app)
        wait_for("the webhook tried (and failed)", lambda: FailingHook.hits > 0, app)

        ingest = f"http://127.0.0.1:{ingest_port}/ingest"
        assert httpx.post(ingest, content=b"hello\n", headers={"Authorization": f"Bearer {INGEST_TOKEN}"}, timeout=30).status_code == 200
        assert httpx.post(ingest, content=b"x\n", headers={"Authorization": f"Bearer {WRONG_INGEST_TOKEN}"}, timeout=30).status_code == 401
        login = httpx.post(app.url + "/api/login", json={"username": "admin", "password": WRONG_PASSWORD}, timeout=10)
        assert login.status_code == 401
        assert httpx.get(app.url + "/api/search", headers={"Authorization": f"Bearer {BOGUS_TOKEN}"}, timeout=10).status_code == 401
        served = httpx.get(app.url + "/health", timeout=10).text + httpx.get(
            app.url + "/api/status", headers={"Authorization": f"Bearer {app.token}"}, timeout=30).text
        wait_for("the notification failure logged", lambda: "notification failed" in app.output_all(), app)
    finally:
        app.stop()
    printed = app.output_all()
    secrets = {"admin password": ADMIN_PASSWORD, "ingest token": INGEST_TOKEN, "webhook URL": URL_SECRET,
               "webhook header": HEADER_SECRET, "wrong password": WRONG_PASSWORD, "bogus API token": BOGUS_TOKEN,
               "wrong ingest token": WRONG_INGEST_TOKEN, "the harness's API token": app.token}
    leaks = {name: [line for line in printed.splitlines() if secret in line][:3]
             for name, secret in secrets.items() if secret in printed}
    assert not leaks, f"secrets in the log output: {leaks}"
    assert not [name for name, secret in secrets.items() if secret in served], "a secret in /health or /api/status"
