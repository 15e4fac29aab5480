"""`logwarden parse`: run the parser engine over a file or stdin, one ECS document per line.

    logwarden parse --format nginx access.log
    tail -f /var/log/auth.log | logwarden parse --explain
    logwarden parse --pipeline shop.yml --strict shop.log
    logwarden parse -c /etc/logwarden/logwarden.yml /var/log/shop/app.log

Each input line is wrapped in the envelope the agent would ship (path, byte offset, host),
so event.id, log.offset and log.file.path come out as they would in the stage. A line that
cannot be parsed prints {"line": N, "reason": ..., "parser": ...} to stderr and parsing
goes on; the exit status is 0, or 1 with --strict when any line failed. --explain prints,
after each document, which parser and pattern (or processor) produced each field and, when
routes are configured, which routes it took and the topics it goes to.
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any, BinaryIO

import click
import orjson
import yaml
from pydantic import ValidationError

from .config import ParsersConfig
from .core import ParseFailure
from .engine import Engine
from .formats import FORMATS
from .formats.auditd import AuditJoiner


def _route_lines(engine: Engine, doc: dict[str, Any]) -> list[tuple[str, str]]:
    """For --explain: each route the document took, and the topics it goes to (routes only
    apply when configured; without any, every document goes to the output topic)."""
    if not engine.routes:
        return []
    taken = engine.matching_routes(doc)
    lines = [(f"route {r.name}", r.topic + ("" if r.keep_in_default else " (not kept in the default topic)")) for r in taken]
    if not taken:
        lines.append(("route", f"none of {', '.join(r.name for r in engine.routes)} matched"))
    return [*lines, ("topics", ", ".join(engine.topics(doc)))]


def _write(out: BinaryIO, doc: dict[str, Any], trace: list[tuple[str, str]] | None,
           routes: list[tuple[str, str]] | None = None) -> bool:
    try:
        body = orjson.dumps(doc)
    except (TypeError, orjson.JSONEncodeError) as exc:  # e.g. a pipeline `set` of a 65-bit integer
        sys.stderr.buffer.write(orjson.dumps({"line": None, "reason": f"event cannot be serialised: {exc}", "parser": "engine",
                                              "event.original": (doc.get("event") or {}).get("original")}) + b"\n")
        return False
    out.write(body + b"\n")
    if trace or routes:
        width = max(len(k) for k, _ in [*(trace or []), *(routes or [])])
        for k, who in sorted(trace or []):
            out.write(f"  {k:<{width}}  <- {who}\n".encode())
        for k, where in routes or []:
            out.write(f"  {k:<{width}}  -> {where}\n".encode())
    return True


def load_pipeline_file(path: str) -> dict[str, Any]:
    """A pipeline file holds one pipeline, a list of them, or a `parsers:`-shaped mapping."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and "parsers" in data:
        data = data["parsers"]
    if isinstance(data, list):
        return {"pipelines": data}
    if isinstance(data, dict) and ("pipelines" in data or "routes" in data or "patterns" in data):
        return data
    if isinstance(data, dict):
        data.setdefault("name", Path(path).stem)
        return {"pipelines": [data]}
    raise click.BadParameter(f"{path}: expected a pipeline mapping or a list of pipelines", param_hint="--pipeline")


@click.command("parse")
@click.option("--format", "fmt", default=None, metavar="NAME|auto", help=f"Format of every line (default: auto). Known: {', '.join(sorted(FORMATS))}.")
@click.option("--pipeline", "pipeline_file", type=click.Path(exists=True, dir_okay=False), help="YAML pipeline(s) to apply (processors, format, routes).")
@click.option("--strict", is_flag=True, help="Exit 1 if any line could not be parsed.")
@click.option("--explain", is_flag=True, help="After each document, print which parser/pattern/processor produced each field, and which routes it took.")
@click.option("--timezone", default=None, help="Zone for timestamps without one (default: parsers.timezone, i.e. local).")
@click.option("--unrecognized", type=click.Choice(["dlq", "index"]), default="dlq", show_default=True,
              help="A line `auto` recognises as no format: report it on stderr as a failure (dlq), or print the "
                   "plain event tagged `unparsed` the stage indexes by default (index).")
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="logwarden.yml whose `parsers:` section (pipelines, patterns, timezone) applies; --pipeline goes first.")
@click.argument("source", default="-", type=click.Path(allow_dash=True, dir_okay=False))
def parse(fmt: str | None, pipeline_file: str | None, strict: bool, explain: bool, timezone: str | None,
          unrecognized: str, config_file: str | None, source: str) -> None:
    """Parse log lines into ECS JSON documents (one per line on stdout)."""
    settings: dict[str, Any] = {}
    if config_file:
        from logwarden.cli import resolve  # exits 2 with file:line problems, like every command

        settings = resolve(config_file).parsers.model_dump(by_alias=True, exclude_none=True)
    if pipeline_file:
        extra = load_pipeline_file(pipeline_file)
        settings["pipelines"] = [*extra.pop("pipelines", []), *settings.get("pipelines", [])]
        settings.update(extra)
    if timezone:
        settings["timezone"] = timezone
    settings["unrecognized"] = unrecognized  # this command is for finding lines no format fits
    try:
        cfg = ParsersConfig.model_validate(settings)
        if fmt and fmt not in FORMATS:
            raise click.BadParameter(f"unknown format {fmt!r}; known: {', '.join(sorted(FORMATS))}", param_hint="--format")
        engine = Engine(cfg, format_override=fmt if fmt else (None if cfg.pipelines else None))
    except ValidationError as exc:
        raise click.ClickException(f"{pipeline_file}: {exc}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    path = "-" if source == "-" else str(Path(source).resolve())
    stream: BinaryIO = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    out = sys.stdout.buffer
    err = sys.stderr.buffer
    joiner = AuditJoiner() if cfg.auditd_join else None
    host = socket.gethostname()
    failed = 0
    offset = 0
    try:
        for n, raw_line in enumerate(stream, 1):
            start = offset
            offset += len(raw_line)
            line = raw_line.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                continue
            envelope: dict[str, Any] = {"message": line, "log": {"file": {"path": path}, "offset": start},
                                        "host": {"name": host}, "input": {"type": "filestream"},
                                        "agent": {"type": "logwarden", "name": host}}
            if explain:
                result, trace = engine.explain(envelope)
            else:
                result, trace = engine.parse(envelope), None
            if result is None:
                continue  # dropped by a pipeline's drop processor, deliberately
            if isinstance(result, ParseFailure):
                failed += 1
                err.write(orjson.dumps({"line": n, "reason": result.reason, "parser": result.parser}) + b"\n")
                err.flush()
                continue
            ready = joiner.feed(result, trace) if joiner is not None and "auditd" in result else [(result, trace)]
            for doc, tr in ready:
                failed += not _write(out, doc, tr, _route_lines(engine, doc) if explain else None)
            if explain:
                out.flush()
        if joiner is not None:
            for doc, tr in joiner.flush():
                failed += not _write(out, doc, tr, _route_lines(engine, doc) if explain else None)
    finally:
        out.flush()
        if stream is not sys.stdin.buffer:
            stream.close()
    if strict and failed:
        sys.exit(1)
