"""Sigma filters (meta filters) and field mapping pipelines, bundled and custom."""
import pytest

from logwarden.rules.ruleset import load
from logwarden.rules.compiler import ruleset_from_text
from logwarden.rules.engine import Engine
from logwarden.rules.mapping import PipelineError, load as load_pipeline

RULES = """title: Compressed with rar
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
name: rar_compress
logsource: {category: process_creation, product: windows}
detection:
  sel: {Image|endswith: '\\\\rar.exe'}
  condition: sel
---
title: Other rule
id: df0841c0-9846-4e9f-ad8a-7df91571771b
logsource: {category: process_creation, product: windows}
detection:
  sel: {Image|endswith: '\\\\7z.exe'}
  condition: sel
"""

FILTER = """---
title: Filter Administrator account
description: The valid administrator account start with adm_
logsource: {category: process_creation, product: windows}
filter:
  rules:
    - 6f3e2987-db24-4c78-a860-b4f4095a7095
    - %s
  selection:
    User|startswith: 'adm_'
  condition: selection
"""


def test_filter_applies_to_named_rules_by_id_and_name():
    rs = ruleset_from_text(RULES + FILTER % "df0841c0-9846-4e9f-ad8a-7df91571771b", mapping="none")
    assert not rs.errors and rs.filters_applied == 2
    e = Engine(rs)
    assert e.match({"Image": "C:\\x\\rar.exe", "User": "bob"})[1]
    assert not e.match({"Image": "C:\\x\\rar.exe", "User": "adm_bob"})[1]
    assert not e.match({"Image": "C:\\x\\7z.exe", "User": "ADM_x"})[1]
    rs = ruleset_from_text(RULES + FILTER.replace("- 6f3e2987-db24-4c78-a860-b4f4095a7095\n", "") % "rar_compress", mapping="none")
    assert rs.filters_applied == 1
    assert not Engine(rs).match({"Image": "C:\\x\\rar.exe", "User": "adm_1"})[1]


def test_filter_errors_are_reported():
    rs = ruleset_from_text(RULES + FILTER % "no-such-rule", mapping="none", source="f.yml")
    assert rs.filters_applied == 1
    (err,) = rs.errors
    assert "filter names rule 'no-such-rule', which is not loaded" in err.reason and err.file == "f.yml"
    other_ls = (FILTER % "rar_compress").replace("product: windows}", "product: linux}")
    rs = ruleset_from_text(RULES + other_ls, mapping="none")
    assert rs.filters_applied == 0 and all("does not fit" in e.reason for e in rs.errors)


def test_ecs_pipeline_maps_windows_and_web_fields():
    rs = ruleset_from_text(RULES, mapping="ecs")
    e = Engine(rs)
    ev = {"event": {"category": ["process"], "type": ["start"]}, "process": {"executable": "C:\\x\\rar.exe"}}
    assert [r.doc.id for r in e.match(ev)[1]] == ["6f3e2987-db24-4c78-a860-b4f4095a7095"]
    ev["event"]["category"] = ["network"]       # the logsource condition no longer holds
    assert not e.match(ev)[1]
    win = ruleset_from_text("title: w\nlogsource: {product: windows, service: security}\n"
                            "detection: {sel: {EventID: 4625, SubjectUserSid: S-1-0-0}, condition: sel}\n", mapping="ecs")
    ev = {"winlog": {"channel": "Security", "event_id": 4625, "event_data": {"SubjectUserSid": "S-1-0-0"}}}
    assert Engine(win).match(ev)[1]
    web = ruleset_from_text("title: w\nlogsource: {category: webserver}\n"
                            "detection: {sel: {cs-uri-query|contains: '/../', sc-status: 200}, condition: sel}\n", mapping="ecs")
    ev = {"event": {"category": ["web"]}, "url": {"original": "/a/../../etc/passwd"}, "http": {"response": {"status_code": 200}}}
    assert Engine(web).match(ev)[1]


def test_custom_pipeline_file(tmp_path):
    p = tmp_path / "mine.yml"
    p.write_text("name: mine\nkeyword_fields: [log.line]\nfields: {Image: exe}\n"
                 "logsources:\n  - match: {product: linux}\n    conditions: {os: linux}\n    fields: {CommandLine: [cmd, args]}\n")
    rs = ruleset_from_text("title: t\nlogsource: {product: linux}\ndetection:\n  sel: {Image: /bin/sh, CommandLine|contains: evil}\n"
                           "  kw: [needle]\n  condition: sel or kw\n", mapping=str(p))
    e = Engine(rs)
    assert e.match({"os": "linux", "exe": "/bin/sh", "args": "an evil one"})[1]
    assert not e.match({"os": "bsd", "exe": "/bin/sh", "args": "an evil one"})[1]
    assert e.match({"os": "linux", "log": {"line": "a NEEDLE here"}})[1]
    bad = tmp_path / "bad.yml"
    bad.write_text("name: bad\nfieldz: {}\n")
    with pytest.raises(PipelineError, match="bad.yml: invalid mapping pipeline"):
        load_pipeline(str(bad))
    with pytest.raises(PipelineError, match="no such pipeline"):
        load([], "nope")
