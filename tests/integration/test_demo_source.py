"""The demo source is what the quick start promises: its lines parse to ECS, its burst trips
the bundled SSH brute-force rule, and its background traffic alone does not."""
from __future__ import annotations

import random
import time
from pathlib import Path

import orjson
import pytest

import logwarden.rules.bundled as bundled
from logwarden import demo
from logwarden.config import DemoConfig
from lwtest import run_cli

pytestmark = pytest.mark.integration
BRUTE_FORCE = "SSH brute force from one source address"


def parse_and_test(tmp_path: Path, lines: list[str]) -> list[dict]:
    log = tmp_path / "demo.log"
    log.write_text("".join(l + "\n" for l in lines))
    parsed = run_cli("parse", "--format", "auto", "--strict", str(log))
    assert parsed.returncode == 0, parsed.stderr
    events = tmp_path / "events.ndjson"
    events.write_text(parsed.stdout)
    assert len(parsed.stdout.splitlines()) == len(lines)
    res = run_cli("rules", "test", "--rules", str(Path(bundled.__file__).parent), "--events", str(events))
    assert res.returncode == 0, res.stderr
    return [orjson.loads(l) for l in res.stdout.splitlines() if l.strip()]


def test_burst_raises_the_bundled_alert(tmp_path):
    rng = random.Random(7)
    t = time.time()
    lines = [demo.nginx_line(rng, t) for _ in range(20)] + demo.burst_lines(rng, t)
    matches = parse_and_test(tmp_path, lines)
    assert any(m["rule"]["title"] == BRUTE_FORCE for m in matches), matches


def test_background_traffic_alone_stays_quiet(tmp_path):
    rng = random.Random(11)
    t = time.time()
    # two minutes of background lines at the demo's default rate, burst left out
    rate = DemoConfig().rate_per_s
    lines = [demo.tick(rng, t + i / rate)[1] for i in range(int(120 * rate))]
    matches = parse_and_test(tmp_path, lines)
    assert not any(m["rule"]["title"] == BRUTE_FORCE for m in matches), matches
