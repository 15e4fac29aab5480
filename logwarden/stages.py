"""The registry of the pipeline's topics and stages: the one place a newcomer changes.

A topic has one name, set once in the `topics:` section of logwarden.yml, and every stage
that writes or reads it takes the name from there. Renaming a topic is therefore a change
in one place; before this, the parsers' output topic could be set while the index, rules
and metrics stages kept reading the built-in names, and were silently disconnected.

The default names are the constants of `logwarden.events`, where each topic's document
shape is described.

`STAGES` lists every process of the pipeline once: its name, the module whose `run(cfg)`
runs it, the topics it reads and writes (as `topics:` keys, so renames follow), its
consumer group, and how many of it `logwarden up` starts for a given config. The CLI
(`logwarden worker NAME`, the stage commands), the supervisor's plan, the deploy renders
(one unit or Deployment per worker stage) and docs/architecture.md's map all read it, so
adding a stage is one entry here plus its package.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from pydantic import Field

from logwarden.events import ALERTS_TOPIC, DLQ_TOPIC, ECS_TOPIC, METRICS_TOPIC, RAW_TOPIC, RULES_STATE_TOPIC
from logwarden.model import Model


class TopicsConfig(Model):
    """`topics:` in logwarden.yml: the name of every topic the stages meet on."""

    raw: str = Field(RAW_TOPIC, min_length=1, description="Raw envelopes: written by the agent and ingest, read by the parsers.")
    ecs: str = Field(ECS_TOPIC, min_length=1, description="ECS events: written by the parsers, read by the index and rules stages (and the metrics stage when it counts them itself: index.count_events).")
    dlq: str = Field(DLQ_TOPIC, min_length=1, description="Dead letters (what a stage could not take, with the reason): written by the parsers, index and rules stages, counted by the metrics stage.")
    alerts: str = Field(ALERTS_TOPIC, min_length=1, description="Alerts: written by the rules stage, read by the index stage.")
    rules_state: str = Field(RULES_STATE_TOPIC, min_length=1, description="The rules stage's checkpoint of correlation windows and open alerts (compacted, one partition): written and read back only by the rules stage.")
    metrics: str = Field(METRICS_TOPIC, min_length=1, description="JSON samples of the metrics feeds (metrics.feeds): written by whichever stage counts the events (the index stage under `logwarden up`, the metrics stage otherwise: index.count_events); read by whatever the operator points at it.")


# Keys that named a topic before the `topics:` section existed, and where each name lives now.
MOVED_TOPIC_KEYS: dict[tuple[str, str], str] = {
    ("agent", "topic"): "topics.raw",
    ("ingest", "topic"): "topics.raw",
    ("parsers", "input_topic"): "topics.raw",
    ("parsers", "output_topic"): "topics.ecs",
    ("parsers", "dlq_topic"): "topics.dlq",
}


if TYPE_CHECKING:
    from logwarden.config import Config

GROUP_PREFIX = "logwarden-"


@dataclass(frozen=True)
class Stage:
    """One kind of process of the pipeline.

    `reads`/`writes` name `topics:` keys, never topic names, so that the wiring and the
    rename test cannot disagree. A `worker` stage is a consumer run by logwarden/worker.py
    (`logwarden worker NAME`, one consumer group, scaled by starting more of it); the others
    have a command of their own (`logwarden NAME`) with options only they take.
    """

    name: str
    module: str
    summary: str
    command: tuple[str, ...]
    processes: Callable[["Config"], int]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    worker: bool = False
    numbered: bool = False        # children are NAME-0, NAME-1, ... (scaled in `logwarden up` itself)
    when: str = "always"          # when `logwarden up` starts it, as the docs say it (processes() decides)
    extra_writes: Callable[["Config"], list[str]] = field(default=lambda cfg: [])

    @property
    def group(self) -> str | None:
        """The consumer group of a worker stage: every process of it shares the partitions."""
        return GROUP_PREFIX + self.name if self.worker else None

    def inputs(self, topics: TopicsConfig) -> list[str]:
        return [getattr(topics, k) for k in self.reads]

    def outputs(self, cfg: "Config") -> list[str]:
        """Every topic this stage produces to (configured routes too), each once."""
        return list(dict.fromkeys([*(getattr(cfg.topics, k) for k in self.writes), *self.extra_writes(cfg)]))

    def children(self, cfg: "Config") -> list[str]:
        """The supervisor's child names for this stage under `cfg` (none when not started)."""
        n = self.processes(cfg)
        return [f"{self.name}-{i}" for i in range(n)] if self.numbered else [self.name] * min(n, 1)


def _embedded_broker(cfg: "Config") -> int:
    return int(cfg.broker.embedded and not cfg.kafka.bootstrap_servers)


def _ingest(cfg: "Config") -> int:
    ing = cfg.ingest
    return int(bool(ing.syslog_udp or ing.syslog_tcp or ing.syslog_tls or ing.http))


def _one(cfg: "Config") -> int:
    return 1


# In the order `logwarden up` starts them (the broker first: every other stage dials it).
STAGES: tuple[Stage, ...] = (
    Stage("broker", "logwarden.broker.service", "the built-in Kafka-protocol broker (absent when kafka.bootstrap_servers is set)",
          ("broker",), _embedded_broker, when="unless `kafka.bootstrap_servers` is set"),
    Stage("parsers", "logwarden.parsers.service", "raw envelopes -> ECS events, unparseable lines to the DLQ",
          ("worker", "parsers"), lambda cfg: cfg.parsers.process_count, reads=("raw",), writes=("ecs", "dlq"),
          worker=True, numbered=True, extra_writes=lambda cfg: [r.topic for r in cfg.parsers.routes],
          when="`parsers.workers` of them (0: one per core)"),
    Stage("index", "logwarden.sinks.index_service", "events and alerts -> the search index (embedded, Elasticsearch or OpenSearch)",
          ("worker", "index"), _one, reads=("ecs", "alerts"), writes=("dlq", "metrics"), worker=True),
    Stage("rules", "logwarden.rules.service", "Sigma rules and correlations over events -> alerts, notifications",
          ("worker", "rules"), _one, reads=("ecs",), writes=("alerts", "dlq", "rules_state"), worker=True),
    Stage("metrics", "logwarden.sinks.metrics_service", "counts of events and dead letters -> Prometheus metrics",
          ("worker", "metrics"), _one, reads=("ecs", "dlq"), writes=("metrics",), worker=True),
    Stage("http", "logwarden.http.server", "the web UI and HTTP API (search, alerts, status), behind the login",
          ("http",), _one),
    Stage("ingest", "logwarden.ingest.service", "syslog (UDP/TCP/TLS) and HTTP NDJSON/_bulk receivers -> raw envelopes",
          ("ingest",), _ingest, writes=("raw",), when="when an `ingest` listener is set"),
    Stage("agent", "logwarden.agents.service", "tails files -> raw envelopes (with a disk spool while the broker is away)",
          ("agent",), lambda cfg: int(bool(cfg.sources)), writes=("raw",), when="when `sources` (or `--tail`) are set"),
    Stage("demo", "logwarden.demo", "writes demo nginx and sshd lines, with an SSH brute force (`up --demo`)",
          ("demo-writer",), lambda cfg: int(cfg.demo.enabled), when="with `--demo`"),
)

BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}
WORKERS: tuple[str, ...] = tuple(s.name for s in STAGES if s.worker)


def group_id(name: str) -> str:
    """The consumer group of worker stage `name` (KeyError for a stage that is not one)."""
    group = BY_NAME[name].group
    if group is None:
        raise KeyError(f"{name} is not a consumer stage")
    return group


def topic_map(topics: TopicsConfig | None = None) -> str:
    """docs/architecture.md's generated table: every stage with the topics it meets on."""
    topics = topics or TopicsConfig()
    rows = ["| stage | module | command | reads | writes | consumer group | started by `logwarden up` |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in STAGES:
        reads = ", ".join(f"`{getattr(topics, k)}`" for k in s.reads) or "-"
        writes = ", ".join(f"`{getattr(topics, k)}`" for k in s.writes) or "-"
        if s.name == "parsers":
            writes += ", route topics"
        rows.append(f"| {s.name} | `{s.module}` | `logwarden {' '.join(s.command)}` | {reads} | {writes} | "
                    f"{'`' + s.group + '`' if s.group else '-'} | {s.when} |")
    return "\n".join(rows) + "\n"


def with_topic_map(text: str) -> str:
    """`text` (docs/architecture.md) with the table between its stages markers regenerated."""
    begin = text.index("<!-- stages:begin")
    begin = text.index("\n", begin) + 1
    end = text.index("<!-- stages:end -->", begin)
    return text[:begin] + topic_map() + text[end:]


def main(argv: list[str] | None = None) -> None:
    """`python -m logwarden.stages` prints the table; `--write FILE` regenerates it in FILE."""
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(prog="python -m logwarden.stages", description=main.__doc__)
    ap.add_argument("--write", metavar="FILE", help="rewrite the table between FILE's stages markers")
    args = ap.parse_args(argv)
    if args.write:
        path = Path(args.write)
        path.write_text(with_topic_map(path.read_text()))
    else:
        print(topic_map(), end="")


if __name__ == "__main__":
    main()
