"""Talking to a running appliance's HTTP API from the command line.

Commands that show the appliance's state (`logwarden status`, ...) call its HTTP API rather
than reading the data directory, so they work the same against a remote box and against the
scaled-out form. Errors print the server's message and exit 1; an unreachable URL says so.
"""
from __future__ import annotations

import sys
from typing import Any

import click
import httpx

TIMEOUT_S = 30.0
TOKEN_ENV = "LOGWARDEN_TOKEN"

token_option = click.option("--token", envvar=TOKEN_ENV, default=None, metavar="TOKEN", show_envvar=True,
                            help="API token (`logwarden token create --role viewer`); default $LOGWARDEN_TOKEN.")


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def explain_status(status: int, msg: str | None, token: str | None) -> str:
    """The server's message, plus what to do about a 401 from the command line."""
    if status == 401:
        hint = "the token was refused (revoked, or for another appliance)" if token else \
            "pass --token or set LOGWARDEN_TOKEN (create one on the appliance: logwarden token create --role viewer)"
        return f"{msg}; {hint}"
    return msg or ""


def base_url(config_file: str | None, url: str | None) -> str:
    """--url as given, else http://<http.listen> of the config (a wildcard bind read as loopback)."""
    if url:
        return url.rstrip("/")
    from logwarden.cli import resolve

    return listen_url(resolve(config_file).http.listen)


def listen_url(listen: str) -> str:
    """http://HOST:PORT of the web UI bound at `listen` (a wildcard bind read as loopback)."""
    from logwarden.model import parse_hostport

    host, port = parse_hostport(listen)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def get_json(base: str, path: str, params: dict[str, Any] | None = None, token: str | None = None) -> Any:
    """GET base+path; the decoded JSON body of a 200, else the error printed and exit 1."""
    try:
        resp = httpx.get(base + path, params={k: v for k, v in (params or {}).items() if v not in (None, "")},
                         headers=auth_headers(token), timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        click.echo(f"error: cannot reach {base}: {exc}", err=True)
        sys.exit(1)
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code != 200:
        fail(resp.status_code, body if isinstance(body, dict) else resp.text.strip()[:500], params, token)
    if body is None:
        click.echo(f"error: {base}{path} did not answer JSON", err=True)
        sys.exit(1)
    return body


def fail(status: int, body: Any, params: dict[str, Any] | None = None, token: str | None = None) -> None:
    """Print an error answer and exit 1; a query error's column is shown under the query."""
    msg = body.get("error") if isinstance(body, dict) else body
    click.echo(f"error: HTTP {status}: {explain_status(status, msg, token)}", err=True)
    q = (params or {}).get("q")
    if isinstance(body, dict) and isinstance(body.get("position"), int) and q:
        click.echo(f"  {q}\n  {' ' * body['position']}^", err=True)
    sys.exit(1)
