"""Logsource-aware field mapping pipelines (in the spirit of pySigma processing pipelines).

A pipeline is a YAML file. Bundled ones live in `logwarden/rules/mappings/` (`ecs`,
`none`); `rules.mapping` may also name a path to an operator's own file. Shape:

    name: ecs
    keyword_fields: [message]          # where keyword (field-less) searches look
    fields: {Sigma name: ECS name}     # applies to every logsource
    logsources:
      - match: {product: linux, category: process_creation}
        conditions: {event.category: process, event.type: start}   # AND-ed to each rule
        fields: {Image: process.executable, ...}
        unmapped: "winlog.event_data.{field}"   # optional: where unknown fields live

An entry applies to a rule when every key of `match` equals the rule's logsource value
(case-insensitive). Applicable entries are merged most specific first (more `match` keys
wins); their `conditions` are all AND-ed. A field maps to one name or a list of names
(OR-ed). Names not mapped anywhere are used verbatim, so rules written in ECS terms work
under any pipeline. `conditions` use the detection syntax, modifiers included.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from logwarden.model import Model

BUNDLED = Path(__file__).with_name("mappings")


class LogsourceEntry(Model):
    match: dict[str, str] = Field(default_factory=dict, description="Logsource keys (product, category, service) that must all equal the rule's.")
    conditions: dict[str, Any] = Field(default_factory=dict, description="Detection items AND-ed to every rule of this logsource.")
    fields: dict[str, str | list[str]] = Field(default_factory=dict, description="Sigma field name -> event field name(s).")
    unmapped: str | None = Field(None, description="Template for fields not in `fields`, e.g. 'winlog.event_data.{field}'.")


class Pipeline(Model):
    name: str = Field(description="Pipeline name, as given to --mapping.")
    description: str = Field("", description="What the pipeline is for.")
    keyword_fields: list[str] = Field(default_factory=lambda: ["message"], description="Fields that keyword searches look in.")
    fields: dict[str, str | list[str]] = Field(default_factory=dict, description="Mappings for every logsource.")
    logsources: list[LogsourceEntry] = Field(default_factory=list, description="Logsource-specific conditions and mappings.")

    def for_logsource(self, logsource: dict[str, Any]) -> "Resolved":
        ls = {str(k).lower(): str(v).lower() for k, v in (logsource or {}).items() if isinstance(v, (str, int))}
        hits = [e for e in self.logsources
                if all(ls.get(k.lower()) == str(v).lower() for k, v in e.match.items())]
        hits.sort(key=lambda e: -len(e.match))
        return Resolved(self, hits)


class Resolved:
    """A pipeline narrowed to one rule's logsource: `map_field` and the added conditions."""

    def __init__(self, pipeline: Pipeline, entries: list[LogsourceEntry]):
        self.pipeline = pipeline
        self.entries = entries

    @cached_property
    def conditions(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for e in reversed(self.entries):
            out.update(e.conditions)
        return out

    def map_field(self, name: str) -> list[str]:
        for e in self.entries:
            if name in e.fields:
                return _as_list(e.fields[name])
        if name in self.pipeline.fields:
            return _as_list(self.pipeline.fields[name])
        for e in self.entries:
            if e.unmapped and "." not in name:
                return [e.unmapped.format(field=name)]
        return [name]

    @property
    def keyword_fields(self) -> list[str]:
        return self.pipeline.keyword_fields


def _as_list(v: str | list[str]) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


_cache: dict[str, Pipeline] = {}


class PipelineError(ValueError):
    pass


def load(name_or_path: str) -> Pipeline:
    """A bundled pipeline by name (`ecs`, `none`) or a YAML file path."""
    if name_or_path in _cache:
        return _cache[name_or_path]
    p = BUNDLED / f"{name_or_path}.yml"
    if not p.exists():
        p = Path(name_or_path)
    if not p.exists():
        known = ", ".join(sorted(x.stem for x in BUNDLED.glob("*.yml")))
        raise PipelineError(f"mapping {name_or_path!r}: no such pipeline (bundled: {known}; or give a YAML file path)")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        pipe = Pipeline.model_validate(data)
    except (yaml.YAMLError, ValueError) as exc:
        raise PipelineError(f"{p}: invalid mapping pipeline: {exc}") from None
    _cache[name_or_path] = pipe
    return pipe
