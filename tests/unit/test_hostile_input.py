"""Hostile input to the small languages and loaders (issue 18): the query language, the
config loader and the Sigma loader answer every input with a value or their own clear
error - never another exception, never a crash of the process that asked.

Deep nesting found two crashes (RecursionError out of the query parser and out of the
YAML reader of the config loader); both tests below failed before the fix.
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwarden.config import ConfigError, load
from logwarden.rules.loader import load_text
from logwarden.sinks.query import QueryError, parse

QUERY_ALPHABET = st.sampled_from(list('abc:*?"()[]{}\\ -+/!<>=~^.0123456789') + [" AND ", " OR ", " NOT ", " TO ", "@timestamp", "now-1d/d"])
YAMLISH = st.lists(st.sampled_from(list("abc:-[]{}&*!|>'\"#\n ,0123") + ["detection", "condition", "title", "correlation", "sel", "parsers", "sources"]),
                   max_size=120).map("".join)


@pytest.mark.parametrize("q", ["(" * 5000 + "a" + ")" * 5000, "NOT " * 5000 + "a", "-" * 5000 + "a"])
def test_deeply_nested_query_is_a_query_error(q):
    with pytest.raises(QueryError) as exc:
        parse(q)
    assert "deep" in str(exc.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(QUERY_ALPHABET, max_size=60).map("".join))
def test_any_query_text_parses_or_is_a_query_error(q):
    try:
        parse(q)
    except QueryError as exc:
        assert str(exc) and 0 <= exc.position <= len(q)


@pytest.mark.parametrize("text", ["[" * 100_000, "a: " + "{b: " * 5000 + "1" + "}" * 5000, "- " * 100_000 + "x"])
def test_deeply_nested_config_file_is_a_config_error(tmp_path, text):
    p = tmp_path / "logwarden.yml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load(p)
    assert str(p) in str(exc.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(YAMLISH)
def test_any_config_text_loads_or_is_a_config_error(tmp_path, text):
    p = tmp_path / "logwarden.yml"
    p.write_text(text)
    try:
        load(p)
    except ConfigError as exc:
        assert str(p) in str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_any_sigma_text_loads_or_reports_load_errors(text):
    docs, errors = load_text(text, "<rules>")
    assert all(str(e).startswith("<rules>") for e in errors)


def test_deeply_nested_sigma_file_is_a_load_error():
    docs, errors = load_text("[" * 100_000, "<rules>")
    assert docs == [] and len(errors) == 1 and "YAML" in str(errors[0])
