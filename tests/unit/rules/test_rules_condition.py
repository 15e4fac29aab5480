"""The condition grammar: every form of the specification, precedence, and errors."""
import pytest

from logwarden.rules.condition import ConditionError, parse
from logwarden.rules.compiler import ruleset_from_text
from logwarden.rules.engine import Engine

DETECTION = """
title: t
id: r
logsource: {product: x}
detection:
  selection_a: {a: 1}
  selection_b: {b: 1}
  keywords: {k: 1}
  filter_x: {x: 1}
  _hidden: {h: 1}
  condition: %s
"""


def run(condition: str, doc: dict) -> bool:
    rs = ruleset_from_text(DETECTION % condition)
    assert not rs.errors, [str(e) for e in rs.errors]
    return bool(Engine(rs).match(doc)[1])


@pytest.mark.parametrize("cond,doc,expected", [
    ("selection_a", {"a": 1}, True),
    ("selection_a and selection_b", {"a": 1}, False),
    ("selection_a and selection_b", {"a": 1, "b": 1}, True),
    ("selection_a or selection_b", {"b": 1}, True),
    ("selection_a and not filter_x", {"a": 1, "x": 1}, False),
    ("selection_a and not filter_x", {"a": 1}, True),
    ("1 of selection_*", {"b": 1}, True),
    ("all of selection_*", {"b": 1}, False),
    ("all of selection_*", {"a": 1, "b": 1}, True),
    ("1 of them", {"k": 1}, True),
    ("1 of them", {"h": 1}, False),           # identifiers starting with _ are not in 'them'
    ("all of them", {"a": 1, "b": 1, "k": 1, "x": 1}, True),
    ("all of them", {"a": 1, "b": 1, "k": 1}, False),
    ("2 of selection_* ", {"a": 1}, False),
    ("2 of selection_*", {"a": 1, "b": 1}, True),
    ("1 of selection* and keywords", {"a": 1, "k": 1}, True),
    ("1 of selection* and not 1 of filter*", {"a": 1, "x": 1}, False),
    ("selection_a and (keywords or filter_x)", {"a": 1, "x": 1}, True),
    ("selection_a and (keywords or filter_x)", {"a": 1}, False),
    # precedence: and binds tighter than or; not tighter than and
    ("selection_a or selection_b and keywords", {"a": 1}, True),
    ("(selection_a or selection_b) and keywords", {"a": 1}, False),
    ("not selection_a and selection_b", {"b": 1}, True),
    ("not selection_a and selection_b", {"a": 1, "b": 1}, False),
    ("not (selection_a and selection_b)", {"a": 1, "b": 1}, False),
    ("selection_a AND NOT filter_x", {"a": 1}, True),      # keywords are case-insensitive
    ("_hidden", {"h": 1}, True),
])
def test_condition_forms(cond, doc, expected):
    assert run(cond, doc) is expected


def test_condition_list_is_or():
    assert run("['selection_a', 'selection_b']", {"b": 1})
    assert not run("['selection_a', 'selection_b']", {"k": 1})


def test_parse_tree_shape():
    assert parse("a or b and not c") == ("or", [("id", "a"), ("and", [("id", "b"), ("not", ("id", "c"))])])
    assert parse("1 of sel_* and all of them") == ("and", [("of", 1, "sel_*"), ("of", "all", "them")])


@pytest.mark.parametrize("cond,reason", [
    ("selection_a and", "syntax error"),
    ("selection_a and nothere", "'nothere', which is not a search identifier"),
    ("1 of nomatch_*", "matches no search identifier"),
    ("selection_a | count() by x > 5", "aggregations"),
    ("(selection_a", "syntax error"),
])
def test_condition_errors_name_the_line(cond, reason):
    rs = ruleset_from_text(DETECTION % cond, source="c.yml")
    assert not rs.rules and len(rs.errors) == 1
    assert reason in rs.errors[0].reason, rs.errors[0]
    assert rs.errors[0].line in (11, 5)


def test_parse_error_raises():
    with pytest.raises(ConditionError):
        parse("a and or b")
