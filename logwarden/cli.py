"""The `logwarden` command line.

Every command takes `-c FILE` (optional, so the quick start needs no file); flags override
the file. Stage-owned commands (`topics`, `parse`, `rules`, `search`, `alerts`) are click
objects defined in their stage's package and loaded lazily, so `logwarden --help` stays fast
and a stage can grow its own options without touching this module.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Callable

import click

from logwarden import __version__
from logwarden.config import Config, ConfigError, load
from logwarden.stages import BY_NAME, WORKERS

# name -> (module:attribute of a click command, one-line help used when it cannot load)
LAZY: dict[str, tuple[str, str]] = {
    "topics": ("logwarden.broker.cli:topics", "List, create, describe and delete topics."),
    "parse": ("logwarden.parsers.cli:parse", "Parse log lines into ECS NDJSON on stdout."),
    "rules": ("logwarden.rules.cli:rules", "Check Sigma rules, or test them against events."),
    "search": ("logwarden.sinks.cli:search", "Search events with the query language."),
    "alerts": ("logwarden.sinks.cli:alerts", "List recent alerts."),
    "deploy": ("logwarden.deploy.cli:deploy", "Render systemd, compose, k8s or agent-install files."),
    "status": ("logwarden.status_cli:status", "Stages, lag, topics, dead letters, alerts and disk of a running appliance."),
    "user": ("logwarden.auth.cli:user", "Add, change, list and remove the web UI's local users."),
    "replay": ("logwarden.replay:replay", "Re-run a topic's history through a stage (parsers, index, rules) or into a topic."),
    "token": ("logwarden.auth.cli:token", "Create, list and revoke API tokens for scripts and the CLI."),
}



def _unloadable(name: str, help_text: str, exc: ImportError) -> click.Command:
    """Stands in for a command whose module does not import: a broken installation (or a
    bug) is reported as one, with the import error, and `logwarden --help` still lists the
    other commands. Every command named in LAZY exists, so this is never 'not implemented'."""
    reason = f"{type(exc).__name__}: {exc}"

    @click.command(name, help=f"{help_text} (cannot load: {reason})", short_help=f"cannot load: {reason}",
                   context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def cmd(args: tuple[str, ...]) -> None:
        click.echo(f"logwarden {name}: cannot load its module ({reason}); the installation is broken, reinstall logwarden", err=True)
        sys.exit(1)

    return cmd


def _import(target: str) -> Any:
    module, _, attr = target.partition(":")
    mod = importlib.import_module(module)
    return getattr(mod, attr) if attr else mod


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY:
            target, help_text = LAZY[name]
            try:
                return _import(target)
            except ImportError as exc:
                return _unloadable(name, help_text, exc)
        return super().get_command(ctx, name)


def resolve(config_file: str | None, **overrides: Any) -> Config:
    """Load the file (or defaults) and apply command-line overrides; exit 2 on a bad config."""
    try:
        cfg = load(config_file)
        apply_overrides(cfg, **overrides)
        return cfg
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(f"error: {p}", err=True)
        sys.exit(2)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def parse_tail(spec: str) -> tuple[str, str | None]:
    """`GLOB[:FORMAT]`: the suffix after the last ':' is a format when it looks like a name."""
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail and "/" not in tail and tail.replace("_", "").replace("-", "").replace(".", "").isalnum():
        return head, tail
    return spec, None


def apply_overrides(cfg: Config, *, data_dir: str | None = None, broker_listen: str | None = None,
                    http_listen: str | None = None, tail: tuple[str, ...] = (), rules: tuple[str, ...] = (),
                    demo: bool = False, broker: str | None = None, log_level: str | None = None,
                    log_format: str | None = None) -> None:
    from logwarden.agents.config import FileSource
    from logwarden.model import parse_hostport

    if data_dir:
        cfg.data_dir = data_dir
    if broker_listen:
        parse_hostport(broker_listen)
        cfg.broker.listen = broker_listen
    if http_listen:
        parse_hostport(http_listen)
        cfg.http.listen = http_listen
    if broker:
        cfg.kafka.bootstrap_servers = broker
    for spec in tail:
        glob, fmt = parse_tail(spec)
        cfg.sources = [*cfg.sources, FileSource(paths=[glob], format=fmt)]
    if rules:
        cfg.rules.paths = [*cfg.rules.paths, *rules]
    if demo:
        cfg.demo.enabled = True
    if log_level:
        cfg.log_level = log_level
    if log_format:
        cfg.log_format = log_format  # type: ignore[assignment]  # click.Choice checked it


config_option = click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), default=None,
                             help="logwarden.yml (optional; flags override it).")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="logwarden")
def cli() -> None:
    """Logwarden: ship, parse, search and alert on logs.

    Start everything on one machine with `logwarden up --demo`, then try
    `logwarden search 'process.name:sshd'` and `logwarden alerts`.
    """


@cli.command()
@config_option
@click.option("--data-dir", help="Where the broker log, index and offsets live.")
@click.option("--broker-listen", metavar="H:P", help="Kafka-protocol listener of the built-in broker.")
@click.option("--http-listen", metavar="H:P", help="Web UI and HTTP API listener.")
@click.option("--tail", multiple=True, metavar="GLOB[:FORMAT]", help="Tail files matching GLOB, parsed as FORMAT (repeatable).")
@click.option("--rules", "rules_", multiple=True, metavar="PATH", help="Sigma rule file or folder (repeatable).")
@click.option("--demo", is_flag=True, help="Generate demo nginx and sshd logs, with an SSH brute force, and alert on it.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), help="Least severe log records shown (default info).")
@click.option("--log-format", type=click.Choice(["auto", "json", "text"]),
              help="Log records as readable lines or JSON (default auto: lines on a terminal, JSON otherwise).")
def up(config_file: str | None, data_dir: str | None, broker_listen: str | None, http_listen: str | None,
       tail: tuple[str, ...], rules_: tuple[str, ...], demo: bool, log_level: str | None, log_format: str | None) -> None:
    """Run the whole appliance: broker, agent, ingest, parsers, index, rules, metrics and web UI."""
    cfg = resolve(config_file, data_dir=data_dir, broker_listen=broker_listen, http_listen=http_listen,
                  tail=tail, rules=rules_, demo=demo, log_level=log_level, log_format=log_format)
    from logwarden.supervisor import Supervisor

    sys.exit(Supervisor(cfg).run())


def _run_stage(name: str, cfg: Config) -> None:
    """Run stage `name` of the registry (logwarden.stages) in this process."""
    from logwarden import logs

    logs.setup(name, cfg.log_level, cfg.log_format)
    run = _import(BY_NAME[name].module + ":run")
    if name in WORKERS:
        from logwarden import gcpolicy

        gcpolicy.for_batch_worker()   # batch-decoding stages: collect rarely (see gcpolicy)
    run(cfg)


@cli.command()
@config_option
@click.option("--listen", metavar="H:P", help="Kafka-protocol listener (default 127.0.0.1:9092).")
@click.option("--data-dir", help="Where topic logs and committed offsets live.")
def broker(config_file: str | None, listen: str | None, data_dir: str | None) -> None:
    """Run the built-in Kafka-protocol broker on its own."""
    cfg = resolve(config_file, data_dir=data_dir, broker_listen=listen)
    _run_stage("broker", cfg)


@cli.command()
@config_option
@click.option("--tail", multiple=True, metavar="GLOB[:FORMAT]", help="Tail files matching GLOB, parsed as FORMAT (repeatable).")
@click.option("--broker", "broker_", metavar="H:P", help="Kafka bootstrap servers (default: the built-in broker).")
@click.option("--data-dir", help="Where the offset registry and spool live.")
def agent(config_file: str | None, tail: tuple[str, ...], broker_: str | None, data_dir: str | None) -> None:
    """Tail log files and ship them to the broker's logs.raw topic."""
    cfg = resolve(config_file, tail=tail, broker=broker_, data_dir=data_dir)
    _run_stage("agent", cfg)


@cli.command()
@config_option
def ingest(config_file: str | None) -> None:
    """Receive syslog (UDP/TCP/TLS) and HTTP NDJSON or _bulk into logs.raw."""
    cfg = resolve(config_file)
    _run_stage("ingest", cfg)


@cli.command()
@click.argument("name", type=click.Choice(sorted(WORKERS)))
@config_option
def worker(name: str, config_file: str | None) -> None:
    """Run one consumer stage (scale out by starting more of the same)."""
    cfg = resolve(config_file)
    _run_stage(name, cfg)


@cli.command("http", hidden=True)
@config_option
def http_(config_file: str | None) -> None:
    """Serve the web UI and HTTP API (started by `logwarden up`)."""
    cfg = resolve(config_file)
    from logwarden import logs
    from logwarden.http.server import serve

    logs.setup("http", cfg.log_level, cfg.log_format)
    from logwarden.auth.bootstrap import banner_line, ensure_first_admin

    first = ensure_first_admin(cfg.data_path)   # run on its own (scaled out), it needs a first admin too
    if first is not None:
        click.echo(f"login: {banner_line(first, first.users_file)}")
    serve(cfg)


@cli.command("demo-writer", hidden=True)
@config_option
def demo_writer(config_file: str | None) -> None:
    """Write demo nginx and sshd lines (started by `logwarden up --demo`)."""
    cfg = resolve(config_file)
    from logwarden import logs
    from logwarden.demo import run

    logs.setup("demo", cfg.log_level, cfg.log_format)
    run(cfg)


@cli.group()
def config() -> None:
    """Validate configuration files."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def config_check(file: str) -> None:
    """Validate FILE exactly as start-up does; exit 2 with file:line: key: problem.

    A valid file whose listeners are reachable from the network without TLS or
    authentication is still ok (exit 0), with a warning for each on stderr."""
    if not Path(file).exists():
        click.echo(f"error: {file}: no such file", err=True)
        sys.exit(2)
    cfg = resolve(file)
    from logwarden import exposure

    for warning in exposure.warnings(cfg):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{file}: ok")


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="logwarden")


Entry = Callable[..., Any]
