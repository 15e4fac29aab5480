"""Ingest throughput: syslog over TCP into logs.raw, against rsyslog (imtcp -> omkafka).

Both receivers run as processes and produce to the same fresh built-in broker (a
`logwarden broker` process). The same N newline-framed RFC 3164 lines are sent over one
TCP connection to each; the time runs from the first byte sent until a confluent-kafka
consumer has read all N records of that receiver's topic. Logwarden wraps every line in
a JSON envelope with an event id (acks=all, idempotent, lz4); rsyslog ships the bare
message (`%msg%`) with Debian's librdkafka (snappy).

Also: Elasticsearch `_bulk` through the official client's `helpers.bulk` (1000 documents
per request, each request answered only after the broker acknowledged it).

    python bench/ingest_throughput.py [--lines 200000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imtcp")
module(load="omkafka")
template(name="msgonly" type="string" string="%msg%")
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="tokafka")
ruleset(name="tokafka") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="bench.rsyslog" template="msgonly"
         confParam=["compression.codec=snappy", "socket.timeout.ms=10000"] partitions.auto="on")
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[:3]} exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} did not open")


def count_until(bootstrap: str, topic: str, want: int, timeout: float = 300) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}", "enable.auto.commit": False})
    deadline = time.monotonic() + timeout
    parts: list[int] = []
    while not parts and time.monotonic() < deadline:
        t = c.list_topics(topic, timeout=5).topics.get(topic)
        parts = list(t.partitions) if t is not None and t.error is None else []
        time.sleep(0 if parts else 0.05)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    n = 0
    while n < want and time.monotonic() < deadline:
        n += sum(1 for m in c.consume(10000, 0.2) if m.error() is None)
    c.close()
    return n


def send_syslog(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(payload)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200_000)
    n = ap.parse_args().lines
    payload = b"".join(b"<38>Nov 26 10:00:00 web1 sshd[%d]: Failed password for root from 198.51.100.%d port %d ssh2\n"
                       % (i, i % 250, 1024 + i % 60000) for i in range(n))
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        try:
            bport = free_port()
            bootstrap = f"127.0.0.1:{bport}"
            procs.append(subprocess.Popen([sys.executable, "-m", "logwarden", "broker", "--listen", bootstrap, "--data-dir", str(tmp / "b")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/"))
            wait_port(bport, procs[-1])
            tcp, http = free_port(), free_port()
            (tmp / "lw.yml").write_text(f"data_dir: {tmp / 'data'}\nkafka: {{bootstrap_servers: '{bootstrap}'}}\n"
                                        f"ingest: {{syslog_tcp: '127.0.0.1:{tcp}', http: '127.0.0.1:{http}'}}\n")
            procs.append(subprocess.Popen([sys.executable, "-m", "logwarden", "ingest", "-c", str(tmp / "lw.yml")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/"))
            wait_port(tcp, procs[-1])
            wait_port(http, procs[-1])
            mib = len(payload) / 1048576
            t0 = time.perf_counter()
            send_syslog(tcp, payload)
            got = count_until(bootstrap, "logs.raw", n)
            t_lw = time.perf_counter() - t0
            print(f"syslog TCP, {n} lines ({mib:.1f} MiB), one connection, until consumed from the broker:")
            print(f"  logwarden ingest : {got / t_lw:9.0f} lines/s  {mib / t_lw:6.1f} MiB/s")
            t_rs = None
            if shutil.which("rsyslogd") and os.path.exists("/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so"):
                rport = free_port()
                (tmp / "rs").mkdir()
                (tmp / "rsyslog.conf").write_text(RSYSLOG_CONF.format(work=tmp / "rs", port=rport, bootstrap=bootstrap))
                procs.append(subprocess.Popen(["rsyslogd", "-n", "-f", str(tmp / "rsyslog.conf"), "-i", str(tmp / "rs.pid")],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                wait_port(rport, procs[-1])
                t0 = time.perf_counter()
                send_syslog(rport, payload)
                got_rs = count_until(bootstrap, "bench.rsyslog", n)
                t_rs = time.perf_counter() - t0
                print(f"  rsyslog omkafka  : {got_rs / t_rs:9.0f} lines/s  {mib / t_rs:6.1f} MiB/s")
                print(f"  ratio logwarden/rsyslog: {t_rs / t_lw:.2f}")
            from elasticsearch import Elasticsearch, helpers

            es = Elasticsearch(f"http://127.0.0.1:{http}", request_timeout=120)
            docs = [{"_index": "bench", "_source": {"message": payload_line.decode()}} for payload_line in payload.split(b"\n")[: n // 2]]
            t0 = time.perf_counter()
            ok, _ = helpers.bulk(es, docs, chunk_size=1000)
            t_b = time.perf_counter() - t0
            print(f"_bulk via elasticsearch.helpers.bulk, {ok} docs, 1000 per request (acknowledged): {ok / t_b:9.0f} docs/s")
        finally:
            for p in reversed(procs):
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


if __name__ == "__main__":
    main()
