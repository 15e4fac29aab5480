"""`logwarden search` and `logwarden alerts`: the query language from a shell.

Both call the HTTP API of a running appliance (`--url`, default http://<http.listen> from
the config), so they work against a remote box and against the Elasticsearch backend
alike. Output: `--format table|json|ndjson|csv`; without it a table that fits the terminal
on a terminal and one plain line per hit when piped (`--json` is NDJSON, for jq). `search`
also summarises (`--top FIELD` as a bar chart on a terminal, `--stats FIELD`, `--fields`)
and tails (`--follow`: GET /api/tail, a line per event on a terminal, NDJSON when piped,
reconnecting with Last-Event-ID). HTTP errors and bad queries print the server's message
(with a caret under the query's bad column) and exit 1.
"""
from __future__ import annotations

import sys
from typing import Any

import click
import httpx
import orjson

from logwarden.apiclient import TIMEOUT_S, auth_headers, base_url, fail, get_json, token_option
from logwarden.events import get_path


def _get(base: str, path: str, params: dict[str, Any], key: str = "hits", token: str | None = None) -> dict[str, Any]:
    """get_json, and an answer without `key` is an error (a proxy's page, another service)."""
    body = get_json(base, path, params, token)
    if not isinstance(body, dict) or key not in body:
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
                 ("status", "alert.status"), ("host", "host.name"), ("source", "source.ip"), ("user", "user.name")]


FORMATS = ("table", "json", "ndjson", "csv")


def _format(fmt: str | None, as_json: bool) -> str:
    """--format, else --json (NDJSON), else a table on a terminal and plain lines when piped."""
    if fmt:
        return fmt
    if as_json:
        return "ndjson"
    return "table" if sys.stdout.isatty() else "lines"


def _table(rows: list[list[str]], headers: list[str], wrap: str | None = None, caption: str | None = None) -> None:
    """A rich table as wide as the terminal: `wrap` column folds, the others are cut with ...."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from logwarden.status_cli import LEVEL_STYLE

    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in headers:
        table.add_column(name, overflow="fold" if name == wrap else "ellipsis", no_wrap=name != wrap,
                         ratio=1 if name == wrap else None)
    level = headers.index("level") if "level" in headers else None
    for r in rows:
        # Text, not markup: a log line holding "[/x]" or "[bold]" is shown as written
        cells = [Text(str(c)) for c in r]
        if level is not None:
            cells[level].stylize(LEVEL_STYLE.get(r[level], ""))
        table.add_row(*cells)
    console = Console()
    console.print(table)
    if caption:
        console.print(f"[dim]{caption}[/dim]", highlight=False)


def _render(body: dict[str, Any], columns: list[tuple[str, str]], fmt: str, what: str) -> None:
    hits = body["hits"]
    if fmt in ("ndjson", "json"):
        out = sys.stdout.buffer
        if fmt == "json":
            out.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        else:
            for h in hits:
                out.write(orjson.dumps(h) + b"\n")
        out.flush()
        return
    if fmt == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow([name for name, _ in columns])
        for h in hits:
            w.writerow([_s(h, path) for _, path in columns])
        return
    if fmt == "table":
        _table([[_s(h, path) for _, path in columns] for h in hits], [name for name, _ in columns], wrap="message",
               caption=f"{len(hits)} of {body['total']} {what}")
        return
    for h in hits:
        click.echo("  ".join(_s(h, path) or "-" for _, path in columns))


def _render_top(body: dict[str, Any], fmt: str) -> None:
    rows = [(str(v["value"]), v["count"]) for v in body["values"]]
    if fmt in ("ndjson", "json", "lines"):
        if fmt == "lines":
            for value, n in rows:
                click.echo(f"{n}\t{value}")
            return
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2 if fmt == "json" else 0) + b"\n")
        return
    if fmt == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow([body["field"], "count"])
        w.writerows(rows)
        return
    # a bar chart on a terminal: one bar per value, scaled to the largest count
    from rich.console import Console
    from rich.table import Table

    console = Console()
    top = max((n for _, n in rows), default=0)
    label_w = min(max([len(body["field"]), *(len(v) for v, _ in rows)]), max(12, console.width // 3))
    count_w = max(len("count"), len(str(top)))
    width = max(10, console.width - label_w - count_w - len(" 100.0%") - 6)   # what is left for the bars
    table = Table(box=None, header_style="bold", pad_edge=False, show_header=True)
    table.add_column(body["field"], overflow="ellipsis", no_wrap=True, max_width=label_w)
    table.add_column("count", justify="right")
    table.add_column("", no_wrap=True)
    total = body["total"] or 1
    for value, n in rows:
        bar = "█" * max(1 if n else 0, round(width * n / top)) if top else ""
        table.add_row(value, str(n), f"[cyan]{bar}[/cyan] [dim]{100 * n / total:.1f}%[/dim]")
    console.print(table)
    console.print(f"[dim]{body['total']} events; other values: {body['other']}, without {body['field']}: "
                  f"{body['missing']}[/dim]", highlight=False)


STAT_KEYS = ("count", "min", "max", "avg", "sum", "p50", "p95", "p99")


def _render_stats(body: dict[str, Any], fmt: str) -> None:
    if fmt in ("ndjson", "json"):
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2 if fmt == "json" else 0) + b"\n")
        return
    vals = ["" if body.get(k) is None else f"{body[k]:.6g}" if isinstance(body[k], float) else str(body[k]) for k in STAT_KEYS]
    if fmt == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["field", *STAT_KEYS])
        w.writerow([body["field"], *vals])
    elif fmt == "table":
        _table([[k, v] for k, v in zip(STAT_KEYS, vals)], [body["field"], "value"])
    else:
        for k, v in zip(STAT_KEYS, vals):
            click.echo(f"{k}\t{v}")


def _render_fields(body: dict[str, Any], fmt: str) -> None:
    if fmt in ("ndjson", "json"):
        if fmt == "json":
            sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        else:
            for f in body["fields"]:
                sys.stdout.buffer.write(orjson.dumps(f) + b"\n")
        return
    rows = [[f["name"], f["type"], str(f["count"]), ", ".join(f"{v['value']} ({v['count']})" for v in f["top"][:5])]
            for f in body["fields"]]
    if fmt == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["field", "type", "count", "top"])
        w.writerows(rows)
    elif fmt == "table":
        _table(rows, ["field", "type", "count", "top values"], wrap="top values",
               caption=f"fields of the newest {body['sample']} of {body['total']} matching events")
    else:
        for r in rows:
            click.echo("\t".join(r))


def _follow(base: str, q: str, columns: list[tuple[str, str]], fmt: str, token: str | None = None) -> None:
    """Print the live tail (GET /api/tail) until Ctrl-C; reconnects with Last-Event-ID."""
    last: str | None = None
    console = None
    if fmt == "table":
        from rich.console import Console

        console = Console(highlight=False)
    out = sys.stdout.buffer
    while True:
        headers = {"Accept": "text/event-stream", **auth_headers(token)}
        if last:
            headers["Last-Event-ID"] = last
        try:
            with httpx.stream("GET", base + "/api/tail", params={"q": q}, headers=headers,
                              timeout=httpx.Timeout(TIMEOUT_S, read=None)) as resp:
                if resp.status_code != 200:
                    resp.read()
                    try:
                        body: Any = resp.json()
                    except ValueError:
                        body = resp.text.strip()[:500]
                    fail(resp.status_code, body, {"q": q}, token)
                event, data, eid = "message", [], None
                for line in resp.iter_lines():
                    if line.startswith(":"):
                        continue                     # heartbeat
                    if line == "":
                        if data and event == "hit":
                            doc = orjson.loads("\n".join(data))
                            last = eid or last
                            _print_hit(doc, columns, fmt, out, console)
                        elif data and event == "error":
                            click.echo(f"warning: {orjson.loads(chr(10).join(data)).get('error')}", err=True)
                        event, data, eid = "message", [], None
                        continue
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "event":
                        event = value
                    elif name == "data":
                        data.append(value)
                    elif name == "id":
                        eid = value
        except httpx.HTTPError as exc:
            click.echo(f"warning: tail interrupted ({exc}); reconnecting", err=True)
        import time

        time.sleep(2)


def _print_hit(doc: dict[str, Any], columns: list[tuple[str, str]], fmt: str, out: Any, console: Any) -> None:
    if fmt in ("ndjson", "json"):
        out.write(orjson.dumps(doc) + b"\n")
        out.flush()
    elif fmt == "csv":
        import csv

        csv.writer(sys.stdout, lineterminator="\n").writerow([_s(doc, p) for _, p in columns])
        sys.stdout.flush()
    elif console is not None:
        # one line per event, cut to the terminal width (a table cannot grow row by row)
        head = "  ".join(_s(doc, p) or "-" for name, p in columns if name != "message")
        console.print(f"{head}  {_s(doc, 'message')}", overflow="ellipsis", no_wrap=True, crop=True, markup=False)
    else:
        click.echo("  ".join(_s(doc, p) or "-" for _, p in columns))


_common = [
    click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), default=None,
                 help="logwarden.yml, to find http.listen (optional)."),
    click.option("--url", default=None, metavar="URL", help="Logwarden HTTP API (default http://<http.listen>)."),
    click.option("--since", default=None, metavar="DUR", help="Only the last DUR: 30s, 15m, 2h, 7d."),
    click.option("--from", "from_", default=None, metavar="TIME", help="From TIME: ISO 8601 (2026-12-07T13:00:00Z) or date math (now-15m)."),
    click.option("--to", default=None, metavar="TIME", help="Up to TIME (inclusive; a date-only TIME includes that day)."),
    click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="Hits to print."),
    click.option("--sort", default=None, metavar="FIELD[:asc|desc]", help="Order by FIELD (default @timestamp:desc, newest first)."),
    click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                 help="table (a terminal's default), json (the whole answer), ndjson (one document a line), csv. "
                      "Piped without --format: one plain line per hit."),
    click.option("--json", "as_json", is_flag=True, help="NDJSON: one full document per line (= --format ndjson)."),
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


def _window(since: str | None, from_: str | None, to: str | None) -> dict[str, Any]:
    _check_since(since)
    if since and from_:
        raise click.UsageError("--since and --from: give one of them (--since 15m is --from now-15m)")
    return {"since": since, "from": from_, "to": to}


@click.command("search")
@click.argument("query", nargs=-1)
@_options
@click.option("--top", "top", default=None, metavar="FIELD", help="Top values of FIELD with counts (a bar chart on a terminal).")
@click.option("--size", default=10, show_default=True, type=click.IntRange(1, 1000), help="Values --top prints.")
@click.option("--stats", "stats", default=None, metavar="FIELD", help="count, min, max, avg, p50, p95, p99 of a numeric FIELD.")
@click.option("--fields", "fields_", is_flag=True, help="The fields of the matching events, with types and top values.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new matching events as they are indexed, until Ctrl-C "
                                                   "(a line per event on a terminal, NDJSON when piped).")
def search(query: tuple[str, ...], config_file: str | None, url: str | None, since: str | None, from_: str | None,
           to: str | None, limit: int, sort: str | None, fmt: str | None, as_json: bool, top: str | None, size: int,
           stats: str | None, fields_: bool, follow: bool, token: str | None) -> None:
    """Search events, newest first: logwarden search 'process.name:sshd AND "Failed password"'.

    Several arguments are joined with spaces (implicit AND). See docs/search.md for the
    query language: field:value, "phrases", AND/OR/NOT, wildcards, [a TO b], CIDR, @timestamp>now-15m.
    --top, --stats and --fields summarise the matching events instead of listing them;
    --follow tails them live.
    """
    window = _window(since, from_, to)
    if sum(bool(x) for x in (top, stats, fields_, follow)) > 1:
        raise click.UsageError("--top, --stats, --fields and --follow: give one of them")
    q = " ".join(query)
    base = base_url(config_file, url)
    if follow:
        if sort or from_ or to or since:
            raise click.UsageError("--follow prints new events as they come: --sort, --since, --from and --to do not apply")
        try:
            _follow(base, q, EVENT_COLUMNS, fmt or ("ndjson" if as_json or not sys.stdout.isatty() else "table"), token)
        except KeyboardInterrupt:
            sys.exit(130)
        return
    shown = _format(fmt, as_json)
    if top:
        _render_top(_get(base, "/api/top", {"q": q, "field": top, "size": size, **window}, key="values", token=token), shown)
    elif stats:
        _render_stats(_get(base, "/api/stats", {"q": q, "field": stats, **window}, key="count", token=token), shown)
    elif fields_:
        _render_fields(_get(base, "/api/fields", {"q": q, **window}, key="fields", token=token), shown)
    else:
        body = _get(base, "/api/search", {"q": q, "limit": limit, "sort": sort, **window}, token=token)
        _render(body, EVENT_COLUMNS, shown, "events")


@click.command("alerts")
@click.argument("query", nargs=-1)
@_options
def alerts(query: tuple[str, ...], config_file: str | None, url: str | None, since: str | None, from_: str | None,
           to: str | None, limit: int, sort: str | None, fmt: str | None, as_json: bool, token: str | None) -> None:
    """List alerts, newest first, optionally filtered: logwarden alerts 'alert.level:high'."""
    window = _window(since, from_, to)
    q = " ".join(query)
    body = _get(base_url(config_file, url), "/api/alerts", {"q": q, "limit": limit, "sort": sort, **window}, token=token)
    _render(body, ALERT_COLUMNS, _format(fmt, as_json), "alerts")
