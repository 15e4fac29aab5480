#!/usr/bin/env python3
"""Parser stage vs the bare-regex ceiling in CPU instructions per event (valgrind callgrind).

    python bench/parse_instructions.py            # ceiling, stage, Python twins, generic; each with parsers.geoip
    python bench/parse_instructions.py --events 2000

bench/parse.py measures seconds, which move with the machine's load and clock; callgrind
counts the instructions the same code executes, the same whatever else runs (it is ~50x
slower, so this uses fewer events). Each figure is (instructions of a run that measures 2
passes) - (instructions of a run that only sets up), / (2 x events): interpreter start-up,
imports, data generation and warm-up (one pass over all the events, so every cache is warm
as in a running stage) cancel out. Same data and code paths as bench/parse.py
(nginx access envelopes built by the agent's template; the ceiling is the access pattern's
bare `match` loop; the stage is ParserStage.process over confluent_kafka Messages).
Needs Debian's `valgrind`.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODES = {
    "ceiling": "bare ACCESS.match loop over the lines",
    "stage": "ParserStage.process (fast path, C accelerator when built)",
    "python": "ParserStage.process on the accelerator's Python twins",
    "geo": "the stage with parsers.geoip (City + ASN, every address placed)",
    "generic": "ParserStage.process with fast_path off",
    "generic-geo": "the same with parsers.geoip",
}


def child(mode: str, passes: int, events: int) -> None:
    """The measured program: set up, then `passes` passes of `mode` over the events."""
    sys.path.insert(0, str(HERE))
    import parse as P  # bench/parse.py: the same data and stage builders

    from logwarden.parsers import fastpath
    from logwarden.parsers.formats.access import ACCESS

    import tempfile

    lines = P.nginx_lines(events)
    msgs = P.messages(P.envelopes(lines, "/var/log/nginx/access.log", "nginx"))
    geo = None
    if mode in ("geo", "generic-geo"):
        files = P.geo_databases(lines, Path(tempfile.mkdtemp(prefix="bench-geo-")))
        if files is None:
            raise SystemExit("mmdb-writer is not installed (pip install -e '.[bench]')")
        geo = {"databases": files}
    stage = P._stage(fast_path=not mode.startswith("generic"), geoip=geo)
    # warm every cache on all the events (a running stage has seen its addresses, days and
    # files): the figures are the steady state, not first sightings
    P.stage_loop(stage, msgs)
    P.python_stage_loop(stage, msgs)
    match = ACCESS.match
    for _ in range(passes):
        if mode == "ceiling":
            for line in lines:
                match(line)
        elif mode == "python":
            P.python_stage_loop(stage, msgs)
        else:
            P.stage_loop(stage, msgs)
    if mode == "stage" and not fastpath.ACCELERATED:
        print("note: the C accelerator is not built; 'stage' ran on the Python twins", file=sys.stderr)


def instructions(mode: str, passes: int, events: int) -> int:
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
                          "--child", mode, str(passes), str(events)], capture_output=True, text=True, check=True)
    m = re.search(r"Collected : (\d+)", out.stderr)
    if m is None:
        raise SystemExit(f"no instruction count from valgrind:\n{out.stderr[-2000:]}")
    return int(m.group(1))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=5000, help="events per pass")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian package valgrind)")
    base = {mode: instructions(mode, 0, args.events) for mode in MODES}
    per_event = {mode: (instructions(mode, 2, args.events) - base[mode]) / (2 * args.events) for mode in MODES}
    print(f"{args.events} nginx access events per pass, valgrind callgrind, python {sys.version.split()[0]}")
    for mode, what in MODES.items():
        ratio = per_event["ceiling"] / per_event[mode]
        print(f"{mode:<11} {per_event[mode]:>9,.0f} instructions/event   ceiling/this {ratio:.2f}   ({what})")
    print(f"parsers.geoip adds {per_event['geo'] - per_event['stage']:,.0f} instructions/event on the fast path, "
          f"{per_event['generic-geo'] - per_event['generic']:,.0f} on the generic path")


if __name__ == "__main__":
    main()
