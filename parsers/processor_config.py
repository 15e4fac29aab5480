"""Processor configuration models: one pydantic model per processor `type:`.

Kept apart from the builders (processors.py) so the config reference (docs/configuration.md)
is generated from exactly these classes, and so config.py can import them without the
runtime machinery.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator

from logwarden.model import Model

from .conditions import ConditionConfig


class RenameConfig(Model):
    """Move a field to a new name (`from` -> `to`)."""

    type: Literal["rename"] = Field(description="`rename`")
    from_: str = Field(alias="from", description="Field to move.")
    to: str = Field(description="New field name (dotted ECS path).")
    when: ConditionConfig | None = Field(None, description="Only for events matching this condition.")


class SetConfig(Model):
    """Write a constant, or copy another field's value."""

    type: Literal["set"] = Field(description="`set`")
    field: str = Field(description="Field to write.")
    value: Any = Field(None, description="Value to write (ignored when copy_from is given).")
    copy_from: str | None = Field(None, description="Copy the value of this field instead.")
    override: bool = Field(True, description="Replace an existing value.")
    when: ConditionConfig | None = Field(None, description="Only for events matching this condition.")


class RemoveConfig(Model):
    """Delete fields."""

    type: Literal["remove"] = Field(description="`remove`")
    fields: list[str] = Field(description="Fields to delete.")
    when: ConditionConfig | None = Field(None, description="Only for events matching this condition.")


class DropConfig(Model):
    """Discard matching events on purpose (they are counted, not dead-lettered)."""

    type: Literal["drop"] = Field(description="`drop`")
    when: ConditionConfig = Field(description="Drop the events matching this condition (deliberately, not to the DLQ).")


class TimestampConfig(Model):
    """Parse a time field with layouts and a zone into `@timestamp` (or `target`)."""

    type: Literal["timestamp"] = Field(description="`timestamp`")
    field: str = Field(description="Field holding the time text.")
    formats: list[str] = Field(default_factory=lambda: ["ISO8601"], description="Layouts tried in order: strptime layouts (%Y-%m-%d %H:%M:%S), or ISO8601, UNIX, UNIX_MS, CLF.")
    timezone: str | None = Field(None, description="Zone for times without one (default: the pipeline's or parsers.timezone).")
    target: str = Field("@timestamp", description="Field to write the ECS time to.")
    remove_source: bool = Field(False, description="Delete `field` after a successful parse.")
    if_no_match: Literal["tag", "dlq", "ignore"] = Field("tag", description="When no layout fits: tag _timestampparsefailure, send to the DLQ, or ignore.")


class DissectConfig(Model):
    """Split a text field by literal delimiters (`%{a} - %{b}`), cheaper than grok."""

    type: Literal["dissect"] = Field(description="`dissect`")
    field: str = Field("message", description="Field to split.")
    pattern: str = Field(description="Dissect pattern, e.g. '%{client.ip} - %{user.name} [%{ts}] %{?skip} %{msg}'; %{?x} skips, %{+x} appends to x, %{x->} pads.")
    append_separator: str = Field(" ", description="Joins the parts of a %{+key} append.")
    target_prefix: str = Field("", description="Prefix for the extracted keys, e.g. 'app.'.")
    if_no_match: Literal["tag", "dlq", "ignore"] = Field("tag", description="When the text does not fit: tag _dissectfailure, DLQ, or ignore.")


class KvConfig(Model):
    """Extract key=value pairs from a text field."""

    type: Literal["kv"] = Field(description="`kv`")
    field: str = Field("message", description="Field holding key=value text.")
    field_split: str = Field(" ", description="Separator between pairs (a regex).")
    value_split: str = Field("=", description="Separator between key and value (a literal).")
    target_prefix: str = Field("", description="Prefix for the keys, e.g. 'app.'.")
    include_keys: list[str] = Field(default_factory=list, description="Only these keys (empty: all).")
    exclude_keys: list[str] = Field(default_factory=list, description="Skip these keys.")


class UserAgentConfig(Model):
    """Parse user_agent.original into user_agent.name/version/os/device (ua-parser)."""

    type: Literal["user_agent"] = Field(description="`user_agent`")
    field: str = Field("user_agent.original", description="Field holding the User-Agent header.")


class ConvertConfig(Model):
    """Convert field types: integer, long, float, double, boolean, string, ip."""

    type: Literal["convert"] = Field(description="`convert`")
    fields: dict[str, Literal["integer", "long", "float", "double", "boolean", "string", "ip"]] = Field(description="Field -> type.")
    if_invalid: Literal["remove", "keep", "dlq"] = Field("remove", description="A value that does not convert: remove it (tagged _convertfailure), keep it, or DLQ.")


class TruncateConfig(Model):
    """Bound text fields to max_chars; flags the event log.flags: truncated."""

    type: Literal["truncate"] = Field(description="`truncate`")
    fields: list[str] = Field(description="Text fields to bound.")
    max_chars: int = Field(ge=1, description="Longest text kept; longer values are cut and log.flags gets `truncated`.")


class GrokConfig(Model):
    """Match a field with grok patterns (%{SYNTAX:SEMANTIC:type}) compiled to one anchored regex."""

    type: Literal["grok"] = Field(description="`grok`")
    field: str = Field("message", description="Field to match.")
    patterns: list[str] = Field(min_length=1, description="Grok patterns tried as one alternation, first listed wins.")
    pattern_definitions: dict[str, str] = Field(default_factory=dict, description="Extra NAME: pattern definitions for these patterns only.")
    target_prefix: str = Field("", description="Prefix for the captured fields.")
    if_no_match: Literal["dlq", "tag", "ignore"] = Field("dlq", description="No pattern matched: DLQ (the line is not understood), tag _grokparsefailure, or ignore.")


class ParseConfig(Model):
    """Run a format parser on a field, e.g. the application's line inside a container log."""

    type: Literal["parse"] = Field(description="`parse`")
    field: str = Field("message", description="Field holding the text to parse.")
    format: str = Field(description="Format name from the registry (nginx, sshd, json, ...).")
    if_no_match: Literal["dlq", "tag", "ignore"] = Field("tag", description="The text is not in that format: DLQ, tag _parsefailure, or ignore.")

    @field_validator("format")
    @classmethod
    def _known(cls, v: str) -> str:
        from .formats import FORMATS

        if v not in FORMATS:
            raise ValueError(f"unknown format {v!r}; known: {', '.join(sorted(FORMATS))}")
        return v


class GeoipConfig(Model):
    """Add geo.* (country, region, city, location) and as.* (AS number and organisation) for an IP field."""

    type: Literal["geoip"] = Field(description="`geoip`")
    field: str = Field("source.ip", description="Field holding the IP address.")
    target_field: str | None = Field(None, description="Object that gets `geo` and `as` (default: the field's parent, so source.ip gives source.geo and source.as).")
    databases: list[str] = Field(default_factory=list, description="MaxMind-format files (GeoLite2/DB-IP City or Country, and ASN); empty: parsers.geoip.databases.")
    private_tag: str | None = Field("_geoip_private", description="Tag for a private, loopback, link-local, documentation, CGNAT or multicast address, which is not looked up; null: no tag.")
    when: ConditionConfig | None = Field(None, description="Only for events matching this condition.")


class LookupConfig(Model):
    """Enrich from a CSV/JSON table keyed by a field (asset inventory, user directory, threat-intel list); reloaded when the file changes."""

    type: Literal["lookup"] = Field(description="`lookup`")
    file: str = Field(description="Table file: .csv (header row), .json (object of key -> fields, or list of objects) or .jsonl.")
    field: str = Field(description="Event field whose value is looked up, e.g. host.name, user.name, source.ip.")
    key_column: str = Field("key", description="Column (CSV) or member (JSON) holding the key. Keys are exact (web-1), CIDR (10.0.0.0/8: the longest prefix wins) or wildcard (db-*: first in file order); exact beats CIDR beats wildcard.")
    target: str = Field("", description="Prefix for the table's other columns, e.g. 'host.asset.'; '' when the columns are ECS paths themselves (threat.indicator.type).")
    override: bool = Field(True, description="Replace fields the event already has.")
    tag: str | None = Field(None, description="Tag added when a key matched, e.g. threat_intel.")
    case_sensitive: bool = Field(True, description="Compare keys case-sensitively (false for host and user names from mixed sources).")
    reload_seconds: float = Field(1.0, ge=0.05, le=3600, description="How often the file's mtime and size are checked; a changed file is read again, a broken one keeps the previous table.")
    cache_size: int = Field(16384, ge=0, le=10_000_000, description="Answers kept (LRU), dropped on reload.")
    when: ConditionConfig | None = Field(None, description="Only for events matching this condition.")


ProcessorConfig = Annotated[
    Union[RenameConfig, SetConfig, RemoveConfig, DropConfig, TimestampConfig, DissectConfig, KvConfig,
          UserAgentConfig, ConvertConfig, TruncateConfig, GrokConfig, ParseConfig, GeoipConfig, LookupConfig],
    Field(discriminator="type"),
]
