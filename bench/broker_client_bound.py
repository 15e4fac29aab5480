"""How much of bench/broker.py's kcat figures the client decides, not the broker (issue 4).

Two tables, same workload and kcat settings as bench/broker.py (imported from it):

produce bound      `kcat -P` against four brokers in one run: a *null* broker (our protocol
                   shell whose Produce handler answers success without validating or storing
                   anything), *nowrite* (ours with everything but the segment file write:
                   decoding, CRC32C, offsets, indexes, acknowledgement), ours, and Tansu. The
                   null broker's rate is as fast as kcat produces on this machine whatever a
                   broker does, so null/Tansu bounds the produce ratio the issue asks for, and
                   ours/null says how close we are; ours/nowrite is the price of putting the
                   records into the page cache before answering (what makes acks=all survive a
                   SIGKILL; Tansu's memory engine does not write at all).
consume placement  `kcat -C` against ours and Tansu with kcat's threads placed four ways:
                   free (the scheduler decides, as in bench/broker.py), one CPU for the whole
                   process, split (kcat's own thread on one CPU, librdkafka's broker thread on
                   the other), and split with jemalloc preloaded (if libjemalloc.so.2 exists).
                   Why: librdkafka's broker thread allocates one op per record and kcat's thread
                   frees it; with glibc malloc both take the same arena lock, so when the two
                   threads run at the same time on two CPUs they keep waiting for each other
                   (futex, voluntary context switches, 2-3x the CPU). How much they overlap
                   depends on how quickly the broker answers, which is why the client spent more
                   against our broker than against Tansu on a quiet machine (docs/performance.md).

    python bench/broker_client_bound.py                     # 1M records, 3 rounds, both tables
    python bench/broker_client_bound.py --part consume --rounds 5
    python bench/broker_client_bound.py --part produce --client rdkload+jemalloc --rounds 5

`--client` picks the load generator of the produce table: kcat (default), rdkload
(bench/rdkload.c, compiled at run time as in bench/broker.py), either with "+jemalloc"
(LD_PRELOAD into the client). The consume table always uses kcat.

Wall-clock figures move with whatever else runs on the machine (a busy second CPU makes
"free" behave like "one"); the CPU and context-switch columns are the robust ones.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import broker as bench  # bench/broker.py: same settings, same broker launchers

# Our broker with Produce answered without touching storage: the least a broker can do.
LAUNCH_NULL = (
    "import sys, logging\n"
    "logging.basicConfig(level=logging.WARNING)\n"
    "from logwarden.config import Config\n"
    "from logwarden.broker.handlers import HANDLERS\n"
    "from logwarden.broker.service import run\n"
    "def produce(ctx, session, hdr, req):\n"
    "    if req['acks'] == 0:\n"
    "        return None\n"
    "    return {'throttle_time_ms': 0, 'responses': [{'name': t['name'], 'partitions': [\n"
    "        {'index': p['index'], 'error_code': 0, 'base_offset': 0, 'log_append_time_ms': -1,\n"
    "         'log_start_offset': 0, 'record_errors': [], 'error_message': None}\n"
    "        for p in t['partitions']]} for t in req['topics']]}\n"
    "HANDLERS[0] = produce\n"
    "run(Config.model_validate({'data_dir': sys.argv[1], 'broker': {'listen': sys.argv[2], 'auto_create_topics': True}}))\n"
)
# Our broker with only the segment file write skipped (write_all reports every byte
# written): every other step of a durable produce still runs.
LAUNCH_NOWRITE = (
    "import sys, logging\n"
    "logging.basicConfig(level=logging.WARNING)\n"
    "from logwarden.config import Config\n"
    "from logwarden.broker.storage import segment\n"
    "from logwarden.broker.service import run\n"
    "segment.write_all = lambda fd, buffers, position, expected=-1: sum(len(b) for b in buffers)\n"
    "run(Config.model_validate({'data_dir': sys.argv[1], 'broker': {'listen': sys.argv[2], 'auto_create_topics': True}}))\n"
)
JEMALLOC = bench.JEMALLOC


def start(label: str, tmp: Path) -> tuple[subprocess.Popen, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    if label == "tansu":
        return bench.start_tansu(tmp)
    if label == "ours":
        return bench.start_ours(tmp, None)
    port = bench.free_port()
    launch = LAUNCH_NULL if label == "null" else LAUNCH_NOWRITE
    proc = subprocess.Popen([sys.executable, "-c", launch, str(tmp / "data"), f"127.0.0.1:{port}"],
                            stderr=open(tmp / f"{label}.log", "wb"))
    bench.wait_port(port, proc)
    return proc, f"127.0.0.1:{port}"


def consume(bootstrap: str, topic: str, n: int, env: dict, placement: str, cpus: list[int]) -> tuple[float, float, int]:
    """kcat -C with its threads placed; returns (seconds, CPU seconds, voluntary switches)."""
    env = dict(env)
    if placement.endswith("jemalloc"):
        env["LD_PRELOAD"] = str(JEMALLOC)
    args = (["taskset", "-c", str(cpus[0])] if placement == "one" else []) + ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", ".",
            *bench._xargs(bench.KCAT_CONSUMER)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.set_blocking(proc.stdout.fileno(), False)
    placed: set[str] = set()
    got = 0
    while True:
        if placement.startswith("split"):  # threads appear during start-up: place each once
            try:
                for tid in os.listdir(f"/proc/{proc.pid}/task"):
                    if tid not in placed:
                        comm = Path(f"/proc/{proc.pid}/task/{tid}/comm").read_text().strip()
                        os.sched_setaffinity(int(tid), {cpus[1] if comm.startswith("rdk:broker") else cpus[0]})
                        placed.add(tid)
            except (FileNotFoundError, ProcessLookupError):
                pass
        try:
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            time.sleep(0.0005)
            continue
        if not chunk:
            break
        got += len(chunk)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    if got != n:
        raise RuntimeError(f"kcat consumed {got} of {n} (exit status {status})")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_nvcsw


def line(label: str, rows: list[tuple[float, float, int | None]], n: int) -> str:
    el, cpu = (statistics.median(r[i] for r in rows) for i in range(2))
    vcs = "" if rows[0][2] is None else f"voluntary switches {statistics.median(r[2] for r in rows):>8,.0f}   "
    spread = ", ".join(f"{n / r[0] / 1000:.0f}k" for r in rows)
    return f"{label:24s} {n / el:>10,.0f} rec/s   client CPU per 1M {cpu * 1e6 / n:.2f} s   {vcs}rounds: {spread}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--part", choices=["produce", "consume", "both"], default="both")
    ap.add_argument("--client", choices=["kcat", "kcat+jemalloc", "rdkload", "rdkload+jemalloc"], default="kcat",
                    help="load generator of the produce table")
    args = ap.parse_args()
    if args.client.endswith("+jemalloc") and not JEMALLOC.exists():
        raise SystemExit(f"{JEMALLOC} missing (Debian package libjemalloc2)")
    n = args.records
    cpus = sorted(os.sched_getaffinity(0))
    placements = ["free", "one"] + (["split"] + (["split+jemalloc"] if JEMALLOC.exists() else [])
                                    if len(cpus) > 1 else [])
    produced: dict[str, list] = {}
    broker_cpu: dict[str, list[float]] = {}
    consumed: dict[str, list] = {}
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="logwarden-bound-") as tmpdir:
        tmp = Path(tmpdir)
        env = bench.kcat_env(tmp)
        rdkload = None
        if args.client.startswith("rdkload"):
            rdkload, why = bench.build_rdkload(tmp)
            if rdkload is None:
                raise SystemExit(f"rdkload: {why}")
        producer = bench.CClient(args.client, env, tmp / "records.txt", rdkload)
        records = tmp / "records.txt"
        with open(records, "wb") as f:
            for done in range(0, n, 100_000):
                f.write((b"x" * bench.RECORD_BYTES + b"\n") * min(100_000, n - done))
        labels = (["null", "nowrite"] if args.part != "consume" else []) + ["ours", "tansu"]
        progress = bench.Progress()
        try:
            for rnd in range(args.rounds):
                for label in labels if rnd % 2 == 0 else labels[::-1]:
                    proc, bootstrap = start(label, tmp / f"{label}-{rnd}")
                    try:
                        topic = bench.new_topic(bootstrap, "bound")
                        c0 = bench.cpu_seconds(proc.pid)
                        el, cpu = producer.produce(bootstrap, topic, n, progress, label)
                        broker_cpu.setdefault(label, []).append(bench.cpu_seconds(proc.pid) - c0)
                        produced.setdefault(label, []).append((el, cpu, None))
                        if args.part != "produce" and label in ("ours", "tansu"):
                            for placement in placements if rnd % 2 == 0 else placements[::-1]:
                                consumed.setdefault(f"{label} {placement}", []).append(
                                    consume(bootstrap, topic, n, env, placement, cpus))
                    finally:
                        bench.stop(proc)
        finally:
            progress.stop()
        client = bench.kcat_version(env)
    print(f"workload: {n} records x {bench.RECORD_BYTES} B, {bench.PARTITIONS} partitions, {client}, "
          f"{len(cpus)} CPUs, median of {args.rounds} rounds, load average before {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}, after {os.getloadavg()[0]:.2f}")
    if args.part != "consume":
        print(f"[produce: {args.client}]" if args.client != "kcat" else "[produce: kcat -P]")
        for label in labels:
            print(line(label, produced[label], n) + f"   broker CPU per 1M {statistics.median(broker_cpu[label]) * 1e6 / n:.2f} s")
        rate = {lb: n / statistics.median(r[0] for r in produced[lb]) for lb in labels}
        print(f"bound  null/Tansu {rate['null'] / rate['tansu']:.2f}x (no broker can beat Tansu by more with "
              f"this client here)   ours/null {rate['ours'] / rate['null']:.2f}x   ours/Tansu "
              f"{rate['ours'] / rate['tansu']:.2f}x   ours/nowrite {rate['ours'] / rate['nowrite']:.2f}x (the segment "
              f"write)   nowrite/Tansu {rate['nowrite'] / rate['tansu']:.2f}x")
    if args.part != "produce":
        print("[consume: kcat -C, by placement of kcat's threads]")
        for key, rows in consumed.items():
            print(line(key, rows, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
