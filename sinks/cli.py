"""`logwarden search` and `logwarden alerts`: the query language from a shell.

Both call the HTTP API of a running appliance (`--url`, default http://<http.listen> from
the config), so they work against a remote box and against the Elasticsearch backend
alike. Output: NDJSON hits with --json (for jq and scripts); otherwise a table on a
terminal and one plain line per hit when piped. HTTP errors and bad queries print the
server's message and exit 1.
"""
from __future__ import annotations

import sys
from typing import Any

import click
import httpx
import orjson

from logwarden.apiclient import auth_headers, explain_status, token_option
from logwarden.events import get_path

TIMEOUT_S = 30.0


def _base_url(config_file: str | None, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    from logwarden.cli import resolve
    from logwarden.model import parse_hostport

    cfg = resolve(config_file)
    host, port = parse_hostport(cfg.http.listen)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _get(base: str, path: str, params: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    try:
        resp = httpx.get(base + path, params={k: v for k, v in params.items() if v not in (None, "")},
                         headers=auth_headers(token), timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        click.echo(f"error: cannot reach {base}: {exc}", err=True)
        sys.exit(1)
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code != 200:
        msg = body.get("error") if isinstance(body, dict) else resp.text.strip()[:500]
        click.echo(f"error: HTTP {resp.status_code}: {explain_status(resp.status_code, msg, token)}", err=True)
        if isinstance(body, dict) and isinstance(body.get("position"), int) and params.get("q"):
            click.echo(f"  {params['q']}\n  {' ' * body['position']}^", err=True)
        sys.exit(1)
    if not isinstance(body, dict) or "hits" not in body:
        click.echo(f"error: unexpected answer from {base}{path}", err=True)
        sys.exit(1)
    return body


def _s(doc: dict[str, Any], path: str) -> str:
    v = get_path(doc, path)
    if v is None:
        return ""
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


EVENT_COLUMNS = [("time", "@timestamp"), ("host", "host.name"), ("dataset", "event.dataset"),
                 ("process", "process.name"), ("message", "message")]
ALERT_COLUMNS = [("time", "@timestamp"), ("level", "alert.level"), ("rule", "rule.name"), ("count", "alert.count"),
                 ("host", "host.name"), ("source", "source.ip"), ("user", "user.name")]


def _render(body: dict[str, Any], columns: list[tuple[str, str]], as_json: bool, what: str) -> None:
    hits = body["hits"]
    if as_json:
        out = sys.stdout.buffer
        for h in hits:
            out.write(orjson.dumps(h) + b"\n")
        out.flush()
        return
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False)
        for name, _ in columns:
            table.add_column(name, overflow="fold" if name == "message" else "ellipsis", no_wrap=name != "message")
        for h in hits:
            table.add_row(*(_s(h, path) for _, path in columns))
        console = Console()
        console.print(table)
        console.print(f"[dim]{len(hits)} of {body['total']} {what}[/dim]", highlight=False)
        return
    for h in hits:
        click.echo("  ".join(_s(h, path) or "-" for _, path in columns))


_common = [
    click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), default=None,
                 help="logwarden.yml, to find http.listen (optional)."),
    click.option("--url", default=None, metavar="URL", help="Logwarden HTTP API (default http://<http.listen>)."),
    click.option("--since", default=None, metavar="DUR", help="Only the last DUR: 30s, 15m, 2h, 7d."),
    click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="Hits to print."),
    click.option("--json", "as_json", is_flag=True, help="NDJSON: one full document per line."),
    token_option,
]


def _options(fn):
    for opt in reversed(_common):
        fn = opt(fn)
    return fn


def _check_since(since: str | None) -> None:
    if since:
        from logwarden.durations import parse_duration
        try:
            parse_duration(since)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from None


@click.command("search")
@click.argument("query", nargs=-1)
@_options
def search(query: tuple[str, ...], config_file: str | None, url: str | None, since: str | None, limit: int,
           as_json: bool, token: str | None) -> None:
    """Search events, newest first: logwarden search 'process.name:sshd AND "Failed password"'.

    Several arguments are joined with spaces (implicit AND). See docs/search.md for the
    query language: field:value, "phrases", AND/OR/NOT, wildcards, [a TO b], CIDR, @timestamp>now-15m.
    """
    _check_since(since)
    q = " ".join(query)
    body = _get(_base_url(config_file, url), "/api/search", {"q": q, "since": since, "limit": limit}, token)
    _render(body, EVENT_COLUMNS, as_json, "events")


@click.command("alerts")
@click.argument("query", nargs=-1)
@_options
def alerts(query: tuple[str, ...], config_file: str | None, url: str | None, since: str | None, limit: int,
           as_json: bool, token: str | None) -> None:
    """List alerts, newest first, optionally filtered: logwarden alerts 'alert.level:high'."""
    _check_since(since)
    q = " ".join(query)
    body = _get(_base_url(config_file, url), "/api/alerts", {"q": q, "since": since, "limit": limit}, token)
    _render(body, ALERT_COLUMNS, as_json, "alerts")
