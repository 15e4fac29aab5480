"""Enrichment in a running parser stage: `logwarden broker` + `logwarden worker parsers` with
parsers.geoip (MaxMind files written by the test) and a pipeline of lookup processors; the
lookup table is rewritten while the stage runs and later events carry the new values. Agent
envelopes of access lines still take the fast path, with the geo fields the engine writes."""
from __future__ import annotations

import time

import orjson
import pytest
import yaml
from confluent_kafka import Consumer, Producer

from geodb import write_databases
from lwtest import Proc, free_port, logwarden_cmd, wait_listening

pytestmark = pytest.mark.integration

NGINX = '{ip} - - [26/Nov/2026:10:00:{s:02d} +0000] "GET /i{n}?{s} HTTP/1.1" 200 512 "-" "curl/8.5.0"'


def _envelope(line: str, n: int, path: str, host: str) -> dict:
    return {"@timestamp": "2026-11-26T10:00:00.000Z", "message": line,
            "log": {"file": {"path": path, "inode": "7", "device_id": "2049"}, "offset": n * 200},
            "host": {"name": host}, "agent": {"type": "logwarden", "version": "0.1.0", "id": "t", "name": host},
            "input": {"type": "filestream"}, "fields": {"log_format": "nginx"}}


class Reader:
    """One consumer of logs.ecs for the whole test: documents by event.original."""

    def __init__(self, bootstrap: str):
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.monotonic_ns()}",
                           "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self.c.subscribe(["logs.ecs"])
        self.docs: dict[str, dict] = {}

    def wait(self, originals: set[str], timeout: float = 60) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        while not originals <= self.docs.keys():
            assert time.monotonic() < deadline, f"missing {originals - self.docs.keys()}"
            for m in self.c.consume(500, 0.5):
                if m.error() is None:
                    d = orjson.loads(m.value())
                    self.docs[d["event"]["original"]] = d
        return {o: self.docs[o] for o in originals}


def test_geoip_and_lookup_reload_in_a_running_stage(tmp_path):
    city, asn = write_databases(tmp_path / "geo")
    intel = tmp_path / "intel.csv"
    intel.write_text("indicator,threat.indicator.description\n81.2.69.0/24,first list\n")
    assets = tmp_path / "assets.json"
    assets.write_text(orjson.dumps({"web-*": {"owner": "shop"}}).decode())
    port = free_port()
    cfg = {"data_dir": str(tmp_path / "data"), "broker": {"listen": f"127.0.0.1:{port}", "default_partitions": 1},
           "parsers": {"timezone": "UTC", "batch_size": 50, "geoip": {"databases": [city, asn]},
                       "pipelines": [{"name": "shop", "match": {"path": ["/var/log/shop/*"]}, "processors": [
                           {"type": "lookup", "file": str(intel), "field": "source.ip", "key_column": "indicator",
                            "tag": "threat_intel", "reload_seconds": 0.2},
                           {"type": "lookup", "file": str(assets), "field": "host.name", "target": "host.asset.",
                            "reload_seconds": 0.2}]}]}}
    path = tmp_path / "logwarden.yml"
    path.write_text(yaml.safe_dump(cfg))
    broker = Proc(logwarden_cmd("broker", "-c", str(path)), tmp_path / "broker.log")
    procs = [broker]
    try:
        wait_listening(port, broker)
        bootstrap = f"127.0.0.1:{port}"
        procs.append(Proc(logwarden_cmd("worker", "parsers", "-c", str(path)), tmp_path / "parsers.log"))
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        reader = Reader(bootstrap)
        n = 0

        def send(ip: str, host: str = "web-1", where: str = "/var/log/shop/access.log") -> str:
            nonlocal n
            n += 1
            line = NGINX.format(ip=ip, s=n % 60, n=n)  # unique: documents are read back by event.original
            p.produce("logs.raw", orjson.dumps(_envelope(line, n, where, host)))
            assert p.flush(30) == 0
            return line

        first = send("81.2.69.160")
        private = send("10.0.0.7", host="db-1")
        d = reader.wait({first, private})
        assert d[first]["source"]["geo"]["country_iso_code"] == "GB" and d[first]["source"]["as"]["number"] == 20712
        assert d[first]["threat"]["indicator"]["description"] == "first list" and "threat_intel" in d[first]["tags"]
        assert d[first]["host"]["asset"] == {"owner": "shop"}
        assert d[private]["tags"] == ["_geoip_private"] and "asset" not in d[private]["host"]

        # rewrite both tables while the stage runs; events sent after the change carry the new values
        tmp = tmp_path / "intel.csv.new"
        tmp.write_text("indicator,threat.indicator.description\n81.2.69.160,second list\n1.2.3.0/24,new net\n")
        tmp.replace(intel)  # as an operator's sync job does: never a half-written file
        assets.write_text(orjson.dumps({"web-*": {"owner": "shop"}, "db-?": {"owner": "dba"}}).decode())
        deadline = time.monotonic() + 60
        while True:
            probe = send("81.2.69.160")
            doc = reader.wait({probe})[probe]
            if doc.get("threat", {}).get("indicator", {}).get("description") == "second list":
                break
            assert doc["threat"]["indicator"]["description"] == "first list"  # old or new, never nothing
            assert time.monotonic() < deadline, "the table was not reloaded"
            time.sleep(0.2)
        cn, db = send("1.2.3.4"), send("10.0.0.8", host="db-2")
        d = reader.wait({cn, db})
        assert d[cn]["threat"]["indicator"]["description"] == "new net" and d[cn]["source"]["geo"]["country_name"] == "China"
        assert d[db]["host"]["asset"] == {"owner": "dba"}

        # another file: no pipeline applies, the default geoip step still does
        other = send("2001:4860::1", where="/var/log/nginx/access.log")
        doc = reader.wait({other})[other]
        assert doc["source"]["as"]["organization"]["name"] == "Google LLC" and "threat" not in doc
        reader.c.close()
        for proc in reversed(procs[1:]):
            assert proc.stop() == 0
    finally:
        for proc in reversed(procs):
            if proc.proc.poll() is None:
                proc.proc.kill()
                proc.proc.wait(10)


def test_agent_envelopes_take_the_fast_path_with_geo(tmp_path):
    """The worker's fast path writes the default step's geo for agent envelopes, as the engine does."""
    from logwarden.agents.envelope import EnvelopeTemplate
    from logwarden.agents.splitter import Line
    from logwarden.parsers.config import ParsersConfig
    from logwarden.parsers.engine import Engine

    city, asn = write_databases(tmp_path / "geo")
    port = free_port()
    cfg = {"data_dir": str(tmp_path / "data"), "broker": {"listen": f"127.0.0.1:{port}", "default_partitions": 1},
           "parsers": {"timezone": "UTC", "geoip": {"databases": [city, asn]}}}
    path = tmp_path / "logwarden.yml"
    path.write_text(yaml.safe_dump(cfg))
    broker = Proc(logwarden_cmd("broker", "-c", str(path)), tmp_path / "broker.log")
    procs = [broker]
    try:
        wait_listening(port, broker)
        bootstrap = f"127.0.0.1:{port}"
        worker = Proc(logwarden_cmd("worker", "parsers", "-c", str(path)), tmp_path / "parsers.log")
        procs.append(worker)
        tpl = EnvelopeTemplate(path="/var/log/nginx/access.log", device_id="2049", inode="1", fingerprint="f",
                               host={"name": "web-1"}, agent={"type": "logwarden", "version": "0.1.0", "id": "t", "name": "web-1"},
                               fields={"log_format": "nginx"}, tags=["edge"])
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        envs = []
        for i, ip in enumerate(["81.2.69.160", "10.1.1.1", "2001:4860::5", "9.9.9.9", "1.2.3.4"]):
            line = NGINX.format(ip=ip, s=i, n=i)
            envs.append(tpl.build(Line(i * 200, i * 200 + len(line) + 1, line.encode()), b"2026-11-26T10:00:00.000Z"))
            p.produce("logs.raw", envs[-1])
        assert p.flush(30) == 0
        engine = Engine(ParsersConfig.model_validate(cfg["parsers"]))
        want = {}
        for env in envs:
            doc = engine.parse(orjson.loads(env))
            doc["event"].pop("ingested")
            want[doc["event"]["original"]] = doc
        reader = Reader(bootstrap)
        got = reader.wait(set(want))
        reader.c.close()
        for k, doc in got.items():
            doc["event"].pop("ingested")
            assert doc == want[k]
        assert got[NGINX.format(ip="10.1.1.1", s=1, n=1)]["tags"] == ["edge", "_geoip_private"]
        log = (tmp_path / "parsers.log").read_text()
        assert '"fast_path":"C"' in log or '"fast_path":"Python"' in log, log
        assert "test-city.mmdb" in log  # the stage says which databases it enriches from
        assert worker.stop() == 0
    finally:
        for proc in reversed(procs):
            if proc.proc.poll() is None:
                proc.proc.kill()
                proc.proc.wait(10)
