"""`logwarden status [--url URL] [--watch] [--json]`: the pipeline on one screen.

Reads `GET /api/status` (logwarden/status.py) of a running appliance and draws it with rich:
stages with their processes, rates, errors and consumer lag; topics; dead letters with the
newest reason; alerts of the last hour by level; disk use. `--watch` redraws every second
until Ctrl-C; `--json` prints the snapshot once, for scripts. Rates need two snapshots, so the
first screen of a fresh appliance may show '-' where the next one shows numbers.
"""
from __future__ import annotations

import time
from typing import Any

import click
import orjson
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from logwarden.apiclient import base_url, get_json, token_option

STAGE_ORDER = ("agent", "ingest", "broker", "parsers", "index", "rules", "metrics")
LEVEL_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "informational": "dim"}


def _n(v: Any, rate: bool = False) -> str:
    if v is None:
        return "-"
    if rate:
        return "0" if v == 0 else f"{v:,.1f}" if v < 10 else f"{v:,.0f}"
    return f"{int(v):,}"


def _bytes(v: Any) -> str:
    if v is None:
        return "-"
    size = float(v)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _error(part: Any) -> str | None:
    return part["error"] if isinstance(part, dict) and "error" in part else None


def render(status: dict[str, Any], url: str) -> Group:
    head = Text.assemble(("Logwarden status", "bold"), f"  {url}  ",
                         (time.strftime("%H:%M:%S", time.localtime(status["time_ms"] / 1000)), "dim"))
    stages = Table(title="stages", title_justify="left", expand=False)
    for col in ("stage", "processes", "in/s", "out/s", "errors/s", "lag", "restarts"):
        stages.add_column(col, justify="left" if col == "stage" else "right")
    rows = status.get("stages", {})
    for name in sorted(rows, key=lambda s: (STAGE_ORDER.index(s) if s in STAGE_ORDER else 99, s)):
        r = rows[name]
        procs = f"{r.get('running', 0)}/{r.get('processes', 0)}" if r.get("processes") else "-"
        style = "red" if r.get("processes") and r.get("running", 0) < r["processes"] else None
        lag = r.get("lag")
        stages.add_row(name, procs, _n(r.get("in_per_s"), True), _n(r.get("out_per_s"), True),
                       _n(r.get("errors_per_s"), True), Text(_n(lag), style="yellow" if lag else None),
                       _n(r.get("restarts")), style=style)
    parts: list[Any] = [head, stages]

    topics = status.get("topics")
    if _error(topics):
        parts.append(Text(f"topics: {_error(topics)}", style="red"))
    elif topics:
        t = Table(title="topics", title_justify="left")
        for col in ("topic", "partitions", "end offsets"):
            t.add_column(col, justify="left" if col == "topic" else "right")
        for name, row in topics.items():
            t.add_row(name, _n(row.get("partitions")), _n(row.get("end_offsets")))
        parts.append(t)

    dlq = status.get("dead_letters") or {}
    if _error(dlq):
        parts.append(Text(f"dead letters: {_error(dlq)}", style="red"))
    else:
        latest = dlq.get("latest")
        line = f"dead letters: {_n(dlq.get('count'))}"
        if latest:
            line += f"  (latest: {latest.get('type') or '?'}: {latest.get('reason') or '?'})"
        parts.append(Text(line, style="yellow" if dlq.get("count") else None))

    alerts = status.get("alerts_last_hour")
    if _error(alerts):
        parts.append(Text(f"alerts last hour: {_error(alerts)}", style="red"))
    elif alerts is not None:
        line = Text("alerts last hour: ")
        for i, (lv, n) in enumerate(alerts.items()):
            line.append(("  " if i else "") + f"{lv} {n}", style=LEVEL_STYLE.get(lv) if n else "dim")
        parts.append(line)

    disk = status.get("disk") or {}
    if _error(disk):
        parts.append(Text(f"disk: {_error(disk)}", style="red"))
    else:
        bits = [f"broker log {_bytes(disk.get('broker_log_bytes'))}", f"index {_bytes(disk.get('index_bytes'))}",
                f"{_bytes(disk.get('filesystem_free_bytes'))} free of {_bytes(disk.get('filesystem_total_bytes'))}"]
        limit = disk.get("broker_retention_bytes_per_partition")
        if limit is not None:
            days = (disk.get("broker_retention_ms") or -1) / 86_400_000
            bits.append("broker retention " + (f"{days:g} d" if days > 0 else "forever") + ", "
                        + (f"{_bytes(limit)} per partition" if limit >= 0 else "no size limit"))
        parts.append(Text("disk: " + ", ".join(bits)))
    return Group(*parts)


@click.command("status")
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="logwarden.yml, to find the HTTP listener (ignored with --url).")
@click.option("--url", help="Base URL of a running appliance (default http://<http.listen>).")
@click.option("--watch", is_flag=True, help="Redraw every second until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot once as JSON.")
@token_option
def status(config_file: str | None, url: str | None, watch: bool, as_json: bool, token: str | None) -> None:
    """Stages, lag, topics, dead letters, alerts and disk of a running appliance."""
    base = base_url(config_file, url)
    if as_json:
        click.echo(orjson.dumps(get_json(base, "/api/status", token=token), option=orjson.OPT_INDENT_2).decode())
        return
    console = Console()
    if not watch:
        console.print(render(get_json(base, "/api/status", token=token), base))
        return
    from rich.live import Live

    try:
        with Live(render(get_json(base, "/api/status", token=token), base), console=console, refresh_per_second=4) as live:
            while True:
                time.sleep(1.0)
                live.update(render(get_json(base, "/api/status", token=token), base))
    except KeyboardInterrupt:
        pass
