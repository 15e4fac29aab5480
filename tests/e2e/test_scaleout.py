"""The scaled-out form: every stage its own process, in its consumer group, against a real
Apache Kafka 4.4 (tests/engines) and, held to the same behaviour, the built-in broker.

`broker.embedded: false` with `kafka.bootstrap_servers` (Kafka) or a `logwarden broker`
process of its own (built-in); two `worker parsers`, two `worker index`, one `worker rules`
and the agent, as separate machines would run them. The index is a real OpenSearch node:
the embedded index takes exactly one writer per data dir (tantivy's lock), so sharing the
index among index workers is what the design gives Elasticsearch/OpenSearch for. Mid-stream
one parser and one index worker are SIGKILLed; the survivors take their partitions over
after the rebalance, and every line is indexed exactly once and the brute force alerted on.
"""
from __future__ import annotations

import time

import httpx
import orjson
import pytest
import yaml
from confluent_kafka.admin import AdminClient
from opensearchpy import OpenSearch
from opensearchpy.helpers import scan

from lwtest import Proc, free_port, logwarden_cmd, wait_listening, wait_until

pytestmark = [pytest.mark.e2e]

LINES = 12_000
CHUNKS = 40
NGINX = '198.51.100.{h} - - [26/Nov/2026:10:{m:02d}:{s:02d} +0000] "GET /item/{i} HTTP/1.1" 200 {b} "-" "curl/8.5.0"'
SSHD_FAIL = "Nov 26 10:01:{s:02d} web-1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port {port} ssh2"
FILES = 4   # the agent spreads its batches over logs.raw's partitions either way; files make it so from the start


def lines() -> list[str]:
    out = [NGINX.format(h=i % 250, m=(i // 60) % 60, s=i % 60, i=i, b=100 + i) for i in range(LINES - 8)]
    return out + [SSHD_FAIL.format(s=s, port=50000 + s) for s in range(8)]


class Stages:
    """The stage processes of one scaled-out deployment, all reading one logwarden.yml."""

    def __init__(self, tmp, cfg: dict):
        self.tmp = tmp
        self.file = tmp / "logwarden.yml"
        self.file.write_text(yaml.safe_dump(cfg))
        self.procs: dict[str, Proc] = {}

    def start(self, name: str, *argv: str) -> Proc:
        self.procs[name] = Proc(logwarden_cmd(*argv, "-c", str(self.file)), self.tmp / f"{name}.log")
        return self.procs[name]

    def output(self) -> str:
        return "".join(f"\n--- {n} ---\n{p.output(1500)}" for n, p in self.procs.items())

    def stop(self) -> None:
        for p in reversed(list(self.procs.values())):
            if p.proc.poll() is None:
                p.stop()


def members(bootstrap: str, group: str) -> list[int] | None:
    """Partitions held by each member of `group`, once it is stable."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    except Exception:
        return None
    if str(desc.state).split(".")[-1] != "STABLE":
        return None
    return sorted(len(m.assignment.topic_partitions) for m in desc.members)


@pytest.fixture(params=["kafka", "builtin"])
def peer(request, tmp_path):
    """(bootstrap servers, the config's kafka/broker sections) of the peer under test."""
    if request.param == "kafka":
        k = request.getfixturevalue("kafka")
        yield k.bootstrap, {"kafka": {"bootstrap_servers": k.bootstrap}, "broker": {"embedded": False}}
        return
    port = free_port()
    cfg = {"data_dir": str(tmp_path / "broker-host"), "broker": {"listen": f"127.0.0.1:{port}"}}
    (tmp_path / "broker.yml").write_text(yaml.safe_dump(cfg))
    proc = Proc(logwarden_cmd("broker", "-c", str(tmp_path / "broker.yml")), tmp_path / "broker.log")
    wait_listening(port, proc, 60)
    yield f"127.0.0.1:{port}", {"broker": {"listen": f"127.0.0.1:{port}"}}
    proc.stop()


def test_scaled_out_stages_survive_sigkill_and_index_every_line_once(peer, opensearch, tmp_path):
    bootstrap, peer_cfg = peer
    logs = tmp_path / "logs"
    logs.mkdir()
    cfg = {"data_dir": str(tmp_path / "data"), **peer_cfg,
           "sources": [{"paths": [str(logs / "*.log")]}],
           "index": {"type": "opensearch", "elasticsearch_url": opensearch.url, "bulk_max_actions": 500}}
    stages = Stages(tmp_path, cfg)
    os_client = OpenSearch(hosts=[opensearch.url], timeout=30)

    def indexed() -> int:
        try:
            os_client.indices.refresh(index="logwarden-*")
            return os_client.count(index="logwarden-events-*")["count"]
        except Exception:
            return 0

    try:
        stages.start("rules", "worker", "rules")
        for name in ("index-0", "index-1"):
            stages.start(name, "worker", "index")
        for name in ("parsers-0", "parsers-1"):
            stages.start(name, "worker", "parsers")
        stages.start("agent", "agent")
        # both members of each scaled group hold partitions: killing one is killing real work
        for group in ("logwarden-parsers", "logwarden-index"):
            shares = wait_until(lambda: (m := members(bootstrap, group)) and len(m) == 2 and min(m) > 0 and m,
                                f"two {group} members sharing the partitions", 90, 0.5, stages.output)
            assert sum(shares) >= 2

        expected = lines()
        per_chunk = len(expected) // CHUNKS
        for c in range(CHUNKS):
            chunk = expected[c * per_chunk:(c + 1) * per_chunk if c < CHUNKS - 1 else None]
            with open(logs / f"app-{c % FILES}.log", "a") as f:
                f.write("".join(line + "\n" for line in chunk))
            if c == CHUNKS // 2:
                wait_until(lambda: indexed() > 0, "the first lines indexed", 90, 0.5, stages.output)
                stages.procs["parsers-0"].kill()
                stages.procs["index-0"].kill()
                killed_at = indexed()
            time.sleep(0.1)
        assert 0 < killed_at < len(expected), "the kill was not mid-stream"

        wait_until(lambda: indexed() >= len(expected), f"all {len(expected)} lines indexed by the survivors",
                   180, 1, lambda: f" (indexed {indexed()})" + stages.output())
        for group in ("logwarden-parsers", "logwarden-index"):
            shares = wait_until(lambda: (m := members(bootstrap, group)) and len(m) == 1 and m,
                                f"{group} down to the survivor", 60, 0.5, stages.output)
            assert shares[0] >= 4, f"the survivor of {group} holds every partition: {shares}"
        time.sleep(3)   # a late replay would land now
        originals = [h["_source"]["event"]["original"]
                     for h in scan(os_client, index="logwarden-events-*", _source=["event.original"], size=2000)]
        assert len(originals) == len(expected), "each line exactly once in the index"
        assert sorted(originals) == sorted(expected)

        alerts = wait_until(lambda: indexed() and os_client.count(index="logwarden-alerts")["count"],
                            "the SSH brute-force alert indexed", 60, 0.5, stages.output)
        assert alerts >= 1
        hits = os_client.search(index="logwarden-alerts", body={"query": {"match_all": {}}})["hits"]["hits"]
        assert any("203.0.113.5" in orjson.dumps(h["_source"]).decode() for h in hits)
        for name in ("rules", "index-1", "parsers-1", "agent"):
            assert stages.procs[name].proc.poll() is None, f"{name} died:{stages.output()}"
    finally:
        stages.stop()
        os_client.close()
