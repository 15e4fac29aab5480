#!/usr/bin/env python3
"""Parser throughput: nginx access and sshd auth lines -> ECS NDJSON, per core and on 2 processes.

    python bench/parse.py                 # defaults: 20k events per measurement, best of 5
    python bench/parse.py --events 50000 --repeat 7 --json

For each data set (real nginx/Apache combined lines from tests/data/logs/samples, and sshd
auth lines in RFC 3164 syslog form from a seeded generator, and "sshd-login": only its
Accepted/Failed lines, which the fast path covers) it measures, in the same run
and interleaved so machine load hits all of them alike:

  ceiling    a bare `pattern.match(line)` loop over the same lines, with the format's own
             anchored pattern - the most a regex parser in this interpreter can do
  parse      Engine.parse(envelope dict) -> ECS dict (the sans-IO core)
  stage      ParserStage.process over real confluent_kafka.Message objects holding envelopes
             built by the agent's own EnvelopeTemplate, i.e. all the stage does per message
             except the network I/O of the worker shell: for access lines the compiled fast
             path (envelope bytes -> ECS bytes, parsers/fastpath.py), else orjson.loads ->
             Engine.parse -> orjson.dumps
  generic    the same stage with parsers.fast_path off (every event through Engine.parse)
  stage x2   the stage path in 2 worker processes at once (events/s summed over wall time)
  dict floor (nginx) match + groups + one ECS-shaped dict literal per line: what any parser
             that builds dicts must at least do, to read the ratios against
  bytes floor (nginx) the fast path's envelope match + groups + one bytes template `%`:
             what the compiled fast path must at least do in Python
  stage, Python (nginx) the stage with the fast path's Python twins of the C accelerator
             (parsers/_accel.c), i.e. an install without a C compiler
  enrichment (nginx) parse, stage and generic again with parsers.geoip on (a City and an ASN
             database written here with mmdb-writer, every public address of the sample in
             both), reported as the added microseconds per event

and prints events/s, MiB/s of input lines, and the ratio of stage and parse to the ceiling.
Best-of-N timing (not mean) is reported, as the least disturbed run. A rich progress bar
shows on a terminal; piped output is the plain table only.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import orjson
from confluent_kafka import Message

from logwarden.agents.envelope import EnvelopeTemplate
from logwarden.agents.splitter import Line
from logwarden.config import Config
from logwarden.parsers.config import ParsersConfig
from logwarden.parsers.engine import Engine
from logwarden.parsers import fastpath
from logwarden.parsers.fastpath import ENVELOPE_ACCESS
from logwarden.parsers.formats.access import ACCESS
from logwarden.parsers.formats.syslog import RFC3164
from logwarden.parsers.service import ParserStage

ROOT = Path(__file__).resolve().parent.parent
NGINX_SAMPLE = ROOT / "tests" / "data" / "logs" / "samples" / "apache_combined_10k.log"


def nginx_lines(n: int) -> list[str]:
    base = NGINX_SAMPLE.read_text(encoding="utf-8").splitlines()
    return [base[i % len(base)] for i in range(n)]


def sshd_lines(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    users = ["root", "admin", "deploy", "alice", "oracle", "ubuntu", "git", "test"]
    out = []
    for i in range(n):
        ts = f"Nov {1 + i // 86400 % 28:>2} {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        ip = f"203.0.113.{rng.randint(1, 254)}"
        port = rng.randint(1024, 65535)
        user = rng.choice(users)
        body = rng.choice([
            f"Failed password for invalid user {user} from {ip} port {port} ssh2",
            f"Failed password for {user} from {ip} port {port} ssh2",
            f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:pP3kq0Zb1r9x0mM6bL7C4nq2kL1nJt4Xb2bq3ZfQy8E",
            f"Invalid user {user} from {ip} port {port}",
            f"pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)",
            f"Disconnected from authenticating user {user} {ip} port {port} [preauth]",
            f"Connection closed by invalid user {user} {ip} port {port} [preauth]",
        ])
        out.append(f"{ts} web-{rng.randint(1, 4)} sshd[{rng.randint(2000, 60000)}]: {body}")
    return out


def envelopes(lines: list[str], path: str, fmt: str) -> list[bytes]:
    """Envelopes as the agent ships them (its byte template: host, file identity, event.id)."""
    tpl = EnvelopeTemplate(path=path, device_id="2049", inode="1048577", fingerprint="6d1c0a5e9f3b2a71",
                           host={"name": "web-1"}, agent={"type": "logwarden", "version": "0.1.0", "id": "bench", "name": "web-1"},
                           fields={"log_format": fmt})
    out = []
    offset = 0
    for line in lines:
        data = line.encode()
        out.append(tpl.build(Line(offset, offset + len(data) + 1, data), b"2026-11-26T10:00:00.000Z"))
        offset += len(data) + 1
    return out


def dict_floor(lines: list[str], pattern: Any) -> None:
    """The least any dict-building parser does per line: match, groups, and one ECS-shaped
    literal with the same nesting as our nginx output (no id, no time conversion, no checks)."""
    match = pattern.match
    for line in lines:
        m = match(line)
        if m is None:
            continue
        g = m.groups()
        {"@timestamp": g[3], "message": line,
         "event": {"id": "", "original": line, "ingested": "", "kind": "event", "category": ["web"], "type": ["access"], "outcome": "success"},
         "host": {"name": "web-1"}, "log": {"file": {"path": ""}, "offset": 0}, "agent": None, "input": None, "fields": None,
         "source": {"address": g[0], "ip": g[0]},
         "http": {"request": {"method": g[4], "referrer": g[10]}, "version": g[6], "response": {"status_code": g[8], "body": {"bytes": g[9]}}},
         "url": {"original": g[5], "path": g[5]}, "user_agent": {"original": g[11]}}


_BYTES_T = (b'{"@timestamp":"%sT%s.000Z","message":"%s","event":{"id":"%s","original":"%s","ingested":"%s",'
            b'"kind":"event","category":["web"],"type":["access"],"outcome":"%s"%s%s,'
            b'"source":{"address":"%s"%s}%s,"url":{%s},"http":{"request":{"method":"%s"%s}%s,'
            b'"response":{"status_code":%s%s}}%s}')


def bytes_floor(envs: list[bytes]) -> None:
    """The least the compiled fast path does per envelope: its envelope match, the groups and
    one bytes template `%` (no tail, plan, time, number or optional-field handling)."""
    match = ENVELOPE_ACCESS.match
    t = _BYTES_T
    for v in envs:
        m = match(v)
        if m is None:
            continue
        msg, addr, user, date, hms, method, target, version, status, size, referrer, agent = m.groups()
        t % (date, hms, msg, b"", msg, b"", b"success", b"", b"", addr, b"", user, target, method,
             referrer or b"", version or b"", status, size, agent or b"")


def _engine(geoip: dict | None = None) -> Engine:
    return Engine(ParsersConfig.model_validate({"timezone": "UTC", "geoip": geoip or {}}))


def _stage(fast_path: bool = True, geoip: dict | None = None) -> ParserStage:
    return ParserStage(Config.model_validate({"parsers": {"timezone": "UTC", "fast_path": fast_path, "geoip": geoip or {}}}))


def geo_databases(lines: list[str], directory: Path) -> list[str] | None:
    """A City and an ASN database placing every address of `lines` (its /16s, countries in turn),
    written with the test helper (tests/geodb.py, mmdb-writer); None without mmdb-writer."""
    sys.path.insert(0, str(ROOT / "tests"))  # the writer is test code, not shipped
    try:
        from geodb import city, write_databases
    except ImportError:
        return None
    nets = sorted({".".join(a.split(".")[:2]) + ".0.0/16" for a in (line.split(" ", 1)[0] for line in lines) if a.count(".") == 3})
    places = [city("DE", "Germany", "Berlin", "BE", "Berlin", 52.52, 13.40), city("US", "United States", "California", "CA", "San Jose", 37.33, -121.89),
              city("CN", "China", "Beijing", "BJ", "Beijing", 39.91, 116.39, "Asia"), city("FR", "France", None, None, None, 48.86, 2.35)]
    return list(write_databases(directory, {n: places[i % len(places)] for i, n in enumerate(nets)},
                                {n: (64512 + i, f"Example Networks {i}") for i, n in enumerate(nets)}))


def messages(envs: list[bytes]) -> list[Message]:
    """Real confluent_kafka Message objects, as the worker shell hands them to the stage."""
    return [Message(topic="logs.raw", partition=0, offset=i, key=None, value=b) for i, b in enumerate(envs)]


def python_stage_loop(stage: ParserStage, msgs: list[Message]) -> int:
    """stage_loop with the accelerator's Python twins, as without a C compiler."""
    with fastpath.python_twins():
        return stage_loop(stage, msgs)


def stage_loop(stage: ParserStage, msgs: list[Message]) -> int:
    n = 0
    for out in stage.process(msgs):
        n += len(out.value)
    return n


def _worker(args: tuple[list[bytes], int]) -> float:
    envs, repeat = args
    stage = _stage()
    msgs = messages(envs)
    stage_loop(stage, msgs[:2000])  # warm caches like a running stage
    t = time.perf_counter()
    for _ in range(repeat):
        stage_loop(stage, msgs)
    return time.perf_counter() - t


def same_output(a_stage: ParserStage, b_stage: ParserStage, msgs: list[Message]) -> bool:
    """The two stages write the same documents (event.ingested aside)."""
    for a, b in zip(a_stage.process(msgs), b_stage.process(msgs)):
        da, db = orjson.loads(a.value), orjson.loads(b.value)
        da["event"].pop("ingested"), db["event"].pop("ingested")
        if da != db:
            return False
    return True


def measure(sets: dict[str, tuple[list[str], list[bytes], Any]], repeat: int, procs: int,
            progress: Callable[[str], None], geo_files: list[str] | None = None) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, (lines, envs, pattern) in sets.items():
        engine = _engine()
        stage = _stage()
        generic = _stage(fast_path=False)
        msgs = messages(envs)
        raws = [orjson.loads(b) for b in envs]
        for r in raws[:2000]:
            engine.parse(r)
        # sanity: every event parses, or the figures would flatter a failing parser
        bad = sum(1 for r in raws if not isinstance(engine.parse(r), dict))
        if bad:
            raise SystemExit(f"{name}: {bad} of {len(raws)} lines did not parse")
        match = pattern.match
        # the stage's output must be the generic path's (event.ingested aside), or the figure lies
        for a, b in zip(stage.process(msgs[:2000]), generic.process(msgs[:2000])):
            da, db = orjson.loads(a.value), orjson.loads(b.value)
            da["event"].pop("ingested"), db["event"].pop("ingested")
            if da != db:
                raise SystemExit(f"{name}: fast path output differs from the generic path's")
        best = {"ceiling": 1e9, "parse": 1e9, "stage": 1e9, "generic": 1e9}
        geo = {"databases": geo_files} if geo_files and name == "nginx" else None
        if geo:
            engine_geo, stage_geo, generic_geo = _engine(geo), _stage(geoip=geo), _stage(fast_path=False, geoip=geo)
            if stage_geo.fast is None or not same_output(stage_geo, generic_geo, msgs[:2000]):
                raise SystemExit(f"{name}: with parsers.geoip the fast path is off or differs from the generic path")
            enriched = sum(1 for o in stage_geo.process(msgs[:2000]) if b'"geo":' in o.value)
            if enriched < 1900:
                raise SystemExit(f"{name}: only {enriched} of 2000 events enriched: the bench database misses the sample")
            for r in raws[:2000]:
                engine_geo.parse(r)
            best.update(parse_geo=1e9, stage_geo=1e9, generic_geo=1e9)
        if name == "nginx":
            best["dict_floor"] = 1e9
            best["bytes_floor"] = 1e9
            best["stage_python"] = 1e9
        for _ in range(repeat):
            t = time.perf_counter()
            for line in lines:
                match(line)
            best["ceiling"] = min(best["ceiling"], time.perf_counter() - t)
            if "dict_floor" in best:
                t = time.perf_counter()
                dict_floor(lines, pattern)
                best["dict_floor"] = min(best["dict_floor"], time.perf_counter() - t)
                t = time.perf_counter()
                bytes_floor(envs)
                best["bytes_floor"] = min(best["bytes_floor"], time.perf_counter() - t)
                t = time.perf_counter()
                python_stage_loop(stage, msgs)
                best["stage_python"] = min(best["stage_python"], time.perf_counter() - t)
            t = time.perf_counter()
            for r in raws:
                engine.parse(r)
            best["parse"] = min(best["parse"], time.perf_counter() - t)
            t = time.perf_counter()
            stage_loop(stage, msgs)
            best["stage"] = min(best["stage"], time.perf_counter() - t)
            t = time.perf_counter()
            stage_loop(generic, msgs)
            best["generic"] = min(best["generic"], time.perf_counter() - t)
            if geo:
                t = time.perf_counter()
                for r in raws:
                    engine_geo.parse(r)
                best["parse_geo"] = min(best["parse_geo"], time.perf_counter() - t)
                t = time.perf_counter()
                stage_loop(stage_geo, msgs)
                best["stage_geo"] = min(best["stage_geo"], time.perf_counter() - t)
                t = time.perf_counter()
                stage_loop(generic_geo, msgs)
                best["generic_geo"] = min(best["generic_geo"], time.perf_counter() - t)
            progress(name)
        n = len(lines)
        mib = sum(len(x) + 1 for x in lines) / 2**20
        res = {k: n / v for k, v in best.items()}
        res["mib_s_stage"] = mib / best["stage"]
        if procs > 1:
            ctx = mp.get_context("fork")
            with ctx.Pool(procs) as pool:
                times = pool.map(_worker, [(envs, repeat)] * procs)
            res[f"stage_x{procs}"] = n * repeat * procs / max(times)
        progress(name)
        res["ratio_stage"] = res["stage"] / res["ceiling"]
        res["ratio_parse"] = res["parse"] / res["ceiling"]
        if "dict_floor" in res:
            res["ratio_dict_floor"] = res["dict_floor"] / res["ceiling"]
            res["ratio_bytes_floor"] = res["bytes_floor"] / res["ceiling"]
            res["ratio_stage_python"] = res["stage_python"] / res["ceiling"]
        if geo:  # microseconds each event gains from the default geoip step, per path
            for k in ("parse", "stage", "generic"):
                res[f"geo_us_{k}"] = (best[f"{k}_geo"] - best[k]) / n * 1e6
        results[name] = res
    return results


def table(results: dict[str, dict[str, float]], procs: int) -> str:
    head = (f"{'data set':<10} {'ceiling/s':>11} {'parse/s':>10} {'generic/s':>10} {'stage/s':>10} {'stage MiB/s':>11} "
            f"{f'stage x{procs}/s':>13} {'stage/ceil':>10} {'parse/ceil':>10}")
    rows = [head]
    for name, r in results.items():
        rows.append(f"{name:<10} {r['ceiling']:>11,.0f} {r['parse']:>10,.0f} {r['generic']:>10,.0f} {r['stage']:>10,.0f} {r['mib_s_stage']:>11.1f} "
                    f"{r.get(f'stage_x{procs}', float('nan')):>13,.0f} {r['ratio_stage']:>10.2f} {r['ratio_parse']:>10.2f}")
    for name, r in results.items():
        if "dict_floor" in r:
            rows.append(f"{name} dict floor (match + groups + one ECS-shaped dict literal): {r['dict_floor']:,.0f}/s = "
                        f"{r['ratio_dict_floor']:.2f} of the ceiling")
            rows.append(f"{name} bytes floor (envelope match + groups + one bytes template %): {r['bytes_floor']:,.0f}/s = "
                        f"{r['ratio_bytes_floor']:.2f} of the ceiling")
            rows.append(f"{name} stage with the Python fallback (no C accelerator): {r['stage_python']:,.0f}/s = "
                        f"{r['ratio_stage_python']:.2f} of the ceiling")
        if "geo_us_stage" in r:
            rows.append(f"{name} enrichment (parsers.geoip, City + ASN, every address placed): stage {r['stage_geo']:,.0f}/s "
                        f"= {r['geo_us_stage']:+.2f} us/event; generic {r['generic_geo']:,.0f}/s = {r['geo_us_generic']:+.2f} us/event; "
                        f"parse {r['parse_geo']:,.0f}/s = {r['geo_us_parse']:+.2f} us/event")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=20_000, help="events per data set per measurement")
    ap.add_argument("--repeat", type=int, default=5, help="measurements per figure; the best is reported")
    ap.add_argument("--procs", type=int, default=2, help="processes for the multi-core figure (1 to skip)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--no-geo", action="store_true", help="leave out the enrichment (parsers.geoip) measurement")
    args = ap.parse_args()

    nginx = nginx_lines(args.events)
    sshd = sshd_lines(args.events)
    logins = [line for line in sshd_lines(args.events * 3) if ": Accepted " in line or ": Failed " in line][:args.events]
    sets = {
        "nginx": (nginx, envelopes(nginx, "/var/log/nginx/access.log", "nginx"), ACCESS),
        "sshd": (sshd, envelopes(sshd, "/var/log/auth.log", "sshd"), RFC3164),
        # only the Accepted/Failed login lines (the brute-force hot path the fast path covers)
        "sshd-login": (logins, envelopes(logins, "/var/log/auth.log", "sshd"), RFC3164),
    }
    steps = len(sets) * (args.repeat + 1)
    with tempfile.TemporaryDirectory(prefix="bench-geo-") as tmp:
        geo_files = None if args.no_geo else geo_databases(nginx, Path(tmp))
        if geo_files is None and not args.no_geo:
            print("no mmdb-writer (pip install -e '.[bench]'): the enrichment row is left out", file=sys.stderr)
        if sys.stdout.isatty() and not args.json:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("measuring", total=steps)
                results = measure(sets, args.repeat, args.procs, lambda name: bar.update(task, advance=1, description=name), geo_files)
        else:
            results = measure(sets, args.repeat, args.procs, lambda name: None, geo_files)
    if args.json:
        print(orjson.dumps({"events": args.events, "repeat": args.repeat, "procs": args.procs, "loadavg": os.getloadavg(),
                            "accelerated": fastpath.ACCELERATED, "results": results}, option=orjson.OPT_INDENT_2).decode())
        return
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    accel = "C accelerator built" if fastpath.ACCELERATED else "no C accelerator (Python fallback)"
    print(f"{args.events} events per set, best of {args.repeat}, python {sys.version.split()[0]}, {mp.cpu_count()} cpus, "
          f"load average {load}, fast path: {accel}")
    print(table(results, args.procs))


if __name__ == "__main__":
    main()
