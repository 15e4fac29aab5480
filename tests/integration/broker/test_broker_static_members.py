"""Static group membership (KIP-345, `group.instance.id`) with confluent-kafka consumers in
real processes against the broker in a real process.

The point of static membership is that a consumer restarting within its session timeout
(a rolling deploy, a crash and a supervisor restart) moves no partitions: it gets its old
assignment back and the rest of the group never rebalances. The broker used to fence the
old member id and rebalance the whole group instead; these tests failed then.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient, NewTopic

from lwtest import Broker
from lwtest import wait_until

pytestmark = pytest.mark.integration

# A consumer that writes every assignment change to a JSON-lines file and runs until its
# stop file appears. librdkafka sends no LeaveGroup when a static member closes.
MEMBER = r"""
import json, os, sys, time
from confluent_kafka import Consumer
bootstrap, topic, group, instance, events, stop = sys.argv[1:7]
out = open(events, "a")
def note(kind, parts):
    out.write(json.dumps({"event": kind, "partitions": sorted(p.partition for p in parts)}) + "\n")
    out.flush()
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.instance.id": instance,
              "session.timeout.ms": 10000, "heartbeat.interval.ms": 300, "enable.auto.commit": False})
c.subscribe([topic], on_assign=lambda c_, ps: note("assign", ps), on_revoke=lambda c_, ps: note("revoke", ps))
deadline = time.monotonic() + 120
while time.monotonic() < deadline and not os.path.exists(stop):
    msg = c.poll(0.1)
    if msg is not None and msg.error():
        note("error:" + msg.error().name(), [])
c.close()
"""


class Member:
    def __init__(self, broker: Broker, topic: str, group: str, instance: str, tmp: Path, n: int) -> None:
        self.events, self.stop_file = tmp / f"{instance}.{n}.events", tmp / f"{instance}.{n}.stop"
        self.proc = subprocess.Popen([sys.executable, "-c", MEMBER, broker.bootstrap, topic, group, instance,
                                      str(self.events), str(self.stop_file)])

    def log(self) -> list[dict]:
        return [json.loads(x) for x in self.events.read_text().splitlines()] if self.events.exists() else []

    def assigned(self) -> list[int] | None:
        """What the member holds now: its last assign event, unless a revoke followed it."""
        log = self.log()
        return log[-1]["partitions"] if log and log[-1]["event"] == "assign" else None

    def stop(self) -> None:
        self.stop_file.touch()
        self.proc.wait(30)


def stop_all(*members: Member | None) -> None:
    for m in members:
        if m is not None and m.proc.poll() is None:
            m.stop_file.touch()
            try:
                m.proc.wait(30)
            except subprocess.TimeoutExpired:
                m.proc.kill()


def group_members(admin: AdminClient, group: str) -> tuple[ConsumerGroupState, dict[str, str]]:
    """The group's state and member id per group.instance.id, as DescribeGroups reports them."""
    d = admin.describe_consumer_groups([group])[group].result(10)
    return d.state, {m.group_instance_id or m.member_id: m.member_id for m in d.members}


def test_a_static_member_restarting_gets_its_partitions_back_without_a_rebalance(broker, tmp_path):
    topic, group = f"st-{uuid.uuid4().hex[:8]}", f"sg-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(10)
    a, b = Member(broker, topic, group, "host-a", tmp_path, 1), Member(broker, topic, group, "host-b", tmp_path, 1)
    restarted = None
    try:
        wait_until(lambda: a.assigned() is not None and b.assigned() is not None
                 and sorted(a.assigned() + b.assigned()) == [0, 1, 2, 3]
                 and group_members(admin, group)[0] == ConsumerGroupState.STABLE, what="a Stable group of two")
        time.sleep(1)  # several heartbeats: nothing else is going to happen on its own
        a_parts, b_parts, b_events = a.assigned(), b.assigned(), len(b.log())
        _, ids_before = group_members(admin, group)

        a.stop()  # a static member closes without LeaveGroup: its slot waits for it
        state, ids = group_members(admin, group)
        assert state == ConsumerGroupState.STABLE and ids == ids_before
        restarted = Member(broker, topic, group, "host-a", tmp_path, 2)
        wait_until(lambda: restarted.assigned() is not None, what="host-a back")
        assert restarted.assigned() == a_parts  # the same partitions as before the restart
        time.sleep(2)  # heartbeats of both members: no rebalance is brewing either
        state, ids_after = group_members(admin, group)
        assert state == ConsumerGroupState.STABLE
        assert ids_after["host-b"] == ids_before["host-b"] and ids_after["host-a"] != ids_before["host-a"]
        assert len(b.log()) == b_events and b.assigned() == b_parts, b.log()  # host-b never noticed
    finally:
        stop_all(a, b, restarted)


def test_a_second_process_with_the_same_instance_id_fences_the_first(broker, tmp_path):
    """Two processes configured with one group.instance.id: the newer one takes the slot and
    the older one is told FENCED_INSTANCE_ID on its next heartbeat, which librdkafka raises
    as a fatal error - instead of the two taking the slot from each other forever."""
    topic, group = f"st-{uuid.uuid4().hex[:8]}", f"sg-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(10)
    first = Member(broker, topic, group, "twin", tmp_path, 1)
    second = None
    try:
        wait_until(lambda: first.assigned() == [0, 1], what="the first process assigned")
        second = Member(broker, topic, group, "twin", tmp_path, 2)
        wait_until(lambda: second.assigned() == [0, 1], what="the second process assigned")
        fatal = wait_until(lambda: [e for e in first.log() if e["event"].startswith("error:")], what="the first fenced")
        assert fatal[0]["event"] == "error:_FATAL", first.log()
        time.sleep(1)
        state, ids = group_members(admin, group)
        assert state == ConsumerGroupState.STABLE and list(ids) == ["twin"]
        assert second.assigned() == [0, 1] and len(second.log()) == 1  # the newer process was never disturbed
    finally:
        stop_all(first, second)
