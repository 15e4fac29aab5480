"""Turning loaded Sigma documents into a `RuleSet` of compiled rules and correlations.

Order of work, each step collecting errors per document instead of stopping:

1. every detection rule compiles with the mapping pipeline resolved for its logsource:
   search identifiers -> predicates, the condition -> one predicate, and the logsource's
   pipeline conditions AND-ed in front (they are what restricts a rule to its events);
2. filters (Sigma filters specification) attach to the rules they name, by id or name, as
   `rule and not filter` - a filter whose logsource does not fit the rule is refused;
3. correlation rules resolve their `rules:` references (ids or names, other correlations
   included), aliases and `group-by` fields (mapped like any other field of the referenced
   rule), and mark referenced rules as not alerting on their own unless `generate: true`.

A rule that fails stays out of the set with a `LoadError`; everything else still runs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .condition import ConditionError, parse_any, resolve
from .detection import Compiled, DetectionError, ItemCompiler, Pred, compile_search
from .episodes import parse_suppression
from .loader import LoadError, SigmaDoc
from .mapping import Pipeline, Resolved

CORRELATION_TYPES = ("event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg", "value_percentile")
COND_OPS = ("gt", "gte", "lt", "lte", "eq", "neq")
_TIMESPAN = re.compile(r"^(\d+)([smhdwMy])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2629800, "y": 31557600}


@dataclass
class Rule:
    doc: SigmaDoc
    seq: int
    fn: Pred
    anchors: tuple | None
    resolved: Resolved
    standalone: bool = True
    filters: list[str] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)  # every event field its predicate (and filters) read


@dataclass
class Correlation:
    doc: SigmaDoc
    seq: int
    type: str
    refs: list[Any]  # Rule | Correlation
    group_by: list[str]
    group_fields: dict[str, list[list[str]]]  # ref doc id -> per group-by name, candidate event fields
    timespan: float
    condition: dict[str, float]
    value_fields: dict[str, list[str]]  # ref doc id -> candidate fields of condition.field
    standalone: bool = True


@dataclass
class RuleSet:
    rules: list[Rule]
    correlations: list[Correlation]
    errors: list[LoadError]
    filters_applied: int = 0
    documents: int = 0
    fields: frozenset = frozenset()  # every event field some predicate reads
    # Generated matcher code shared by the engines built from this set (fastpath.py).
    fastpath: dict = field(default_factory=dict, repr=False, compare=False)

    def summary(self) -> dict[str, int]:
        return {"documents": self.documents, "rules": len(self.rules), "correlations": len(self.correlations),
                "filters": self.filters_applied, "errors": len(self.errors)}


def _err(doc: SigmaDoc, line: int, reason: str) -> LoadError:
    return LoadError(doc.file, line, reason)


def _compile_detection(doc: SigmaDoc, det: Any, ic: ItemCompiler, path: tuple[str, ...]) -> Compiled:
    if not isinstance(det, dict):
        raise DetectionError("detection must be a mapping of search identifiers and a condition")
    if "condition" not in det:
        raise DetectionError("detection has no condition")
    cond = det["condition"]
    if isinstance(cond, str) and "|" in cond:
        raise DetectionError("aggregations in the condition (Sigma 1.0 '| count() by') are not supported; write a correlation rule")
    if "timeframe" in det:
        raise DetectionError("'timeframe' (Sigma 1.0 aggregation) is not supported; write a correlation rule with timespan")
    searches: dict[str, Compiled] = {}
    for name, body in det.items():
        if name == "condition":
            continue
        try:
            searches[str(name)] = compile_search(ic, str(name), body)
        except DetectionError as exc:
            keys = (str(name), exc.key) if exc.key else (str(name),)
            raise _Located(doc.line_of(*path, *keys), str(exc)) from None
    try:
        ast = parse_any(cond)
        return resolve(ast, searches)
    except ConditionError as exc:
        raise _Located(doc.line_of(*path, "condition"), str(exc)) from None


class _Located(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line = line
        self.reason = reason


def parse_timespan(v: Any) -> float:
    m = _TIMESPAN.match(str(v).strip())
    if not m:
        raise ValueError(f"timespan {v!r} must be a number and a unit (s, m, h, d), e.g. 5m")
    return int(m.group(1)) * _UNIT[m.group(2)]


def build(docs: list[SigmaDoc], pipeline: Pipeline, placeholders: dict[str, list[str]] | None = None,
          errors: list[LoadError] | None = None) -> RuleSet:
    errors = list(errors or [])
    rules: list[Rule] = []
    by_ref: dict[str, Any] = {}
    # Ids name rules in correlations, filters and alert ids: a second document with the
    # same id would silently take the first one's place, so it is refused instead.
    first: dict[str, SigmaDoc] = {}
    unique: list[SigmaDoc] = []
    for doc in docs:
        prev = first.get(doc.id)
        if prev is not None and doc.kind != "filter":
            errors.append(_err(doc, doc.line_of("id"), f"duplicate id {doc.id} (first used at {prev.file}:{prev.line}); this document is ignored"))
            continue
        if doc.kind != "filter":
            first[doc.id] = doc
        unique.append(doc)
    docs = []
    for doc in unique:
        # `suppression: {window, by}` - a custom attribute (Sigma allows them) read by episodes.py
        if doc.kind != "filter" and "suppression" in doc.data:
            try:
                doc.suppression = parse_suppression(doc.data["suppression"])
            except ValueError as exc:
                errors.append(_err(doc, doc.line_of("suppression"), str(exc)))
                continue
        docs.append(doc)
    fields: set[str] = set()
    for doc in docs:
        if doc.kind != "rule":
            continue
        resolved = pipeline.for_logsource(doc.logsource)
        ic = ItemCompiler(resolved.map_field, resolved.keyword_fields, placeholders)
        identity = ItemCompiler(lambda f: [f], pipeline.keyword_fields, placeholders)
        try:
            det = _compile_detection(doc, doc.data.get("detection"), ic, ("detection",))
        except _Located as exc:
            errors.append(_err(doc, exc.line, exc.reason))
            continue
        except DetectionError as exc:
            errors.append(_err(doc, doc.line_of("detection"), str(exc)))
            continue
        fn, anchors = det.fn, det.anchors
        if resolved.conditions:
            try:
                ls = compile_search(identity, "logsource", resolved.conditions)
            except DetectionError as exc:
                errors.append(_err(doc, doc.line_of("logsource"), f"mapping pipeline {pipeline.name}: {exc}"))
                continue
            lfn, dfn = ls.fn, fn
            fn = lambda f, l, lfn=lfn, dfn=dfn: lfn(f, l) and dfn(f, l)  # noqa: E731
            anchors = anchors or ls.anchors  # the logsource matches all events of its kind: last resort
        rule = Rule(doc, len(rules), fn, anchors, resolved, fields=ic.fields | identity.fields)
        fields |= rule.fields
        rules.append(rule)
        for key in (doc.id, doc.name):
            if key:
                by_ref[key] = rule
    applied = _apply_filters(docs, by_ref, errors, placeholders, fields)
    correlations = _build_correlations(docs, by_ref, errors)
    return RuleSet(rules, correlations, errors, applied, len(docs), frozenset(fields))


def _logsource_fits(filter_ls: dict[str, Any], rule_ls: dict[str, Any]) -> bool:
    rl = {str(k).lower(): str(v).lower() for k, v in rule_ls.items()}
    return all(rl.get(str(k).lower()) == str(v).lower() for k, v in filter_ls.items() if k != "definition")


def _apply_filters(docs: list[SigmaDoc], by_ref: dict[str, Any], errors: list[LoadError],
                   placeholders: dict[str, list[str]] | None, fields: set[str]) -> int:
    applied = 0
    for doc in docs:
        if doc.kind != "filter":
            continue
        spec = doc.data.get("filter")
        if not isinstance(spec, dict) or not isinstance(spec.get("rules"), list) or "condition" not in spec:
            errors.append(_err(doc, doc.line_of("filter"), "filter needs 'rules' (a list of rule ids or names), search identifiers and a 'condition'"))
            continue
        for ref in spec["rules"]:
            rule = by_ref.get(str(ref))
            if not isinstance(rule, Rule):
                errors.append(_err(doc, doc.line_of("filter", "rules"), f"filter names rule {ref!r}, which is not loaded"))
                continue
            if not _logsource_fits(doc.logsource, rule.doc.logsource):
                errors.append(_err(doc, doc.line_of("logsource"), f"filter logsource {doc.logsource} does not fit rule {ref!r} ({rule.doc.logsource})"))
                continue
            body = {k: v for k, v in spec.items() if k != "rules"}
            ic = ItemCompiler(rule.resolved.map_field, rule.resolved.keyword_fields, placeholders)
            try:
                flt = _compile_detection(doc, body, ic, ("filter",))
            except _Located as exc:
                errors.append(_err(doc, exc.line, exc.reason))
                break
            except DetectionError as exc:
                errors.append(_err(doc, doc.line_of("filter"), str(exc)))
                break
            base, ffn = rule.fn, flt.fn
            rule.fn = lambda f, l, base=base, ffn=ffn: base(f, l) and not ffn(f, l)
            rule.fields |= ic.fields
            fields |= ic.fields
            rule.filters.append(doc.title)
            applied += 1
    return applied


def _build_correlations(docs: list[SigmaDoc], by_ref: dict[str, Any], errors: list[LoadError]) -> list[Correlation]:
    pending = [d for d in docs if d.kind == "correlation"]
    out: list[Correlation] = []
    # Correlations may reference correlations: resolve in rounds until nothing changes.
    while pending:
        progressed = False
        for doc in list(pending):
            spec = doc.data.get("correlation")
            refs = spec.get("rules") if isinstance(spec, dict) else None
            if isinstance(refs, str):
                refs = [refs]
            if isinstance(refs, list) and all(str(r) in by_ref for r in refs):
                pending.remove(doc)
                progressed = True
                try:
                    corr = _correlation(doc, spec, [by_ref[str(r)] for r in refs], len(out))
                except ValueError as exc:
                    errors.append(_err(doc, doc.line_of("correlation"), str(exc)))
                    continue
                out.append(corr)
                for key in (doc.id, doc.name):
                    if key:
                        by_ref[key] = corr
        if not progressed:
            for doc in pending:
                spec = doc.data.get("correlation")
                refs = spec.get("rules") if isinstance(spec, dict) else None
                if not isinstance(refs, (list, str)) or not refs:
                    reason = "correlation needs 'rules': the ids or names of the rules it correlates"
                else:
                    missing = [str(r) for r in ([refs] if isinstance(refs, str) else refs) if str(r) not in by_ref]
                    reason = f"correlation references {', '.join(missing)}, which is not a loaded rule (or is part of a cycle)"
                errors.append(_err(doc, doc.line_of("correlation", "rules"), reason))
            break
    return out


def _correlation(doc: SigmaDoc, spec: dict[str, Any], refs: list[Any], seq: int) -> Correlation:
    ctype = spec.get("type")
    if ctype not in CORRELATION_TYPES:
        raise ValueError(f"correlation type {ctype!r} is not one of {', '.join(CORRELATION_TYPES)}")
    if "timespan" not in spec:
        raise ValueError("correlation needs a timespan, e.g. timespan: 5m")
    timespan = parse_timespan(spec["timespan"])
    group_by = spec.get("group-by") or []
    if isinstance(group_by, str):
        group_by = [group_by]
    aliases = spec.get("aliases") or {}
    cond = spec.get("condition")
    value_field = None
    ops: dict[str, float] = {}
    if cond is None:
        if ctype not in ("temporal", "temporal_ordered"):
            raise ValueError(f"{ctype} needs a condition such as condition: {{gte: 10}}")
        ops = {"gte": float(len(refs))}
    else:
        if not isinstance(cond, dict):
            raise ValueError("correlation condition must be a mapping such as {gte: 10}")
        for k, v in cond.items():
            if k == "field":
                value_field = v
            elif k in COND_OPS:
                try:
                    ops[k] = float(v)
                except (TypeError, ValueError):
                    raise ValueError(f"condition {k}: {v!r} is not a number") from None
            else:
                raise ValueError(f"condition key {k!r} is not one of field, {', '.join(COND_OPS)}")
        if not ops:
            raise ValueError("correlation condition needs one of " + ", ".join(COND_OPS))
    if ctype.startswith("value_") and not value_field:
        raise ValueError(f"{ctype} needs condition.field: the field whose values are counted or aggregated")
    group_fields: dict[str, list[list[str]]] = {}
    value_fields: dict[str, list[str]] = {}
    for ref in refs:
        rname = ref.doc.name or ref.doc.id
        cands = []
        for g in group_by:
            src = g
            if isinstance(aliases.get(g), dict):
                src = aliases[g].get(rname) or aliases[g].get(ref.doc.id) or g
            cands.append(ref.resolved.map_field(src) if isinstance(ref, Rule) else [src])
        group_fields[ref.doc.id] = cands
        if value_field:
            vf = value_field if isinstance(value_field, list) else [value_field]
            value_fields[ref.doc.id] = [t for x in vf for t in (ref.resolved.map_field(str(x)) if isinstance(ref, Rule) else [str(x)])]
    generate = bool(spec.get("generate", doc.data.get("generate", False)))
    for ref in refs:
        if not generate:
            ref.standalone = False
    by = doc.suppression.by if doc.suppression is not None else None
    if by is not None and not set(by) <= set(group_by):
        raise ValueError(f"suppression by {by} must name group-by fields of the correlation ({', '.join(group_by) or 'none'}): "
                         "a correlation's alert is about its group")
    return Correlation(doc, seq, ctype, refs, list(group_by), group_fields, timespan, ops, value_fields)


def load_ruleset(paths: list[str], mapping: str = "ecs", placeholders: dict[str, list[str]] | None = None) -> RuleSet:
    """Read, validate and compile every rule under `paths` with the named mapping pipeline."""
    from .loader import load_paths
    from .mapping import load as load_pipeline

    docs, errors = load_paths(paths)
    return build(docs, load_pipeline(mapping), placeholders, errors)


def ruleset_from_text(text: str, mapping: str = "none", placeholders: dict[str, list[str]] | None = None,
                      source: str = "<text>") -> RuleSet:
    """Compile rules given as YAML text (one or more documents): for tests and the API."""
    from .loader import load_text
    from .mapping import load as load_pipeline

    docs, errors = load_text(text, source)
    return build(docs, load_pipeline(mapping), placeholders, errors)
