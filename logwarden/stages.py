"""The registry of the pipeline's topics (and, below, its stages).

A topic has one name, set once in the `topics:` section of logwarden.yml, and every stage
that writes or reads it takes the name from there. Renaming a topic is therefore a change
in one place; before this, the parsers' output topic could be set while the index, rules
and metrics stages kept reading the built-in names, and were silently disconnected.

The default names are the constants of `logwarden.events`, where each topic's document
shape is described.
"""
from __future__ import annotations

from pydantic import Field

from logwarden.events import ALERTS_TOPIC, DLQ_TOPIC, ECS_TOPIC, RAW_TOPIC, RULES_STATE_TOPIC
from logwarden.model import Model


class TopicsConfig(Model):
    """`topics:` in logwarden.yml: the name of every topic the stages meet on."""

    raw: str = Field(RAW_TOPIC, min_length=1, description="Raw envelopes: written by the agent and ingest, read by the parsers.")
    ecs: str = Field(ECS_TOPIC, min_length=1, description="ECS events: written by the parsers, read by the index, rules and metrics stages.")
    dlq: str = Field(DLQ_TOPIC, min_length=1, description="Dead letters (what a stage could not take, with the reason): written by the parsers, index and rules stages, counted by the metrics stage.")
    alerts: str = Field(ALERTS_TOPIC, min_length=1, description="Alerts: written by the rules stage, read by the index stage.")
    rules_state: str = Field(RULES_STATE_TOPIC, min_length=1, description="The rules stage's checkpoint of correlation windows and open alerts (compacted, one partition): written and read back only by the rules stage.")


# Keys that named a topic before the `topics:` section existed, and where each name lives now.
MOVED_TOPIC_KEYS: dict[tuple[str, str], str] = {
    ("agent", "topic"): "topics.raw",
    ("ingest", "topic"): "topics.raw",
    ("parsers", "input_topic"): "topics.raw",
    ("parsers", "output_topic"): "topics.ecs",
    ("parsers", "dlq_topic"): "topics.dlq",
}
