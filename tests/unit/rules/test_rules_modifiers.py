"""Value matching and every modifier, from the Sigma specification's own examples."""
import base64

import pytest

from logwarden.rules.compiler import ruleset_from_text
from logwarden.rules.engine import Engine


def engine(selection: str, condition: str = "sel", placeholders=None, extra: str = "") -> Engine:
    text = f"""
title: t
id: r1
logsource: {{product: test}}
detection:
  sel:
{selection}
{extra}
  condition: {condition}
"""
    rs = ruleset_from_text(text, placeholders=placeholders)
    assert not rs.errors, [str(e) for e in rs.errors]
    return Engine(rs)


def hit(e: Engine, doc: dict) -> bool:
    return bool(e.match(doc)[1])


def test_plain_value_is_case_insensitive_equality():
    e = engine("    Image: 'C:\\\\Windows\\\\cmd.exe'")
    assert hit(e, {"Image": "c:\\windows\\CMD.EXE"})
    assert not hit(e, {"Image": "c:\\windows\\cmd.exe.bak"})
    assert not hit(e, {"Other": "c:\\windows\\cmd.exe"})


def test_unicode_case_folding():
    e = engine("    User: 'ÄRGER'")
    assert hit(e, {"User": "ärger"})


def test_wildcards_star_and_question_mark():
    e = engine("    f: 'prog?.exe'")
    assert hit(e, {"f": "progA.exe"})
    assert not hit(e, {"f": "prog.exe"})
    assert not hit(e, {"f": "progAB.exe"})
    e = engine("    f: 'antivirus_V*.exe'")
    assert hit(e, {"f": "antivirus_V21.2.1.exe"})
    assert hit(e, {"f": "ANTIVIRUS_V.exe"})
    assert not hit(e, {"f": "antivirus_V1.exe.txt"})


@pytest.mark.parametrize("written,matches,rejects", [
    ("'a\\*b'", "a*b", "axb"),            # escaped wildcard is literal
    ("'a\\?b'", "a?b", "axb"),
    ("'a\\\\*'", "a\\xyz", "axyz"),        # \\* = backslash then wildcard
    ("'a\\\\\\*'", "a\\*", "a\\x"),        # \\\* = backslash and star, both plain
    ("'C:\\Windows'", "c:\\windows", "c:windows"),  # lone backslash is plain
    ("'a\\\\\\\\b'", "a\\\\b", "a\\b"),    # four backslashes = two
])
def test_escaping(written, matches, rejects):
    e = engine(f"    f: {written}")
    assert hit(e, {"f": matches})
    assert not hit(e, {"f": rejects})


def test_list_values_are_or_and_maps_are_and():
    e = engine("    EventLog: Security\n    EventID:\n      - 517\n      - 1102")
    assert hit(e, {"EventLog": "security", "EventID": 1102})
    assert hit(e, {"EventLog": "Security", "EventID": "517"})
    assert not hit(e, {"EventLog": "System", "EventID": 517})
    assert not hit(e, {"EventLog": "Security", "EventID": 4624})


def test_list_of_maps_is_or():
    text = """
title: t
logsource: {product: x}
detection:
  sel:
    - Image|endswith: '\\example.exe'
    - Description|contains: 'Test executable'
  condition: sel
"""
    e = Engine(ruleset_from_text(text))
    assert hit(e, {"Image": "C:\\x\\EXAMPLE.exe"})
    assert hit(e, {"Description": "a test executable!"})
    assert not hit(e, {"Image": "C:\\x\\other.exe", "Description": "nothing"})


def test_contains_startswith_endswith():
    assert hit(engine("    f|contains: 'evil'"), {"f": "some EVIL thing"})
    assert not hit(engine("    f|contains: 'evil'"), {"f": "good"})
    assert hit(engine("    f|startswith: 'adm'"), {"f": "Administrator"})
    assert not hit(engine("    f|startswith: 'adm'"), {"f": "xadm"})
    assert hit(engine("    f|endswith: '\\cmd.exe'"), {"f": "C:\\Windows\\System32\\cmd.exe"})
    assert not hit(engine("    f|endswith: '\\cmd.exe'"), {"f": "C:\\Windows\\System32\\xcmd.exe"})
    # a wildcard inside a contains value keeps working
    assert hit(engine("    f|contains: 'a*c'"), {"f": "xxabbbcxx"})


def test_all_links_values_with_and():
    e = engine("    CommandLine|contains|all:\n      - ' -ExternalUrl '\n      - 'OabVirtualDirectory'")
    assert hit(e, {"CommandLine": "Set-OabVirtualDirectory -ExternalUrl x"})
    assert not hit(e, {"CommandLine": "Set-OabVirtualDirectory"})


def test_keywords_and_keyword_all():
    text = """
title: t
logsource: {product: x}
detection:
  keywords:
    - 'event::clear'
    - 'event::drop'
  kw_all:
    '|all':
      - 'OabVirtualDirectory'
      - ' -ExternalUrl '
  condition: keywords or kw_all
"""
    e = Engine(ruleset_from_text(text))
    assert hit(e, {"message": "mimikatz # EVENT::Clear now"})
    assert hit(e, {"message": "x OabVirtualDirectory -ExternalUrl y"})
    assert not hit(e, {"message": "x OabVirtualDirectory y"})
    assert not hit(e, {"other": "event::clear"})


def test_null_empty_and_exists():
    e = engine("    EventID: 4738\n  filt:\n    PasswordLastSet: null", "sel and not filt")
    assert hit(e, {"EventID": 4738, "PasswordLastSet": "2020"})
    assert not hit(e, {"EventID": 4738})
    assert not hit(e, {"EventID": 4738, "PasswordLastSet": None})
    e = engine("    f: ''")
    assert hit(e, {"f": ""})
    assert not hit(e, {"f": "x"})
    assert not hit(e, {})
    e = engine("    f|exists: true")
    assert hit(e, {"f": None}) and hit(e, {"f": ""}) and not hit(e, {"g": 1})
    e = engine("    f|exists: false")
    assert hit(e, {"g": 1}) and not hit(e, {"f": "x"})


def test_nested_fields_and_lists():
    e = engine("    event.category: authentication\n    source.ip: 203.0.113.5")
    assert hit(e, {"event": {"category": ["network", "authentication"]}, "source": {"ip": "203.0.113.5"}})
    assert not hit(e, {"event": {"category": ["network"]}, "source": {"ip": "203.0.113.5"}})
    assert hit(e, {"event.category": "authentication", "source.ip": "203.0.113.5"})


def test_numbers_and_booleans():
    e = engine("    port: 443")
    assert hit(e, {"port": 443}) and hit(e, {"port": "443"}) and hit(e, {"port": 443.0})
    assert not hit(e, {"port": 4430})
    e = engine("    flag: true")
    assert hit(e, {"flag": True}) and hit(e, {"flag": "TRUE"}) and not hit(e, {"flag": False})


def test_re_and_sub_modifiers():
    e = engine("    f|re: 'ab+c$'")
    assert hit(e, {"f": "xxabbbc"})
    assert not hit(e, {"f": "xxABBBC"})        # case-sensitive by default
    assert hit(engine("    f|re|i: 'ab+c$'"), {"f": "xxABBBC"})
    assert not hit(e, {"f": "abc\nx"})
    assert hit(engine("    f|re|m: 'ab+c$'"), {"f": "abc\nx"})
    assert not hit(engine("    f|re: 'a.c'"), {"f": "a\nc"})
    assert hit(engine("    f|re|s: 'a.c'"), {"f": "a\nc"})


def test_re_that_re2_cannot_run_is_refused_with_the_reason_and_other_rules_still_load():
    """issue 18: every regex from a user runs on RE2 or is refused. A back-reference or a
    look-around used to fall back to the backtracking stdlib engine (this test asserted
    that), where `(a+)+$`-style patterns with back-references can stall the stage."""
    text = """title: bad
id: r1
logsource: {product: test}
detection:
  sel:
    f|re: '(\\w)\\1'
  condition: sel
---
title: good
id: r2
logsource: {product: test}
detection:
  sel:
    f|re: 'ab+c'
  condition: sel
"""
    rs = ruleset_from_text(text)
    assert len(rs.errors) == 1, [str(e) for e in rs.errors]
    msg = str(rs.errors[0])
    assert "is refused" in msg and "RE2" in msg and repr(r"(\w)\1") in msg
    assert hit(Engine(rs), {"f": "xabbc"})
    for pattern in ("(?=a)b", "(?<!x)y"):
        rs = ruleset_from_text(text.replace("(\\w)\\1", pattern))
        assert len(rs.errors) == 1 and "look-around" in str(rs.errors[0])


def test_cased():
    e = engine("    f|cased: 'CamelCase'")
    assert hit(e, {"f": "CamelCase"})
    assert not hit(e, {"f": "camelcase"})
    e = engine("    f|contains|cased: 'Evil'")
    assert hit(e, {"f": "xEvilx"}) and not hit(e, {"f": "xevilx"})


def test_cidr():
    e = engine("    ip|cidr:\n      - 10.0.0.0/8\n      - '2001:db8::/32'")
    assert hit(e, {"ip": "10.1.2.3"})
    assert hit(e, {"ip": "2001:db8::1"})
    assert not hit(e, {"ip": "11.0.0.1"})
    assert not hit(e, {"ip": "not an ip"})


def test_numeric_comparisons():
    assert hit(engine("    n|gt: 10"), {"n": 11}) and not hit(engine("    n|gt: 10"), {"n": 10})
    assert hit(engine("    n|gte: 10"), {"n": "10"})
    assert hit(engine("    n|lt: 10"), {"n": 9.5}) and not hit(engine("    n|lt: 10"), {"n": "abc"})
    assert hit(engine("    n|lte: 10"), {"n": 10}) and not hit(engine("    n|lte: 10"), {"n": 11})


def test_neq_negates_the_item():
    e = engine("    f|neq:\n      - a\n      - b")
    assert hit(e, {"f": "c"})
    assert not hit(e, {"f": "A"})
    assert not hit(e, {"f": "b"})


def test_fieldref():
    e = engine("    a|fieldref: b")
    assert hit(e, {"a": "Same", "b": "same"})
    assert not hit(e, {"a": "x", "b": "y"})
    assert not hit(e, {"a": "x"})
    e = engine("    a|fieldref|neq: b")
    assert hit(e, {"a": "x", "b": "y"})
    e = engine("    a|fieldref|startswith: b")
    assert hit(e, {"a": "prefix-rest", "b": "prefix"})


def test_base64_and_base64offset():
    e = engine("    f|base64: 'http://'")
    assert hit(e, {"f": base64.b64encode(b"http://").decode()})
    e = engine("    f|base64offset|contains: 'http://'")
    for pad in (b"", b"a", b"ab", b"abc"):
        encoded = base64.b64encode(pad + b"http://evil" ).decode()
        assert hit(e, {"f": "x " + encoded + " y"}), pad
    assert not hit(e, {"f": base64.b64encode(b"ftp://x").decode()})


def test_utf16_and_wide_with_base64():
    target = "ping"
    for mod, enc in (("utf16le", "utf-16-le"), ("wide", "utf-16-le"), ("utf16be", "utf-16-be")):
        e = engine(f"    f|{mod}|base64offset|contains: '{target}'")
        payload = ("xx " + target + " yy").encode(enc)
        assert hit(e, {"f": base64.b64encode(payload).decode()}), mod
    e = engine(f"    f|utf16|base64: '{target}'")
    assert hit(e, {"f": base64.b64encode(b"\xff\xfe" + target.encode("utf-16-le")).decode()})


def test_windash():
    e = engine("    CommandLine|windash|contains: ' -exec '")
    for dash in ("-", "/", "\u2013", "\u2014", "\u2015"):
        assert hit(e, {"CommandLine": f"psexec {dash}exec x"}), dash
    assert not hit(e, {"CommandLine": "psexec +exec x"})


def test_expand_placeholders():
    e = engine("    User|expand: '%Administrators%'", placeholders={"Administrators": ["root", "adm*"]})
    assert hit(e, {"User": "root"}) and hit(e, {"User": "admin"}) and not hit(e, {"User": "bob"})
    rs = ruleset_from_text("title: t\nlogsource: {}\ndetection:\n  sel:\n    User|expand: '%Nope%'\n  condition: sel\n")
    assert rs.errors and "placeholder %Nope%" in rs.errors[0].reason
    e = engine("    f|expand: '\\%plain%x%'", placeholders={"x": ["1"]})
    assert hit(e, {"f": "%plain1"})


def test_time_part_modifiers():
    e = engine("    '@timestamp|hour|gte': 22")
    assert hit(e, {"@timestamp": "2026-11-26T23:10:00Z"})
    assert not hit(e, {"@timestamp": "2026-11-26T10:10:00Z"})
    e = engine("    '@timestamp|month': 11")
    assert hit(e, {"@timestamp": "2026-11-26T23:10:00Z"})


@pytest.mark.parametrize("item,reason", [
    ("f|nosuch: x", "unknown modifier 'nosuch'"),
    ("f|i: x", "sub-modifier of 're'"),
    ("f|base64: 'a*'", "wildcards is not allowed"),
    ("f|gt: abc", "comparison needs a number"),
    ("f|cidr: 300.1.1.1/8", "not a network"),
    ("f|exists: maybe", "exactly one true/false"),
])
def test_modifier_misuse_is_reported(item, reason):
    rs = ruleset_from_text(f"title: t\nlogsource: {{}}\ndetection:\n  sel:\n    {item}\n  condition: sel\n", source="bad.yml")
    assert not rs.rules
    assert len(rs.errors) == 1
    err = rs.errors[0]
    assert err.file == "bad.yml" and err.line == 5 and reason in err.reason, str(err)


def test_lists_of_objects_and_partly_dotted_documents():
    e = engine("    dns.answers.data: evil.example")
    assert hit(e, {"dns": {"answers": [{"data": "good.example"}, {"data": "EVIL.example"}]}})
    assert not hit(e, {"dns": {"answers": [{"data": "good.example"}]}})
    assert hit(e, {"dns.answers.data": "evil.example"})
    assert hit(e, {"dns": {"answers.data": ["x", "evil.example"]}})


def test_unquoted_yaml_dates_and_timestamps_match_as_written():
    e = engine("    d: 2023-01-01\n    t|startswith: 2023-01-01")
    assert hit(e, {"d": "2023-01-01", "t": "2023-01-01T10:00:00Z"})
    assert not hit(e, {"d": "2023-01-02", "t": "2023-01-01T10:00:00Z"})
