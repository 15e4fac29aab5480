"""Debian's librdkafka clients - kcat and rsyslog's omkafka (librdkafka 2.0.2 in Debian 12) -
against a SASL_PLAINTEXT broker, once per mechanism. The result is docs/broker.md's client
table: PLAIN works; SCRAM-SHA-256/512 are refused, as Kafka 4 refuses them, because that
librdkafka repeats its client nonce in client-final-message (fixed in 2.6.1), and the refusal
names the cause to the client and in the broker's log."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer

from logwarden.broker.security.scram import hash_password
from lwtest import Broker, free_port, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.broker_config(
    security_protocol="SASL_PLAINTEXT", sasl_users={"alice": hash_password("wonderland")})]

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
WORKS = {"PLAIN": True, "SCRAM-SHA-256": False, "SCRAM-SHA-512": False}
CAUSE = "a bug of librdkafka before 2.6.1"
OMKAFKA = next((p for p in ("/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so", "/usr/lib/aarch64-linux-gnu/rsyslog/omkafka.so")
                if os.path.exists(p)), None)


def sasl(mechanism: str) -> dict[str, str]:
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism,
            "sasl.username": "alice", "sasl.password": "wonderland"}


def read_back(broker: Broker, topic: str, n: int, timeout: float = 30) -> list[str]:
    """What landed in `topic`, read with confluent-kafka (librdkafka 2.16, whose SCRAM is right)."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, **sasl("SCRAM-SHA-512"),
                  "group.id": f"check-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += [m.value().decode().strip() for m in c.consume(100, 0.5) if not m.error()]
    c.close()
    return got


def librdkafka_version() -> str:
    out = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout
    return re.search(r"librdkafka ([0-9.]+)", out).group(1)


@pytest.mark.skipif(shutil.which("kcat") is None, reason="Debian package kcat is not installed")
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kcat(broker, mechanism):
    if tuple(int(x) for x in librdkafka_version().split(".")[:3]) >= (2, 6, 1):
        pytest.skip(f"kcat links librdkafka {librdkafka_version()}, which has the SCRAM nonce fix: not Debian 12's")
    topic = f"kcat-{mechanism.lower()}-{uuid.uuid4().hex[:6]}"
    args = [x for k, v in sasl(mechanism).items() for x in ("-X", f"{k}={v}")]
    res = subprocess.run(["kcat", "-b", broker.bootstrap, *args, "-t", topic, "-P"], input=b"kcat one\nkcat two\n",
                         capture_output=True, timeout=60)
    if WORKS[mechanism]:
        assert res.returncode == 0, res.stderr.decode()
        assert sorted(read_back(broker, topic, 2)) == ["kcat one", "kcat two"]
    else:
        assert res.returncode != 0
        err = res.stderr.decode()
        assert "SASL authentication error" in err and CAUSE in err, err  # the broker's answer, as kcat prints it
        assert read_back(broker, topic, 1, timeout=3) == []


RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imtcp")
module(load="omkafka")
template(name="msgonly" type="string" string="%msg%")
input(type="imtcp" port="{tcp_port}" address="127.0.0.1" ruleset="tokafka")
ruleset(name="tokafka") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="msgonly" partitions.auto="on"
         confParam=["security.protocol=SASL_PLAINTEXT", "sasl.mechanism={mechanism}",
                    "sasl.username=alice", "sasl.password=wonderland", "socket.timeout.ms=10000"])
}}
"""


@pytest.mark.skipif(shutil.which("rsyslogd") is None or OMKAFKA is None,
                    reason="Debian packages rsyslog and rsyslog-kafka are not installed")
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_rsyslog_omkafka(broker, tmp_path, mechanism):
    topic = f"omkafka-{mechanism.lower()}-{uuid.uuid4().hex[:6]}"
    tcp_port = free_port()
    (tmp_path / "work").mkdir()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=tmp_path / "work", tcp_port=tcp_port, bootstrap=broker.bootstrap,
                                        topic=topic, mechanism=mechanism))
    log_before = len(broker.log())
    proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        sock = wait_until(lambda: _connect(tcp_port, proc), "rsyslog imtcp listening", 20, 0.1)
        # dated now: lines dated 26 Nov were seen deleted by 7-day retention before they were read
        now = time.strftime("%b %d %H:%M:%S", time.localtime()).replace(" 0", "  ", 1)
        with sock:
            for i in range(50):
                sock.sendall(f"<13>{now} web1 app[42]: omkafka {mechanism} line {i}\n".encode())
        if WORKS[mechanism]:
            assert sorted(read_back(broker, topic, 50)) == sorted(f"omkafka {mechanism} line {i}" for i in range(50))
        else:
            wait_until(lambda: CAUSE in broker.log()[log_before:], f"the broker refusing omkafka's {mechanism}", 30, 0.2)
            assert f"({mechanism}): nonce mismatch: the client repeated its own nonce" in broker.log()[log_before:]
            assert read_back(broker, topic, 1, timeout=3) == []
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _connect(port: int, proc: subprocess.Popen) -> socket.socket | None:
    assert proc.poll() is None, proc.stdout.read().decode()
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return None
