"""`logwarden topics list|create|describe|alter|delete`.

An AdminClient (confluent-kafka) against `kafka.bootstrap_servers`, so the same commands
work on the built-in broker and on a real Kafka cluster. Output is a rich table on a
terminal and plain tab-separated lines when piped; `--json` prints JSON for scripts.
"""
from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from logwarden.broker.storage.manager import is_internal_topic

ADMIN_TIMEOUT_S = 15.0


def _admin(config_file: str | None, broker: str | None) -> Any:
    from confluent_kafka.admin import AdminClient

    from logwarden.config import ConfigError, load
    from logwarden.kafka import client_settings

    try:
        cfg = load(config_file)
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(f"error: {p}", err=True)
        sys.exit(2)
    if broker:
        cfg.kafka.bootstrap_servers = broker
    settings = client_settings(cfg)
    settings["client.id"] = "logwarden-topics"
    return AdminClient(settings)


def _emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool, title: str | None = None) -> None:
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for c in columns:
            table.add_column(c, justify="right" if rows and isinstance(rows[0].get(c), int) else "left")
        for r in rows:
            table.add_row(*(str(r.get(c, "")) for c in columns))
        Console().print(table)
    else:
        for r in rows:
            click.echo("\t".join(str(r.get(c, "")) for c in columns))


def _why(exc: Exception) -> str:
    err = exc.args[0] if exc.args else exc
    return err.str() if hasattr(err, "str") else str(err)


def _fail(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(1)


common = [
    click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), default=None,
                 help="logwarden.yml (optional)."),
    click.option("--broker", metavar="H:P", default=None, help="Bootstrap servers (default: from the config)."),
]


def with_common(f: Any) -> Any:
    for opt in reversed(common):
        f = opt(f)
    return f


@click.group()
def topics() -> None:
    """List, create, describe, alter and delete topics (built-in broker or Kafka)."""


@topics.command("list")
@with_common
@click.option("--all", "show_all", is_flag=True, help="Include internal topics such as __consumer_offsets.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(config_file: str | None, broker: str | None, show_all: bool, as_json: bool) -> None:
    """List topics with their partition counts."""
    md = _admin(config_file, broker).list_topics(timeout=ADMIN_TIMEOUT_S)
    rows = [{"topic": name, "partitions": len(t.partitions)} for name, t in sorted(md.topics.items())
            if show_all or not is_internal_topic(name)]
    _emit(rows, ["topic", "partitions"], as_json)


@topics.command()
@with_common
@click.argument("name")
@click.option("-p", "--partitions", type=int, default=1, show_default=True, help="Number of partitions.")
@click.option("-r", "--replication-factor", type=int, default=1, show_default=True, help="Replicas (1 on the built-in broker).")
@click.option("-s", "--set", "configs", multiple=True, metavar="KEY=VALUE", help="Topic config, e.g. --set retention.ms=86400000.")
def create(config_file: str | None, broker: str | None, name: str, partitions: int, replication_factor: int,
           configs: tuple[str, ...]) -> None:
    """Create a topic."""
    from confluent_kafka.admin import NewTopic

    conf = {}
    for kv in configs:
        k, sep, v = kv.partition("=")
        if not sep:
            _fail(f"--set expects KEY=VALUE, got {kv!r}")
        conf[k] = v
    admin = _admin(config_file, broker)  # keep a reference: the futures die with the client
    fut = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=conf)],
        request_timeout=ADMIN_TIMEOUT_S)[name]
    try:
        fut.result(ADMIN_TIMEOUT_S)
    except Exception as exc:  # KafkaException carries the broker's error
        _fail(f"cannot create {name}: {_why(exc)}")
    click.echo(f"created topic {name} ({partitions} partitions)", err=True)


@topics.command()
@with_common
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def describe(config_file: str | None, broker: str | None, name: str, as_json: bool) -> None:
    """Show a topic's partitions and configuration."""
    from confluent_kafka.admin import ConfigResource

    admin = _admin(config_file, broker)
    md = admin.list_topics(topic=name, timeout=ADMIN_TIMEOUT_S)
    t = md.topics.get(name)
    if t is None or t.error is not None:
        _fail(f"topic {name!r}: {t.error.str() if t is not None and t.error else 'not found'}")
    parts = [{"partition": p.id, "leader": p.leader, "replicas": ",".join(map(str, p.replicas)),
              "isr": ",".join(map(str, p.isrs))} for p in sorted(t.partitions.values(), key=lambda p: p.id)]
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    try:
        entries = admin.describe_configs([res], request_timeout=ADMIN_TIMEOUT_S)[res].result(ADMIN_TIMEOUT_S)
    except Exception as exc:
        _fail(f"cannot describe {name}: {_why(exc)}")
    configs = [{"config": k, "value": e.value, "default": e.is_default} for k, e in sorted(entries.items())]
    if as_json:
        click.echo(orjson.dumps({"topic": name, "partitions": parts, "configs": configs}, option=orjson.OPT_INDENT_2).decode())
        return
    _emit(parts, ["partition", "leader", "replicas", "isr"], False, title=f"{name}: partitions")
    if not sys.stdout.isatty():
        click.echo("")
    _emit(configs, ["config", "value", "default"], False, title=f"{name}: configuration")


@topics.command()
@with_common
@click.argument("name")
@click.option("-p", "--partitions", type=int, default=None, help="Grow the topic to this many partitions.")
@click.option("-s", "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set a topic config, e.g. retention.ms=3600000.")
@click.option("--unset", "unsets", multiple=True, metavar="KEY", help="Return a topic config to the broker default.")
def alter(config_file: str | None, broker: str | None, name: str, partitions: int | None, sets: tuple[str, ...],
          unsets: tuple[str, ...]) -> None:
    """Add partitions to a topic or change its configuration."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions

    if partitions is None and not sets and not unsets:
        _fail("nothing to change: give --partitions, --set or --unset")
    admin = _admin(config_file, broker)
    if partitions is not None:
        try:
            admin.create_partitions([NewPartitions(name, partitions)], request_timeout=ADMIN_TIMEOUT_S)[name].result(ADMIN_TIMEOUT_S)
        except Exception as exc:
            _fail(f"cannot grow {name} to {partitions} partitions: {_why(exc)}")
        click.echo(f"topic {name} now has {partitions} partitions", err=True)
    if sets or unsets:
        entries = []
        for kv in sets:
            k, sep, v = kv.partition("=")
            if not sep:
                _fail(f"--set expects KEY=VALUE, got {kv!r}")
            entries.append(ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET))
        entries += [ConfigEntry(k, None, incremental_operation=AlterConfigOpType.DELETE) for k in unsets]
        res = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
        try:
            admin.incremental_alter_configs([res], request_timeout=ADMIN_TIMEOUT_S)[res].result(ADMIN_TIMEOUT_S)
        except Exception as exc:
            _fail(f"cannot change the configuration of {name}: {_why(exc)}")
        click.echo(f"configuration of {name} changed", err=True)


@topics.command()
@with_common
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(config_file: str | None, broker: str | None, name: str, yes: bool) -> None:
    """Delete a topic and all its data."""
    if not yes and sys.stdin.isatty():
        click.confirm(f"Delete topic {name} and all its records?", abort=True)
    admin = _admin(config_file, broker)
    fut = admin.delete_topics([name], request_timeout=ADMIN_TIMEOUT_S)[name]
    try:
        fut.result(ADMIN_TIMEOUT_S)
    except Exception as exc:
        _fail(f"cannot delete {name}: {_why(exc)}")
    click.echo(f"deleted topic {name}", err=True)
