"""The wheel holds every module and data file, under the single `logwarden` namespace."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STAGES = ["agents", "ingest", "broker", "parsers", "sinks", "rules", "deploy"]


def source_files() -> set[str]:
    expected = set()
    for p in (ROOT / "logwarden").rglob("*"):
        if p.is_file() and "__pycache__" not in p.parts:
            expected.add("logwarden/" + p.relative_to(ROOT / "logwarden").as_posix())
    for stage in STAGES:
        for p in (ROOT / stage).rglob("*"):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".yml", ".yaml", ".j2", ".html", ".js", ".css", ".json", ".txt", ".grok", ".svg", ".md"}:
                expected.add(f"logwarden/{stage}/" + p.relative_to(ROOT / stage).as_posix())
    return expected


@pytest.mark.integration
def test_wheel_contains_everything_and_nothing_top_level(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    [wheel] = list(tmp_path.glob("logwarden-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(source_files() - names)
    assert not missing, f"missing from the wheel: {missing[:20]}"
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"logwarden"}, top


def test_no_generic_top_level_modules():
    out = subprocess.run([sys.executable, "-c", "import importlib.util as u; print([m for m in ('broker','rules','sinks','parsers','agents','ingest','deploy') if u.find_spec(m)])"],
                         capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout.strip() == "[]"
    out = subprocess.run([sys.executable, "-c", "import logwarden.broker, logwarden.rules, logwarden.sinks; print('ok')"],
                         capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout.strip() == "ok"
