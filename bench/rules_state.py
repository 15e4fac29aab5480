"""Benchmark: the rules stage's state snapshot (what checkpoint() writes to rules.state).

    python bench/rules_state.py [--sources 1000] [--attempts 3] [--attackers 50]

`sources` addresses each make `attempts` failed SSH logins (a half-counted window of the
bundled brute-force rule, gte 5 in 1m), and `attackers` addresses make 20 (an open alert,
updated in place). Prints the snapshot's size and the time to build and encode it, and the
stage's process() rate on those messages (one core, no broker: the stage is sans-IO).
"""
from __future__ import annotations

import argparse
import time

import orjson
from confluent_kafka import Message

from logwarden.rules.config import RulesConfig
from logwarden.rules.service import RulesStage


def ssh(n: int, ip: str, ts: float) -> bytes:
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"
    return orjson.dumps({
        "@timestamp": iso, "message": f"Failed password for invalid user admin from {ip} port {40000 + n % 20000} ssh2",
        "event": {"id": f"ev-{n}", "kind": "event", "category": ["authentication"], "type": ["start"], "outcome": "failure",
                  "original": f"Dec  7 17:00:00 web-1 sshd[4242]: Failed password for invalid user admin from {ip} port {n} ssh2"},
        "process": {"name": "sshd", "pid": 4242}, "source": {"ip": ip, "port": 40000 + n % 20000},
        "host": {"name": "web-1"}, "user": {"name": "admin"}, "log": {"file": {"path": "/var/log/auth.log"}, "offset": n * 120}})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("--attackers", type=int, default=50)
    a = ap.parse_args()
    t0 = time.time()
    values: list[bytes] = []
    for i in range(a.sources):
        for k in range(a.attempts):
            values.append(ssh(len(values), f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", t0 + k))
    for i in range(a.attackers):
        for k in range(20):
            values.append(ssh(len(values), f"203.0.{i // 256}.{i % 256}", t0 + k))
    msgs = [Message(topic="logs.ecs", partition=i % 4, offset=i // 4, value=v) for i, v in enumerate(values)]
    st = RulesStage(RulesConfig())
    c0 = time.process_time()
    for i in range(0, len(msgs), 5000):
        st.process(msgs[i:i + 5000])
    c1 = time.process_time()
    body = orjson.dumps(st.snapshot())
    c2 = time.process_time()
    for _ in range(9):
        orjson.dumps(st.snapshot())
    c3 = time.process_time()
    st.close()
    print(f"{len(msgs)} messages: process() {len(msgs) / (c1 - c0):,.0f} msgs per CPU-second")
    print(f"snapshot: {len(body) / 1024:,.0f} KiB, {len(st.episodes.open)} open alerts, "
          f"{sum(len(g.entries) for s in st.engine.correlator.states for g in s.groups.values())} window entries; "
          f"built and encoded in {(c2 - c1) * 1000:.1f} ms (mean of 10: {(c3 - c1) / 10 * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
