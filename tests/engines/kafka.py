"""Apache Kafka 4.4 as a single KRaft node (broker and controller in one JVM).

Settings that matter here: `controller.quorum.bootstrap.servers` (the `--standalone` format
needs it rather than `controller.quorum.voters`), replication factor 1 for the internal
topics, no initial rebalance delay (a test's consumer group forms at once), and 4
partitions by default: Kafka's default of 1 leaves all but one parser worker idle. Node id 0
and a 1 s minimum session timeout are the built-in broker's, so the client scenarios that
run against both (test_broker_clients.py) see the same broker id and may use short
sessions; Kafka's own minimum is 6 s (group.min.session.timeout.ms).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from engines import jvm

PROPERTIES = """\
process.roles=broker,controller
node.id=0
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={logs}
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
auto.create.topics.enable=true
"""


class Kafka:
    """One Kafka node under `tmp`; `bootstrap` is its PLAINTEXT listener once started."""

    def __init__(self, tmp: Path, heap: str = "512m"):
        self.tmp = Path(tmp)
        self.heap = heap
        self.port, self.controller = jvm.free_ports(2)
        self.proc: jvm.JavaProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _cmd(self, lib: Path, main: str, *args: str) -> list[str]:
        return [*jvm.java(self.heap), f"-Dlog4j2.configurationFile=file:{jvm.HERE / 'kafka-log4j2.yaml'}",
                "-cp", f"{lib}/*", main, *args]

    def start(self, timeout: float = 120) -> "Kafka":
        lib = jvm.fetch("kafka")
        self.tmp.mkdir(parents=True, exist_ok=True)
        props = self.tmp / "server.properties"
        props.write_text(PROPERTIES.format(port=self.port, controller=self.controller, logs=self.tmp / "kraft-logs"))
        tool = "kafka.tools.StorageTool"
        cluster = subprocess.run(self._cmd(lib, tool, "random-uuid"), capture_output=True, text=True, timeout=120)
        if cluster.returncode != 0:
            raise jvm.EngineError(f"StorageTool random-uuid failed:\n{cluster.stdout}{cluster.stderr}")
        fmt = subprocess.run(self._cmd(lib, tool, "format", "-t", cluster.stdout.strip(), "-c", str(props), "--standalone"),
                             capture_output=True, text=True, timeout=120)
        if fmt.returncode != 0:
            raise jvm.EngineError(f"StorageTool format failed:\n{fmt.stdout}{fmt.stderr}")
        self.proc = jvm.JavaProcess(self._cmd(lib, "kafka.Kafka", str(props)), self.tmp / "kafka.log")
        self.proc.wait_for(lambda: jvm.listening(self.port), "Kafka's listener", timeout)
        self.proc.wait_for(self._answers, "Kafka's metadata", timeout)
        return self

    def _answers(self) -> bool:
        """The listener is open and the broker knows itself (registered with its controller)."""
        from confluent_kafka.admin import AdminClient

        try:
            md = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=3)
        except Exception:
            return False
        return bool(md.brokers)

    def reset(self) -> None:
        """Delete every topic and consumer group a test made (the internal `__` topics stay)."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        groups = [g.group_id for g in admin.list_consumer_groups().result(timeout=30).valid]
        if groups:
            for f in admin.delete_consumer_groups(groups, request_timeout=30).values():
                f.exception(timeout=30)   # a group still in use is left: its test did not stop it
        topics = [t for t in admin.list_topics(timeout=30).topics if not t.startswith("__")]
        if topics:
            for f in admin.delete_topics(topics, operation_timeout=30).values():
                f.result(timeout=60)

    def output(self) -> str:
        return self.proc.output() if self.proc else ""

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
        shutil.rmtree(self.tmp / "kraft-logs", ignore_errors=True)
