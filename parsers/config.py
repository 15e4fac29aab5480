"""Configuration of the parser stage (`parsers:` in logwarden.yml).

    parsers:
      workers: 2
      timezone: Europe/Berlin          # for RFC 3164 and error-log times, which carry no zone
      pipelines:
        - name: shop
          match: {path: "/var/log/shop/*.log"}
          format: json
          processors:
            - {type: rename, from: usr, to: user.name}
      routes:
        - {name: auth, when: {equals: {event.category: authentication}}, topic: logs.auth}
"""
from __future__ import annotations

import os

from typing import Literal

from pydantic import Field, field_validator, model_validator

from logwarden.model import Model

from .conditions import ConditionConfig
from .processor_config import ProcessorConfig
from .timefmt import zone


class PipelineMatch(Model):
    """Which events a pipeline applies to; every given selector must match (AND)."""

    fields: dict[str, str] = Field(default_factory=dict, description="Envelope `fields.<key>` values that must be equal, e.g. {log_format: shop}.")
    path: list[str] = Field(default_factory=list, description="Globs on log.file.path (any may match), e.g. /var/log/shop/*.log.")
    dataset: str | None = Field(None, description="event.dataset sent by the shipper (Filebeat modules set e.g. nginx.access).")
    input: str | None = Field(None, description="input.type of the envelope: filestream, syslog or http.")
    program: str | None = Field(None, description="Syslog program (process.name after parsing), e.g. sshd. Checked after the format parser ran.")


class PipelineConfig(Model):
    name: str = Field(description="Pipeline name, reported by --explain and in DLQ error.type.")
    match: PipelineMatch = Field(default_factory=PipelineMatch, description="Events this pipeline applies to; empty matches all.")
    format: str | None = Field(None, description="Format parser for these events (overrides fields.log_format); a name from the format registry.")
    timezone: str | None = Field(None, description="Zone for timestamps without one in these events (IANA name, +HH:MM, UTC or local); overrides event.timezone and parsers.timezone.")
    processors: list[ProcessorConfig] = Field(default_factory=list, description="Processors run in order after the format parser.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        return v if v is None else ParsersConfig._known_zone(v)

    @model_validator(mode="after")
    def _program_is_post_parse(self) -> "PipelineConfig":
        if self.match.program and (self.format or self.timezone):
            raise ValueError("a pipeline matched by `program` is chosen after parsing, so it cannot set `format` or `timezone`; "
                             "split it into a pipeline matched by path/fields (format) and one by program (processors)")
        return self


class RouteConfig(Model):
    name: str = Field(description="Route name (metrics, --explain).")
    when: ConditionConfig = Field(description="Condition on the ECS event, Filebeat-style: equals, contains, regexp, exists, network, range, and, or, not.")
    topic: str = Field(description="Topic the matching events are written to.")
    keep_in_default: bool = Field(True, description="Also write matching events to the default output topic, so the index and the rules still see them.")


class GeoipSettings(Model):
    """GeoIP/ASN enrichment of every event (docs/parsers.md, Enrichment); off until `databases` names GeoLite2 or DB-IP Lite files (none ships with Logwarden)."""

    databases: list[str] = Field(default_factory=list, description="MaxMind-format files read with maxminddb, e.g. [GeoLite2-City.mmdb, GeoLite2-ASN.mmdb] or DB-IP Lite's city and ASN files; every file is asked and the answers merged. Empty: no GeoIP enrichment.")
    fields: list[str] = Field(default_factory=lambda: ["source.ip", "destination.ip", "client.ip"], description="IP fields the default step enriches on every event, after the pipelines (source.ip -> source.geo, source.as). An event that already has the target's geo or as keeps it.")
    default_step: bool = Field(True, description="Run the default step on every event when databases are given; false: only pipelines' geoip processors use the databases.")
    cache_size: int = Field(65536, ge=0, le=10_000_000, description="Addresses whose answer is kept (LRU) per parser process.")
    reload_seconds: float = Field(60.0, ge=1, le=86400, description="How often the stage checks the files for a change (geoipupdate replaces them) and opens them again; a file that does not open keeps the previous one.")
    private_tag: str | None = Field("_geoip_private", description="Tag for an address that is private, loopback, link-local, documentation, CGNAT or multicast (not looked up); null: no tag.")


class ParsersConfig(Model):
    workers: int = Field(0, ge=0, le=64, description="Parser processes `logwarden up` starts in the consumer group; 0 means one per core.")

    @property
    def process_count(self) -> int:
        """The number of parser processes to run: `workers`, or one per core when it is 0."""
        return self.workers or max(1, os.cpu_count() or 1)
    default_format: str = Field("auto", description="Format used when an event names none (fields.log_format).")
    timezone: str = Field("local", description="Zone for timestamps that carry none (RFC 3164, nginx/apache error logs) when the envelope has no event.timezone: IANA name, +HH:MM, UTC, or local (this host's zone, as Filebeat does).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            zone(v)
        except (KeyError, ValueError, OSError):
            raise ValueError(f"unknown time zone {v!r}: use an IANA name such as Europe/Berlin, +HH:MM, UTC or local") from None
        return v
    on_unmatched: Literal["dlq", "keep"] = Field("dlq", description="A line no parser understands: dlq sends it to the dead-letter topic; keep indexes it as a plain event tagged _parsefailure.")
    unrecognized: Literal["index", "dlq"] = Field("index", description="A line the `auto` format recognises as no known format: index keeps it as a plain event (message = the line, @timestamp from a time found near its start, else the read time, tagged `unparsed`), as Filebeat indexes raw lines; dlq sends it to the dead-letter topic. A line of a declared format (fields.log_format, a pipeline's format) that does not fit is governed by on_unmatched.")
    batch_size: int = Field(5000, ge=1, le=1_000_000, description="Messages per consume batch.")
    patterns: dict[str, str] = Field(default_factory=dict, description="Extra grok pattern definitions, NAME: regex-with-%{SYNTAX} (add to or override the bundled library).")
    pattern_files: list[str] = Field(default_factory=list, description="Files of grok definitions, one `NAME pattern` per line.")
    pipelines: list[PipelineConfig] = Field(default_factory=list, description="Pipelines, first match wins (program-matched ones are checked after parsing).")
    routes: list[RouteConfig] = Field(default_factory=list, description="Routes: condition -> extra topic; every matching route applies.")
    fast_path: bool = Field(True, description="Let the stage write ECS documents of agent-shipped access lines (nginx/apache formats) and sshd login lines (syslog/auth/sshd formats) straight from the envelope bytes when no pipeline or route applies; off sends every event through the generic engine. The output is the same either way.")
    geoip: GeoipSettings = Field(default_factory=GeoipSettings, description="GeoIP and ASN enrichment from MaxMind-format databases.")
    auditd_join: bool = Field(True, description="Merge consecutive auditd records of one serial (SYSCALL, EXECVE, PATH...) into one event; records never wait past the end of a batch.")

    @model_validator(mode="after")
    def _compiles(self) -> "ParsersConfig":
        """Build the engine once, so grok patterns, pattern files, condition regexes and
        format names are checked by `logwarden config check`, not at the first event."""
        import re

        if not (self.pipelines or self.routes or self.patterns or self.pattern_files or self.geoip.databases):
            from .formats import FORMATS  # nothing to compile: keep every CLI start fast

            if self.default_format not in FORMATS:
                raise ValueError(f"unknown format {self.default_format!r}; known: {', '.join(sorted(FORMATS))}")
            return self
        from .engine import Engine  # pyparsing (grok) loads only when there is something to check
        from .grok import GrokError

        try:
            Engine(self)
        except re.error as exc:
            raise ValueError(f"bad regular expression {exc.pattern!r}: {exc}") from None
        except OSError as exc:
            raise ValueError(f"cannot read {exc.filename}: {exc.strerror}") from None
        except RuntimeError as exc:  # maxminddb.InvalidDatabaseError: not a MaxMind-format file
            raise ValueError(f"not a MaxMind-format database: {exc}") from None
        except (GrokError, ValueError) as exc:
            raise ValueError(str(exc)) from None
        return self

