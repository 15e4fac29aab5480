"""The long chaos run: `python -m tests.chaos --lines 2000000` from the repository root.

Prints the summary (and, with --json, the whole account as JSON) and exits 1 when a line
was lost or duplicated, an alert outside a rules-worker restart was not exactly one, a fault
did not recover, or the consumer lag did not return to zero.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import orjson

from .harness import FAULTS, ChaosConfig, ChaosRun


def main(argv: list[str] | None = None) -> int:
    d = ChaosConfig()
    p = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=d.lines, help=f"lines to write (default {d.lines})")
    p.add_argument("--rate", type=float, default=d.rate, help=f"lines per second (default {d.rate:.0f})")
    p.add_argument("--files", type=int, default=d.files, help=f"files written round robin (default {d.files})")
    p.add_argument("--rotate-every", type=int, default=d.rotate_every, help=f"lines per file between rotations (default {d.rotate_every})")
    p.add_argument("--brute-sets", type=int, default=d.brute_sets, help=f"brute-force sets (default {d.brute_sets})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed of the fault order, moments and rotations (default {d.seed})")
    p.add_argument("--broker-down", type=float, default=60.0, help="seconds the broker stays down in the broker-down fault (default 60)")
    p.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated subset of {','.join(FAULTS)}; a fault may repeat")
    p.add_argument("--workdir", type=Path, help="keep the run's files here (default: a temporary directory, removed)")
    p.add_argument("--json", type=Path, help="also write the account as JSON to this file")
    a = p.parse_args(argv)
    faults = tuple(f for f in a.faults.split(",") if f)
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        p.error(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    cc = ChaosConfig(lines=a.lines, rate=a.rate, files=a.files, rotate_every=a.rotate_every, brute_sets=a.brute_sets,
                     seed=a.seed, broker_down_s=a.broker_down, faults=faults, drain_timeout_s=max(300.0, a.lines / 500))
    with tempfile.TemporaryDirectory(prefix="logwarden-chaos-") as tmp:
        work = a.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        r = ChaosRun(work, cc).run()
    print(r.summary())
    if a.json:
        a.json.write_bytes(orjson.dumps(dataclasses.asdict(r), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    bad = (r.missing or r.duplicated or r.exact_alert_problems or any(f["recovery_s"] is None for f in r.faults)
           or any(v != 0 for v in r.lag.values()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
