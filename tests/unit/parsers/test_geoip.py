"""GeoIP/ASN enrichment: the geoip processor and parsers.geoip's default step, over MaxMind
databases written by the tests (tests/geodb.py) with known IPv4 and IPv6 ranges."""
import ipaddress
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwarden.config import ConfigError, validate
from logwarden.parsers.config import ParsersConfig
from logwarden.parsers.engine import Engine
from logwarden.parsers.geoip import SKIPPED, GeoDatabases, not_routable
from logwarden.rules.compiler import ruleset_from_text
from logwarden.rules.engine import Engine as RulesEngine

from geodb import write_databases
from parsers_testlib import NOW, envelope

LONDON = {"country_iso_code": "GB", "country_name": "United Kingdom", "continent_name": "Europe", "region_name": "England",
          "region_iso_code": "GB-ENG", "city_name": "London", "location": {"lat": 51.5142, "lon": -0.0931},
          "timezone": "Europe/London"}
AAISP = {"number": 20712, "organization": {"name": "Andrews & Arnold Ltd"}}
GOOGLE = {"number": 15169, "organization": {"name": "Google LLC"}}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return list(write_databases(tmp_path_factory.mktemp("geo")))


def access(ip: str, offset: int = 100) -> dict:
    return envelope(f'{ip} - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "curl"', fields={"log_format": "nginx"},
                    log={"file": {"path": "/var/log/nginx/access.log"}, "offset": offset})  # the offset makes event.id


def engine(files, **geoip) -> Engine:
    return Engine(ParsersConfig.model_validate({"timezone": "UTC", "geoip": {"databases": files, **geoip}}), now=NOW)


def test_lookup_field_by_field(files):
    geo = GeoDatabases(files)
    assert geo.lookup("81.2.69.160") == (LONDON, AAISP)
    assert geo.lookup("8.8.8.8") == (None, GOOGLE)  # ASN database only
    g, a = geo.lookup("2001:4860:4860::8888")  # IPv6: a country-level record, no city or region
    assert g == {"country_iso_code": "US", "country_name": "United States", "continent_name": "North America",
                 "location": {"lat": 37.751, "lon": -97.822}, "timezone": "Europe/London"} and a == GOOGLE
    assert geo.lookup("::ffff:81.2.69.1") == (LONDON, AAISP)  # IPv4-mapped: the IPv4 tree
    s, _ = geo.lookup("89.160.20.128")
    assert s["region_name"] == "Östergötland County" and s["city_name"] == "Linköping"
    assert geo.lookup("9.9.9.9") is None  # in no database
    assert geo.lookup("not-an-ip") is None and geo.lookup("") is None


@pytest.mark.parametrize("ip", ["10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "169.254.1.1", "100.64.0.1",
                                "192.0.2.1", "198.51.100.7", "203.0.113.9", "224.0.0.1", "0.0.0.0", "255.255.255.255",
                                "::1", "fe80::1", "fd00::1", "2001:db8::1", "ff02::1", "::", "::ffff:10.0.0.1", "198.18.0.1"])
def test_non_routable_addresses_are_skipped(files, ip):
    assert GeoDatabases(files).lookup(ip) is SKIPPED


def test_default_step_on_source_destination_client(files):
    e = engine(files)
    doc = e.parse(access("81.2.69.160"))
    assert doc["source"] == {"address": "81.2.69.160", "ip": "81.2.69.160", "geo": LONDON, "as": AAISP}
    assert "tags" not in doc
    doc = e.parse(envelope('{"source":{"ip":"1.2.3.4"},"destination":{"ip":"2001:4860::1"},"client":{"ip":"8.8.8.4"}}',
                           fields={"log_format": "json"}))
    assert doc["source"]["geo"]["country_iso_code"] == "CN" and "as" not in doc["source"]
    assert doc["destination"]["geo"]["country_iso_code"] == "US" and doc["destination"]["as"] == GOOGLE
    assert doc["client"] == {"ip": "8.8.8.4", "as": GOOGLE}
    doc = e.parse(envelope('{"source.ip":"81.2.69.9"}', fields={"log_format": "json"}))  # a flat dotted key
    assert doc["source"] == {"geo": LONDON, "as": AAISP}


def test_private_tagged_not_looked_up(files):
    doc = engine(files).parse(access("192.168.1.10"))
    assert doc["tags"] == ["_geoip_private"] and "geo" not in doc["source"]
    doc = engine(files, private_tag=None).parse(access("10.0.0.1"))
    assert "tags" not in doc and "geo" not in doc["source"]
    doc = engine(files).parse(access("9.9.9.9"))  # public, in no database: nothing, no tag (as Elasticsearch's)
    assert "tags" not in doc and "geo" not in doc["source"]


def test_existing_geo_kept_and_default_step_off(files):
    doc = engine(files).parse(envelope('{"source":{"ip":"81.2.69.1","geo":{"country_iso_code":"FR"}}}', fields={"log_format": "json"}))
    assert doc["source"]["geo"] == {"country_iso_code": "FR"}
    assert "geo" not in engine(files, default_step=False).parse(access("81.2.69.160"))["source"]
    assert "geo" not in Engine(ParsersConfig(timezone="UTC")).parse(access("81.2.69.160"))["source"]  # no database: off


def test_geoip_processor_in_a_pipeline(files):
    e = Engine(ParsersConfig.model_validate({"timezone": "UTC", "pipelines": [{
        "name": "fw", "format": "json", "processors": [
            {"type": "geoip", "field": "fw.src", "target_field": "source", "databases": files},
            {"type": "geoip", "field": "fw.dst", "target_field": "destination", "databases": [files[1]]},
            {"type": "geoip", "field": "fw.nat", "databases": files, "private_tag": "internal",
             "when": {"equals": {"fw.kind": "nat"}}}]}]}), now=NOW)
    doc, trace = e.explain(envelope('{"fw":{"src":"81.2.69.160","dst":"2001:4860::8","nat":"10.0.0.1","kind":"nat"}}'))
    assert doc["source"] == {"geo": LONDON, "as": AAISP}
    assert doc["destination"] == {"as": GOOGLE}  # only the ASN file given
    assert doc["tags"] == ["internal"] and "geo" not in doc["fw"]
    assert ("source.geo.country_iso_code", "pipeline fw processors[0] geoip") in trace
    # the processor copies the cached answer: a later processor editing one event's geo edits no other
    doc["source"]["geo"]["location"]["lat"] = 0
    again = e.parse(envelope('{"fw":{"src":"81.2.69.160"}}'))
    assert again["source"]["geo"]["location"]["lat"] == 51.5142


def test_config_errors_say_what(files, tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        validate({"parsers": {"geoip": {"databases": [str(tmp_path / "missing.mmdb")]}}})
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(ConfigError, match="MaxMind"):
        validate({"parsers": {"geoip": {"databases": [str(junk)]}}})
    with pytest.raises(ConfigError, match="no databases"):
        validate({"parsers": {"pipelines": [{"name": "p", "processors": [{"type": "geoip"}]}]}})


def test_sigma_rule_matches_an_enriched_field(files):
    """The rules stage reads the ECS event the parsers wrote, enrichment included."""
    rs = ruleset_from_text("""
title: Login from a watched country
id: 5a4e1f2c-0000-4000-8000-000000000022
logsource: {category: webserver}
detection:
  sel: {source.geo.country_iso_code: CN, source.as.number|exists: false}
  condition: sel
level: high
""", mapping="ecs")
    assert not rs.errors, [str(e) for e in rs.errors]
    rules = RulesEngine(rs)
    e = engine(files)
    assert rules.match(e.parse(access("1.2.3.4")))[1]
    assert not rules.match(e.parse(access("81.2.69.160")))[1]
    assert not rules.match(e.parse(access("10.0.0.1")))[1]


_ODD_IPS = st.one_of(
    st.ip_addresses().map(str), st.ip_addresses(v=6).map(lambda ip: ip.exploded),
    st.text(max_size=70), st.sampled_from(["1.2.3.4/24", "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3", "01.2.3.4", " 1.2.3.4",
                                           "1.2.3.4\n", "[::1]", "x" * 100, "１.２.３.４"]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ip=st.one_of(_ODD_IPS, st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2), st.floats()))
def test_never_raises_on_odd_addresses(files, ip):
    e = engine(files)
    doc = e.parse(envelope("{}", fields={"log_format": "json"}))
    for value in (ip, {"ip": ip}):
        doc = {"source": {"ip": value}, "client": value, "destination": {"ip": ip}}
        for step in e.enrich:
            step(doc)
    if isinstance(ip, str):
        ans = GeoDatabases(files).lookup(ip)
        assert ans is None or ans is SKIPPED or isinstance(ans, tuple)
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return
        mapped = getattr(addr, "ipv4_mapped", None)
        assert (ans is SKIPPED) == not_routable(mapped or addr)


def test_search_filters_on_enriched_fields(files, tmp_path):
    """The embedded index keeps every keyword/number leaf under its ECS path (sinks/tantivy_schema.py),
    so the geo and as fields are searchable as they are: no schema change."""
    from logwarden.sinks.embedded import IndexReader, IndexWriter

    e = engine(files)
    w = IndexWriter(tmp_path / "events", heap_bytes=16_000_000)
    for i, ip in enumerate(("1.2.3.4", "1.2.3.5", "81.2.69.160", "2001:4860::1", "10.0.0.1")):
        w.add(e.parse(access(ip, i * 100)))
    assert w.commit() == 5
    w.close()
    r = IndexReader(tmp_path / "events")

    def hits(q: str) -> set[str]:
        return {h["source"]["ip"] for h in r.search(q, limit=100)["hits"]}
    assert hits("source.geo.country_iso_code:CN") == {"1.2.3.4", "1.2.3.5"}
    assert hits("NOT source.geo.country_iso_code:CN AND _exists_:source.geo") == {"81.2.69.160", "2001:4860::1"}
    assert hits('source.as.organization.name:"Google LLC"') == {"2001:4860::1"}
    assert hits("source.as.number:>20000") == {"81.2.69.160"}
    assert hits('source.geo.city_name:"London"') == {"81.2.69.160"}
    assert hits("tags:_geoip_private") == {"10.0.0.1"}


def test_databases_reopened_when_replaced(tmp_path):
    from geodb import CITY, city

    cp, ap = write_databases(tmp_path / "a")
    geo = GeoDatabases([cp, ap], reload_seconds=60)
    assert geo.lookup("81.2.69.160")[0]["country_iso_code"] == "GB"
    assert geo.maybe_reload() is False  # not yet time to look
    new_city, _ = write_databases(tmp_path / "b", {**CITY, "81.2.69.0/24": city("FR", "France", None, None, None, 48.86, 2.35)})
    os.replace(new_city, cp)  # as geoipupdate does: a new file renamed over the old
    assert geo.maybe_reload(now=time.monotonic() + 61) is True and geo.generation == 1
    assert geo.lookup("81.2.69.160")[0]["country_iso_code"] == "FR"  # the LRU was dropped
    (tmp_path / "junk").write_bytes(b"junk" * 100)
    os.replace(tmp_path / "junk", cp)  # a broken file: keep the readers that work
    assert geo.maybe_reload(now=time.monotonic() + 200) is False
    geo.lookup.cache_clear()
    assert geo.lookup("81.2.69.160")[0]["country_iso_code"] == "FR"


def test_stage_picks_up_a_replaced_database(tmp_path):
    """A running stage (its fast path and its engine) answers from the new file after reload_seconds."""
    from confluent_kafka import Message

    from geodb import CITY, city
    from logwarden.agents.envelope import EnvelopeTemplate
    from logwarden.agents.splitter import Line
    from logwarden.config import Config
    from logwarden.parsers.service import ParserStage

    import orjson

    cp, ap = write_databases(tmp_path / "a")
    stage = ParserStage(Config.model_validate({"parsers": {"timezone": "UTC", "geoip": {"databases": [cp, ap], "reload_seconds": 1}}}))
    assert stage.fast is not None
    tpl = EnvelopeTemplate(path="/var/log/nginx/access.log", device_id="1", inode="2", fingerprint="f", host={"name": "w"},
                           agent={"type": "logwarden", "version": "0.1.0", "id": "a", "name": "w"}, fields={"log_format": "nginx"})
    line = b'81.2.69.160 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "curl"'
    fast_msg = Message(topic="logs.raw", partition=0, offset=0, key=None, value=tpl.build(Line(0, len(line) + 1, line), b"2026-11-26T10:00:00.000Z"))
    slow_msg = Message(topic="logs.raw", partition=0, offset=1, key=None, value=orjson.dumps(access("81.2.69.160")))

    def countries() -> list[str]:
        return [orjson.loads(o.value)["source"]["geo"]["country_iso_code"] for o in stage.process([fast_msg, slow_msg])]
    assert countries() == ["GB", "GB"]
    new_city, _ = write_databases(tmp_path / "b", {**CITY, "81.2.69.0/24": city("FR", "France", None, None, None, 48.86, 2.35)})
    os.replace(new_city, cp)
    deadline = time.monotonic() + 30
    while (got := countries()) != ["FR", "FR"]:
        assert got in (["GB", "GB"], ["FR", "FR"]) and time.monotonic() < deadline, got
        time.sleep(0.2)
