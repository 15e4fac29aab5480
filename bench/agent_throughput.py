"""Agent throughput: envelope building, and a file shipped to the built-in broker.

Two measurements, each against a peer measured in the same run on the same machine:

1. envelope building per line: the agent's byte template (`EnvelopeTemplate.build`)
   against building a dict per line and `orjson.dumps` of it (the obvious way);
2. shipping a file to a fresh built-in broker (`logwarden broker` as a process): the
   agent (tail, split, envelope, produce with acks=all + idempotence + lz4, offsets from
   delivery reports) against kcat producing the same file's raw lines with the same
   producer settings (`kcat -P -l`: no envelope, no registry), and against rsyslog
   (`imfile` -> `omkafka`, Debian's rsyslog + rsyslog-kafka, acks=all + lz4, the line as
   the record) tailing the same file into the same broker, timed until the broker holds
   every line (its topic's high watermark).

    python bench/agent_throughput.py [--lines 300000]

Prints lines/s, MiB/s of input and the ratios (agent / rsyslog is the issue's figure).
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

from logwarden.agents.config import AgentConfig, FileSource
from logwarden.agents.envelope import EnvelopeTemplate
from logwarden.agents.multiline import Record
from logwarden.agents.service import Agent
from logwarden.config import Config
from logwarden.events import event_id, now_iso

LINE = '203.0.113.{i} - - [26/Nov/2026:10:00:00 +0000] "GET /api/v1/items/{i} HTTP/1.1" 200 {n} "-" "curl/8.5.0"'


def lines(n: int) -> list[bytes]:
    return [LINE.format(i=i % 250, n=i).encode() for i in range(n)]


def bench_envelopes(data: list[bytes]) -> None:
    host = {"name": "web-1"}
    agent = {"type": "logwarden", "version": "0.1.0", "id": "x", "name": "web-1"}
    tpl = EnvelopeTemplate(path="/var/log/nginx/access.log", device_id="2049", inode="77", fingerprint="fp", host=host,
                           agent=agent, fields={"log_format": "nginx"}, tags=["web"])
    total = sum(len(d) + 1 for d in data)
    ts = now_iso().encode()
    recs = []
    off = 0
    for d in data:
        recs.append(Record(off, off + len(d) + 1, d))
        off += len(d) + 1
    t0 = time.perf_counter()
    for r in recs:
        tpl.build(r, ts)
    t_tpl = time.perf_counter() - t0
    tsd = ts.decode()
    t0 = time.perf_counter()
    for r in recs:
        orjson.dumps({"@timestamp": tsd, "message": r.data.decode("utf-8", "replace"),
                      "log": {"offset": r.offset, "file": {"path": "/var/log/nginx/access.log", "device_id": "2049", "inode": "77", "fingerprint": "fp"}},
                      "host": host, "agent": agent, "input": {"type": "filestream"}, "fields": {"log_format": "nginx"}, "tags": ["web"],
                      "event": {"id": event_id("web-1", "2049:77", "fp", r.offset)}})
    t_dict = time.perf_counter() - t0
    mib = total / 1048576
    print(f"envelope build, {len(data)} lines ({mib:.1f} MiB input), one core:")
    print(f"  byte template : {len(data) / t_tpl:10.0f} lines/s  {mib / t_tpl:7.1f} MiB/s")
    print(f"  dict + dumps  : {len(data) / t_dict:10.0f} lines/s  {mib / t_dict:7.1f} MiB/s")
    print(f"  ratio template/dict: {t_dict / t_tpl:.2f}x")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "logwarden", "broker", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp / "broker")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("broker did not start")


def bench_ship(data: list[bytes], tmp: Path) -> None:
    log = tmp / "logs" / "access.log"
    log.parent.mkdir()
    log.write_bytes(b"\n".join(data) + b"\n")
    size_mib = log.stat().st_size / 1048576
    proc, bootstrap = start_broker(tmp)
    try:
        cfg = Config(data_dir=str(tmp / "data"), kafka={"bootstrap_servers": bootstrap},
                     sources=[FileSource(paths=[str(log)], format="nginx")])
        agent = Agent(cfg, AgentConfig(watch=False))
        t = threading.Thread(target=agent.run_forever)
        t0 = time.perf_counter()
        t.start()
        while agent.stats.sent < len(data):
            time.sleep(0.01)
        t_agent = time.perf_counter() - t0
        agent.stop()
        t.join()
        kcat = shutil.which("kcat") or shutil.which("kafkacat")
        t_kcat = None
        if kcat:
            t0 = time.perf_counter()
            subprocess.run([kcat, "-P", "-b", bootstrap, "-t", "bench.kcat", "-l", "-X", "acks=all", "-X", "enable.idempotence=true",
                            "-X", "compression.codec=lz4", "-X", "linger.ms=20", "-X", "batch.size=1000000", str(log)], check=True)
            t_kcat = time.perf_counter() - t0
        t_rsyslog = bench_rsyslog(log, bootstrap, len(data), tmp)
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"ship {len(data)} lines ({size_mib:.1f} MiB) to the built-in broker, acks=all, lz4:")
    print(f"  logwarden agent: {len(data) / t_agent:10.0f} lines/s  {size_mib / t_agent:7.1f} MiB/s  (envelopes {agent.stats.sent})")
    if t_kcat:
        print(f"  kcat -P -l     : {len(data) / t_kcat:10.0f} lines/s  {size_mib / t_kcat:7.1f} MiB/s  (raw lines, no envelope)")
        print(f"  ratio agent/kcat: {t_kcat / t_agent:.2f}")
    if t_rsyslog:
        print(f"  rsyslog imfile -> omkafka: {len(data) / t_rsyslog:10.0f} lines/s  {size_mib / t_rsyslog:7.1f} MiB/s  (raw lines)")
        print(f"  ratio agent/rsyslog: {t_rsyslog / t_agent:.2f}")
    else:
        print("  rsyslog: not run (needs rsyslogd and omkafka.so: apt-get install rsyslog rsyslog-kafka)")


RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imfile" mode="inotify")
module(load="omkafka")
template(name="line" type="string" string="%msg%")
input(type="imfile" File="{path}" Tag="bench" ruleset="tokafka" freshStartTail="off" reopenOnTruncate="on")
ruleset(name="tokafka" queue.type="LinkedList" queue.size="200000" queue.dequeueBatchSize="4096") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="bench.rsyslog" template="line" partitions.auto="on"
         confParam=["compression.codec=lz4", "acks=all", "enable.idempotence=true", "linger.ms=20",
                    "batch.size=1000000", "queue.buffering.max.messages=1000000"])
}}
"""
OMKAFKA = "/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so"


def _high_watermarks(c, topic: str) -> int:
    from confluent_kafka import TopicPartition

    meta = c.list_topics(topic, timeout=5).topics.get(topic)
    if meta is None or meta.error is not None:
        return 0
    return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1] for p in meta.partitions)


def bench_rsyslog(log: Path, bootstrap: str, n: int, tmp: Path) -> float | None:
    """rsyslogd tailing `log` into topic bench.rsyslog; seconds until the broker holds all n lines."""
    rsyslogd = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None)
    if rsyslogd is None or not os.path.exists(OMKAFKA):
        return None
    work = tmp / "rsyslog"
    work.mkdir()
    conf = tmp / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=work, path=log, bootstrap=bootstrap))
    from confluent_kafka import Consumer

    watch = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-hwm"})
    t0 = time.perf_counter()
    proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(tmp / "rsyslog.pid")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while (got := _high_watermarks(watch, "bench.rsyslog")) < n:
            if proc.poll() is not None or time.monotonic() > deadline:
                print(f"  rsyslog stopped at {got} of {n} lines (exit {proc.poll()})")
                return None
            time.sleep(0.05)
        return time.perf_counter() - t0
    finally:
        watch.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300_000)
    args = ap.parse_args()
    data = lines(args.lines)
    bench_envelopes(data)
    with tempfile.TemporaryDirectory() as d:
        bench_ship(data, Path(d))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONSAFEPATH", "1")
    main()
