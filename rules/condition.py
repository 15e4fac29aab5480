"""The Sigma condition language, parsed with pyparsing once per rule.

Grammar (sigma-rules-specification, "Condition"), least to most binding:

    expr    := expr 'or' expr | expr 'and' expr | 'not' expr | quant | ident | '(' expr ')'
    quant   := ('1' | N | 'all') 'of' (pattern | 'them')
    pattern := identifier with '*' wildcards, e.g. selection_*

Keywords are case-insensitive. The parser yields a small tuple AST:
("id", name), ("of", count|"all", pattern|"them"), ("not", a), ("and", [a, b, ...]),
("or", [...]). `resolve` turns it into one `Compiled` predicate over the rule's search
identifiers, so pyparsing never runs per event. A condition given as a YAML list means the
OR of its entries.
"""
from __future__ import annotations

import fnmatch
import functools
from typing import Any

import pyparsing as pp

from .anchors import or_anchors
from .detection import Compiled, _and, _or

pp.ParserElement.enable_packrat()

_AND = pp.CaselessKeyword("and")
_OR = pp.CaselessKeyword("or")
_NOT = pp.CaselessKeyword("not")
_OF = pp.CaselessKeyword("of")
_ALL = pp.CaselessKeyword("all")
_THEM = pp.CaselessKeyword("them")
_IDENT = pp.Word(pp.alphanums + "_-.*")
_KEYWORDS = {"and", "or", "not", "of", "all", "them"}


def _ident_action(toks: pp.ParseResults) -> tuple:
    name = toks[0]
    if name.lower() in _KEYWORDS:
        raise pp.ParseException(f"'{name}' is a keyword, not a search identifier")
    return ("id", name)


def _quant_action(toks: pp.ParseResults) -> tuple:
    count = toks[0]
    target = toks[2]
    count = "all" if str(count).lower() == "all" else int(count)
    target = "them" if str(target).lower() == "them" else target[1] if isinstance(target, tuple) else str(target)
    return ("of", count, target)


def _grammar() -> pp.ParserElement:
    ident = _IDENT.copy().set_parse_action(_ident_action)
    count = _ALL | pp.Word(pp.nums)
    quant = (count + _OF + (_THEM | ident)).set_parse_action(_quant_action)
    operand = quant | ident

    def unary(toks: pp.ParseResults) -> tuple:
        return ("not", toks[0][1])

    def binary(kind: str):
        def act(toks: pp.ParseResults) -> tuple:
            return (kind, list(toks[0][0::2]))
        return act

    return pp.infix_notation(operand, [
        (_NOT, 1, pp.OpAssoc.RIGHT, unary),
        (_AND, 2, pp.OpAssoc.LEFT, binary("and")),
        (_OR, 2, pp.OpAssoc.LEFT, binary("or")),
    ])


_GRAMMAR = _grammar()


class ConditionError(ValueError):
    pass


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> tuple:
    """Condition text -> AST; cached because most rules share a handful of conditions."""
    try:
        res = _GRAMMAR.parse_string(text, parse_all=True)
    except pp.ParseBaseException as exc:
        raise ConditionError(f"condition {text!r}: syntax error at column {exc.column}: {exc.msg}") from None
    return _plain(res[0])


def _plain(node: Any) -> Any:
    """Unwrap pyparsing's group results into plain tuples and lists."""
    while isinstance(node, pp.ParseResults) and len(node) == 1:
        node = node[0]
    if isinstance(node, tuple):
        kind = node[0]
        if kind in ("and", "or"):
            return (kind, [_plain(a) for a in node[1]])
        if kind == "not":
            return ("not", _plain(node[1]))
    return node


def parse_any(cond: Any) -> tuple:
    """A condition string or a list of them (OR-ed)."""
    if isinstance(cond, str):
        return parse(cond)
    if isinstance(cond, list) and cond and all(isinstance(c, str) for c in cond):
        asts = [parse(c) for c in cond]
        return asts[0] if len(asts) == 1 else ("or", asts)
    raise ConditionError(f"condition must be a string or a list of strings, got {cond!r}")


def identifiers(ast: tuple) -> set[str]:
    """Plain identifiers an AST references (for 'unused selection' checks and errors)."""
    kind = ast[0]
    if kind == "id":
        return {ast[1]}
    if kind == "not":
        return identifiers(ast[1])
    if kind in ("and", "or"):
        return set().union(*(identifiers(a) for a in ast[1]))
    return set()


def resolve(ast: tuple, searches: dict[str, Compiled]) -> Compiled:
    """AST + compiled search identifiers -> one predicate (with candidate anchors)."""
    kind = ast[0]
    if kind == "id":
        name = ast[1]
        if "*" in name:
            raise ConditionError(f"wildcard identifier '{name}' is only valid after 'x of'")
        if name not in searches:
            raise ConditionError(f"condition references '{name}', which is not a search identifier in detection")
        return searches[name]
    if kind == "not":
        inner = resolve(ast[1], searches).fn
        return Compiled(lambda f, l: not inner(f, l), None)
    if kind == "and":
        return _and([resolve(a, searches) for a in ast[1]])
    if kind == "or":
        return _or([resolve(a, searches) for a in ast[1]])
    if kind == "of":
        count, target = ast[1], ast[2]
        if target == "them":
            names = [n for n in searches if not n.startswith("_")]
        else:
            names = [n for n in searches if fnmatch.fnmatchcase(n, target)]
        if not names:
            raise ConditionError(f"'{count} of {target}' matches no search identifier")
        parts = [searches[n] for n in names]
        if count == "all":
            return _and(parts)
        if count == 1:
            return _or(parts)
        if count < 1:
            raise ConditionError(f"'{count} of {target}': the count must be at least 1")
        fns = tuple(p.fn for p in parts)
        n = count
        return Compiled(lambda f, l: sum(1 for fn in fns if fn(f, l)) >= n, or_anchors([p.anchors for p in parts]))
    raise ConditionError(f"unknown condition node {kind}")  # pragma: no cover
