"""`python -m engines fetch` warms the jar cache; `python -m engines run kafka|opensearch`
starts one engine in a temp folder and prints its address until Ctrl-C."""
from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time

from engines import Kafka, OpenSearch, jvm
from engines.opensearch import classpath


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m engines", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="fetch both engines' jars (and compile the OpenSearch main) into the cache")
    run = sub.add_parser("run", help="start one engine until Ctrl-C")
    run.add_argument("engine", choices=["kafka", "opensearch"])
    args = ap.parse_args(argv)
    why = jvm.missing()
    if why:
        print(f"engines: {why}", file=sys.stderr)
        return 2
    if args.cmd == "fetch":
        t0 = time.monotonic()
        for name in ("kafka", "opensearch"):
            lib = jvm.fetch(name)
            print(f"{name}: {len(list(lib.glob('*.jar')))} jars in {lib}")
        classpath(jvm.fetch("opensearch"))
        print(f"fetched in {time.monotonic() - t0:.1f} s")
        return 0
    with tempfile.TemporaryDirectory(prefix=f"logwarden-{args.engine}-") as tmp:
        engine = Kafka(tmp) if args.engine == "kafka" else OpenSearch(tmp)
        engine.start()
        print(engine.bootstrap if args.engine == "kafka" else engine.url, flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            engine.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
