"""Lookup tables (parsers/lookup.py) and the `lookup` processor: CSV, JSON and JSONL files with
exact, CIDR and wildcard keys; reload on change; a broken file keeps the previous table."""
import os

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwarden.config import ConfigError, validate
from logwarden.parsers.config import ParsersConfig
from logwarden.parsers.engine import Engine
from logwarden.parsers.lookup import LookupTable

from parsers_testlib import NOW, envelope

INTEL_CSV = """indicator,threat.indicator.type,threat.indicator.provider,threat.indicator.description
198.51.100.23,ipv4-addr,blocklist,single address
198.51.100.0/24,ipv4-addr,blocklist,documentation net
198.51.0.0/16,ipv4-addr,wide,wider net
2001:db8:bad::/48,ipv6-addr,blocklist,v6 net
10.9.*,ipv4-addr,wild,wildcard text
"""
ASSETS = {
    "web-1": {"owner": "shop", "criticality": "high", "tags": ["pci"]},
    "db-*": {"owner": "dba", "criticality": "high"},
    "*.lab.example": {"owner": "lab", "criticality": "low"},
    "db-7": {"owner": "analytics", "criticality": "medium"},
}


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def write(path, text: str | bytes, bump: int = 0) -> None:
    """Write and move the mtime on by `bump` seconds (a same-second rewrite still differs in size or mtime_ns)."""
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_exact_cidr_and_wildcard_keys(tmp_path):
    p = tmp_path / "intel.csv"
    write(p, INTEL_CSV)
    t = LookupTable(str(p), "indicator")
    assert t.get("198.51.100.23")["threat.indicator.description"] == "single address"  # exact beats CIDR
    assert t.get("198.51.100.99")["threat.indicator.description"] == "documentation net"  # longest prefix
    assert t.get("198.51.7.1")["threat.indicator.provider"] == "wide"
    assert t.get("2001:db8:bad:1::5")["threat.indicator.type"] == "ipv6-addr"
    assert t.get("10.9.1.1")["threat.indicator.provider"] == "wild"
    assert t.get("203.0.113.1") is None and t.get("not an ip") is None and t.get(None) is None and t.get(["x"]) is None


def test_json_object_list_and_jsonl(tmp_path):
    obj = tmp_path / "assets.json"
    write(obj, orjson.dumps(ASSETS))
    t = LookupTable(str(obj))
    assert t.get("web-1") == {"owner": "shop", "criticality": "high", "tags": ["pci"]}
    assert t.get("db-7")["owner"] == "analytics"  # exact beats the wildcard listed before it
    assert t.get("db-3")["owner"] == "dba" and t.get("x.lab.example")["owner"] == "lab"
    assert t.get("WEB-1") is None
    assert LookupTable(str(obj), case_sensitive=False).get("WEB-1")["owner"] == "shop"
    lst = tmp_path / "users.json"
    write(lst, orjson.dumps([{"user": "alice", "department": "finance"}, {"user": "bob", "department": "it"}]))
    assert LookupTable(str(lst), "user").get("bob") == {"department": "it"}
    jl = tmp_path / "users.jsonl"
    write(jl, b'{"user": "alice", "department": "finance"}\n\n{"user": 42, "department": "ops"}\n')
    t = LookupTable(str(jl), "user")
    assert t.get("alice") == {"department": "finance"} and t.get(42) == {"department": "ops"}


def test_reload_on_change_and_broken_file_keeps_table(tmp_path):
    p = tmp_path / "users.csv"
    write(p, "user,department\nalice,finance\n")
    clock = Clock()
    t = LookupTable(str(p), "user", reload_seconds=1.0, clock=clock)
    assert t.get("alice") == {"department": "finance"}
    write(p, "user,department\nalice,security\nbob,it\n", bump=1)
    assert t.get("alice") == {"department": "finance"}  # not checked again before reload_seconds
    clock.t = 1.5
    assert t.get("alice") == {"department": "security"} and t.get("bob") == {"department": "it"} and t.reloads == 1
    write(p, "dept\nbroken\n", bump=2)  # no key column: keep the last good table
    clock.t = 3
    assert t.get("bob") == {"department": "it"} and t.reloads == 1
    p.unlink()  # gone (a rename-over in progress): keep it too
    clock.t = 5
    assert t.get("bob") == {"department": "it"}
    write(p, "user,department\ncarol,hr\n", bump=3)
    clock.t = 7
    assert t.get("carol") == {"department": "hr"} and t.get("bob") is None and t.reloads == 2


def test_bad_tables_fail_the_config(tmp_path):
    def check(name: str, text: str, match: str, key: str = "key") -> None:
        p = tmp_path / name
        write(p, text)
        with pytest.raises(ConfigError, match=match):
            validate({"parsers": {"pipelines": [{"name": "p", "processors": [
                {"type": "lookup", "file": str(p), "field": "host.name", "key_column": key}]}]}})
    check("a.csv", "name,x\nweb,1\n", "no 'key' column")
    check("a.json", "[1, 2]", "record 1 has no 'key'")
    check("a.txt", "key\nx\n", "csv, .json or .jsonl")
    with pytest.raises(ConfigError, match="cannot read"):
        validate({"parsers": {"pipelines": [{"name": "p", "processors": [
            {"type": "lookup", "file": str(tmp_path / "none.csv"), "field": "host.name"}]}]}})


def test_lookup_processor_enriches_and_tags(tmp_path):
    intel, assets = tmp_path / "intel.csv", tmp_path / "assets.json"
    write(intel, INTEL_CSV)
    write(assets, orjson.dumps(ASSETS))
    e = Engine(ParsersConfig.model_validate({"timezone": "UTC", "pipelines": [{"name": "all", "processors": [
        {"type": "lookup", "file": str(intel), "field": "source.ip", "key_column": "indicator", "tag": "threat_intel"},
        {"type": "lookup", "file": str(assets), "field": "host.name", "target": "host.asset.", "override": False},
    ]}]}), now=NOW)
    line = '198.51.100.23 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "curl"'
    doc = e.parse(envelope(line, fields={"log_format": "nginx"}, host={"name": "db-3", "asset": {"owner": "kept"}}))
    assert doc["threat"]["indicator"] == {"type": "ipv4-addr", "provider": "blocklist", "description": "single address"}
    assert doc["tags"] == ["threat_intel"]
    assert doc["host"]["asset"] == {"owner": "kept", "criticality": "high"}  # override: false
    doc = e.parse(envelope(line.replace("198.51.100.23", "192.0.2.1"), fields={"log_format": "nginx"}, host={"name": "web-1"}))
    assert "threat" not in doc and "tags" not in doc
    doc["host"]["asset"]["tags"].append("edited")  # nested values are copies, the table is untouched
    again = e.parse(envelope(line, fields={"log_format": "nginx"}, host={"name": "web-1"}))
    assert again["host"]["asset"]["tags"] == ["pci"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.text(max_size=40), st.ip_addresses().map(str), st.integers(), st.floats(), st.booleans(), st.none(),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)))
def test_never_raises_on_odd_values(tmp_path, value):
    p = tmp_path / "intel.csv"
    if not p.exists():
        write(p, INTEL_CSV + "[x-,bad,wild,unbalanced\n")
    rec = LookupTable(str(p), "indicator").get(value)
    assert rec is None or isinstance(rec, dict)
