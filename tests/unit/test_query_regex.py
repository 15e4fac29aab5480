"""field:/regex/: RE2 syntax checked at parse time (errors point at the column), one parse
written for tantivy (Rust regex) and Elasticsearch (Lucene RegExp, flags NONE)."""
import pytest

from logwarden.sinks.embedded import IndexReader, IndexWriter
from logwarden.sinks.query import QueryError, Regexp, parse, to_es
from logwarden.sinks.query.regex import compile_regex


def test_parses_to_a_regexp_node_and_leaves_paths_alone():
    assert parse("user.name:/adm.*/") == Regexp("user.name", "adm.*")
    assert parse(r"url.path:/api\/v[12]\/.*/") == Regexp("url.path", "api/v[12]/.*")
    # a closing slash that does not end the term: still a plain value, as before
    assert parse("url.path:/api/v1/users").value == "/api/v1/users"
    assert parse("url.path:/").value == "/"


@pytest.mark.parametrize("q,fragment,pos", [
    ("user.name:/a(?=b)/", "invalid perl operator", 12),
    ("x AND user.name:/(a)\\1/", "invalid escape sequence", 20),
    ("user.name:/[[:alpha:]]/", "POSIX classes", 12),
    ("user.name:/a{,3}/", "{,n} is a literal in RE2", 12),
    ("user.name:/a^b/", "anchor", 11),
    ("user.name:/(?s:.)x/", "flag group", 11),
    ("source.ip:/10\\..*/", "IP field: regexes work on keyword", 10),
    ("http.response.status_code:/5.*/", "numeric field", 26),
    ("user.name://", "empty pattern", 11),
    ("user.name:/" + "a" * 1001 + "/", "at most 1000 characters", 1011),
])
def test_errors_point_at_the_column(q, fragment, pos):
    with pytest.raises(QueryError) as e:
        parse(q)
    assert fragment in e.value.message and e.value.position == pos, (e.value.message, e.value.position)


def test_dsl_is_lucene_syntax_with_operators_escaped():
    assert to_es.compile(parse(r"user.name:/(?i)a@b\d+/")) == {
        "regexp": {"user.name": {"value": "a\\@b([0-9])+", "flags": "NONE", "case_insensitive": True}}}
    assert compile_regex(r"^x.y$").rust == "x[^\\n]y"      # edge anchors are no-ops on a whole-value match


def test_hostile_patterns_are_linear_or_refused(tmp_path):
    w = IndexWriter(tmp_path / "ev", heap_bytes=16_000_000)
    w.add({"@timestamp": "2026-12-07T13:00:00Z", "event": {"id": "1"}, "user": {"name": "a" * 40 + "!"}})
    w.close()
    r = IndexReader(tmp_path / "ev")
    assert r.search("user.name:/(a+)+b/")["total"] == 0            # catastrophic for a backtracker, not here
    assert r.search("user.name:/(a|aa)*!/")["total"] == 1
    with pytest.raises(QueryError, match="too large"):
        r.search("user.name:/.{1000}/")
