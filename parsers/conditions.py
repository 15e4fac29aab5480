"""Conditions on ECS events, in the shape Filebeat's processors use (`when:`).

    when: {equals: {event.category: authentication}}
    when: {and: [{network: {source.ip: private}}, {not: {equals: {event.outcome: success}}}]}

A condition is validated by pydantic at load time and compiled once into a closure, so
evaluating it per event is a few dict lookups; regexes are compiled once, CIDRs parsed once.
Equality against a list-valued field (ECS `event.category` is a list) means membership.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Callable

from pydantic import ConfigDict, Field, field_validator

from logwarden.events import get_path
from logwarden.model import Model

Predicate = Callable[[dict[str, Any]], bool]
Scalar = str | int | float | bool

NAMED_NETWORKS = {
    "private": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    "loopback": ["127.0.0.0/8", "::1/128"],
    "link_local": ["169.254.0.0/16", "fe80::/10"],
    "multicast": ["224.0.0.0/4", "ff00::/8"],
}


class RangeBounds(Model):
    gte: float | None = Field(None, description="Greater than or equal.")
    gt: float | None = Field(None, description="Greater than.")
    lte: float | None = Field(None, description="Less than or equal.")
    lt: float | None = Field(None, description="Less than.")


class ConditionConfig(Model):
    """All given tests must hold (AND). Field names are dotted ECS paths."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    equals: dict[str, Scalar] | None = Field(None, description="Field equals the value (or contains it, for list fields).")
    contains: dict[str, str] | None = Field(None, description="Field's text contains the substring.")
    regexp: dict[str, str] | None = Field(None, description="Field's text matches the regular expression (search, not anchored).")
    exists: list[str] | None = Field(None, description="Fields that must be present.")
    network: dict[str, str | list[str]] | None = Field(None, description="IP field is inside a CIDR, a list of them, or a named set: private, loopback, link_local, multicast.")
    range: dict[str, RangeBounds] | None = Field(None, description="Numeric field within bounds (gte, gt, lte, lt).")
    and_: list["ConditionConfig"] | None = Field(None, alias="and", description="All sub-conditions hold.")
    or_: list["ConditionConfig"] | None = Field(None, alias="or", description="At least one sub-condition holds.")
    not_: "ConditionConfig | None" = Field(None, alias="not", description="The sub-condition does not hold.")

    @field_validator("regexp")
    @classmethod
    def _regexes_compile(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for field, pattern in (v or {}).items():
            try:
                _re2(pattern)
            except Exception as exc:  # re2.error: bad syntax, or look-around / back-references
                why = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
                raise ValueError(f"{field}: bad regular expression {pattern!r}: {why} (conditions run on RE2, "
                                 f"which has no look-around or back-references, so no line can make them take "
                                 f"exponential time)") from None
        return v


def _equals(field: str, want: Scalar) -> Predicate:
    def test(doc: dict[str, Any]) -> bool:
        v = get_path(doc, field)
        if isinstance(v, list):
            return want in v
        return v == want
    return test


def _contains(field: str, sub: str) -> Predicate:
    def test(doc: dict[str, Any]) -> bool:
        v = get_path(doc, field)
        if isinstance(v, list):
            return any(isinstance(x, str) and sub in x for x in v)
        return isinstance(v, str) and sub in v
    return test


def _re2(pattern: str) -> Any:
    """A user's condition regex on RE2 (linear time), never on the backtracking stdlib engine."""
    import re2

    opts = re2.Options()
    opts.log_errors = False
    return re2.compile(pattern, opts)


def _regexp(field: str, pattern: str) -> Predicate:
    rx = _re2(pattern)

    def test(doc: dict[str, Any]) -> bool:
        v = get_path(doc, field)
        if isinstance(v, list):
            return any(isinstance(x, str) and rx.search(x) for x in v)
        return isinstance(v, str) and rx.search(v) is not None
    return test


def _exists(field: str) -> Predicate:
    missing = object()
    return lambda doc: get_path(doc, field, missing) is not missing


def _network(field: str, spec: str | list[str]) -> Predicate:
    specs = [spec] if isinstance(spec, str) else spec
    nets = []
    for s in specs:
        for cidr in NAMED_NETWORKS.get(s, [s]):
            nets.append(ipaddress.ip_network(cidr, strict=False))

    def test(doc: dict[str, Any]) -> bool:
        v = get_path(doc, field)
        if not isinstance(v, str):
            return False
        try:
            ip = ipaddress.ip_address(v.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in nets)
    return test


def _range(field: str, b: RangeBounds) -> Predicate:
    def test(doc: dict[str, Any]) -> bool:
        v = get_path(doc, field)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                v = float(v)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return False
        return ((b.gte is None or v >= b.gte) and (b.gt is None or v > b.gt)
                and (b.lte is None or v <= b.lte) and (b.lt is None or v < b.lt))
    return test


def compile_condition(c: ConditionConfig) -> Predicate:
    """One closure for the whole condition tree."""
    tests: list[Predicate] = []
    for f, v in (c.equals or {}).items():
        tests.append(_equals(f, v))
    for f, v in (c.contains or {}).items():
        tests.append(_contains(f, v))
    for f, v in (c.regexp or {}).items():
        tests.append(_regexp(f, v))
    for f in c.exists or []:
        tests.append(_exists(f))
    for f, v in (c.network or {}).items():
        tests.append(_network(f, v))
    for f, v in (c.range or {}).items():
        tests.append(_range(f, v))
    if c.and_:
        subs = [compile_condition(s) for s in c.and_]
        tests.append(lambda doc: all(t(doc) for t in subs))
    if c.or_:
        alts = [compile_condition(s) for s in c.or_]
        tests.append(lambda doc: any(t(doc) for t in alts))
    if c.not_ is not None:
        neg = compile_condition(c.not_)
        tests.append(lambda doc: not neg(doc))
    if not tests:
        raise ValueError("empty condition: give at least one of equals, contains, regexp, exists, network, range, and, or, not")
    if len(tests) == 1:
        return tests[0]
    return lambda doc: all(t(doc) for t in tests)
