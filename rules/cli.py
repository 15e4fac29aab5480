"""`logwarden rules check` and `logwarden rules test`.

`check PATH...` loads rules exactly as the stage does and reports counts and every rule
that failed, as `file:line: reason` (exit status 1 when any failed, so CI can gate on it).

`test --rules PATH --events FILE` runs every rule on every event of an NDJSON file and
prints one NDJSON line per match: `{"rule": {"id", "title", "level"}, "line": N}` with N
the 1-based line of the event; a correlation match also lists `lines` (every event that
made it up) and its `group`. Event time comes from `@timestamp`; events without one are
taken as arriving one second apart in file order, so correlations still see a timeline.
"""
from __future__ import annotations

import sys

import click
import orjson

from .engine import Engine, event_time
from .mapping import PipelineError
from .ruleset import load


@click.group(name="rules")
def rules() -> None:
    """Sigma rules: validate rule files and try them on events."""


@rules.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--mapping", default="ecs", show_default=True, help="Field mapping pipeline: ecs, none or a YAML path.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def check(paths: tuple[str, ...], mapping: str, as_json: bool) -> None:
    """Load rules from PATH... (files or folders) and report counts and errors."""
    try:
        rs = load(list(paths), mapping)
    except PipelineError as exc:
        raise click.ClickException(str(exc)) from None
    summary = rs.summary()
    if as_json:
        out = dict(summary, error_list=[{"file": e.file, "line": e.line, "reason": e.reason} for e in rs.errors])
        click.echo(orjson.dumps(out).decode())
    else:
        for e in rs.errors:
            click.echo(str(e), err=True)
        standalone = sum(1 for r in rs.rules if r.standalone)
        click.echo(f"{summary['rules']} rules loaded ({standalone} alerting on their own), "
                   f"{summary['correlations']} correlations, {summary['filters']} filters applied, "
                   f"{summary['errors']} errors, from {summary['documents']} documents")
    sys.exit(1 if rs.errors else 0)


@rules.command()
@click.option("--rules", "paths", multiple=True, required=True, type=click.Path(), help="Rule file or folder (repeatable).")
@click.option("--events", required=True, type=click.File("rb"), help="NDJSON file of events ('-' for stdin).")
@click.option("--mapping", default="ecs", show_default=True, help="Field mapping pipeline: ecs, none or a YAML path.")
def test(paths: tuple[str, ...], events, mapping: str) -> None:
    """Evaluate every rule on every event of an NDJSON file; print one line per match."""
    try:
        rs = load(list(paths), mapping)
    except PipelineError as exc:
        raise click.ClickException(str(exc)) from None
    for e in rs.errors:
        click.echo(f"rule not loaded: {e}", err=True)
    engine = Engine(rs)
    clock = 0.0
    last = 0.0
    out = sys.stdout.buffer
    for lineno, raw in enumerate(events, 1):
        if not raw.strip():
            continue
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            click.echo(f"line {lineno}: not JSON ({exc}); skipped", err=True)
            continue
        if not isinstance(doc, dict):
            click.echo(f"line {lineno}: not a JSON object; skipped", err=True)
            continue
        clock += 1.0
        ts = event_time(doc, default=clock)
        last = max(last, ts)
        for hit in engine.process(doc, ref=lineno, ts=ts):
            out.write(_line(hit) + b"\n")
    for hit in engine.tick(float("inf")):
        out.write(_line(hit) + b"\n")
    out.flush()


def _line(hit) -> bytes:
    d = hit.doc
    rec: dict = {"rule": {"id": d.id, "title": d.title, "level": d.level}}
    lines = [ref for ref, _ in hit.events]
    rec["line"] = lines[-1] if lines else None
    if hit.kind == "correlation":
        rec["lines"] = lines
        rec["group"] = hit.group
        rec["count"] = hit.count
    return orjson.dumps(rec, default=str)
