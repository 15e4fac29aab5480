"""The Elasticsearch query DSL compiler: the same AST, the DSL Kibana's KQL would send."""
from __future__ import annotations

import pytest

from logwarden.sinks.query import fields, parse, to_es

DF = list(fields.DEFAULT_FIELDS)


@pytest.mark.parametrize("q, dsl", [
    ("", {"match_all": {}}),
    ("process.name:sshd", {"term": {"process.name": "sshd"}}),
    ('process.name:"sshd"', {"term": {"process.name": "sshd"}}),
    ("http.response.status_code:404", {"term": {"http.response.status_code": "404"}}),
    ("source.ip:10.0.0.1", {"term": {"source.ip": "10.0.0.1"}}),
    ("source.ip:10.0.0.0/8", {"term": {"source.ip": "10.0.0.0/8"}}),
    ("message:failed", {"match": {"message": {"query": "failed", "operator": "and"}}}),
    ('message:"Failed password"', {"match_phrase": {"message": "Failed password"}}),
    ("sshd", {"multi_match": {"query": "sshd", "type": "best_fields", "operator": "and", "fields": DF, "lenient": True}}),
    ('"Failed password"', {"multi_match": {"query": "Failed password", "type": "phrase", "fields": DF, "lenient": True}}),
    ("user.name:adm*", {"wildcard": {"user.name": {"value": "adm*"}}}),
    ("message:pass*", {"wildcard": {"message": {"value": "pass*", "case_insensitive": True}}}),
    ("fail*", {"bool": {"should": [{"wildcard": {"message": {"value": "fail*", "case_insensitive": True}}},
                                   *({"wildcard": {f: {"value": "fail*"}}} for f in DF[1:] if fields.kind(f) != "ip")],
                        "minimum_should_match": 1}}),
    ("/api/*", {"bool": {"should": [{"wildcard": {"message": {"value": "/api/*", "case_insensitive": True}}},
                                    *({"wildcard": {f: {"value": "/api/*"}}} for f in DF[1:] if fields.kind(f) != "ip")],
                         "minimum_should_match": 1}}),
    ("_exists_:user.name", {"exists": {"field": "user.name"}}),
    ("http.response.status_code:[500 TO 599}", {"range": {"http.response.status_code": {"gte": 500, "lt": 599}}}),
    ("http.response.status_code>=500", {"range": {"http.response.status_code": {"gte": 500}}}),
    ("event.risk_score>0.5", {"range": {"event.risk_score": {"gt": 0.5}}}),
    ("user.name:[a TO c]", {"range": {"user.name": {"gte": "a", "lte": "c"}}}),
    ("@timestamp>now-15m", {"range": {"@timestamp": {"gt": "now-15m"}}}),
    ("@timestamp:2024-05-01", {"range": {"@timestamp": {"gte": "2024-05-01", "lte": "2024-05-01"}}}),
    ("a AND NOT b", {"bool": {"filter": [{"multi_match": {"query": "a", "type": "best_fields", "operator": "and", "fields": DF, "lenient": True}}],
                              "must_not": [{"multi_match": {"query": "b", "type": "best_fields", "operator": "and", "fields": DF, "lenient": True}}]}}),
    ("process.name:(sshd OR sudo)", {"bool": {"should": [{"term": {"process.name": "sshd"}}, {"term": {"process.name": "sudo"}}],
                                              "minimum_should_match": 1}}),
    ("NOT tags:test", {"bool": {"must_not": [{"term": {"tags": "test"}}]}}),
])
def test_compile(q, dsl):
    assert to_es.compile(parse(q)) == dsl


def test_design_example():
    q = 'process.name:sshd AND "Failed password" AND NOT source.ip:10.0.0.0/8'
    assert to_es.compile(parse(q)) == {"bool": {
        "filter": [{"term": {"process.name": "sshd"}},
                   {"multi_match": {"query": "Failed password", "type": "phrase", "fields": DF, "lenient": True}}],
        "must_not": [{"term": {"source.ip": "10.0.0.0/8"}}]}}


def test_default_fields_are_the_message_and_common_keywords():
    assert DF[0] == "message" and "process.name" in DF and "host.name" in DF


def test_since_wraps_the_query():
    assert to_es.with_since({"match_all": {}}, 900) == {"bool": {"filter": [
        {"match_all": {}}, {"range": {"@timestamp": {"gte": "now-900s"}}}]}}
    assert to_es.with_since({"match_all": {}}, None) == {"match_all": {}}
