"""The wheel holds every module and data file, under the single `logwarden` namespace."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# setup.py installs every root folder with an __init__.py as logwarden.<folder>
STAGES = sorted(d.name for d in ROOT.iterdir() if d.is_dir() and d.name != "logwarden" and (d / "__init__.py").is_file())
assert {"agents", "ingest", "broker", "parsers", "sinks", "rules", "deploy"} <= set(STAGES), STAGES


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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True)
    [whl] = list(out.glob("logwarden-*.whl"))
    return whl


@pytest.mark.integration
def test_wheel_contains_everything_and_nothing_top_level(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(source_files() - names)
    assert not missing, f"missing from the wheel: {missing[:20]}"
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"logwarden"}, top
    # the parsers' C accelerator is optional (setup.py), but with a compiler at hand it must be built
    if shutil.which("cc") or shutil.which("gcc"):
        for ext in ("parsers/_accel.", "broker/_records."):
            assert any(n.startswith("logwarden/" + ext) and n.endswith(".so") for n in names), f"{ext} was not built"


def test_no_generic_top_level_modules():
    out = subprocess.run([sys.executable, "-c", "import importlib.util as u; print([m for m in ('broker','rules','sinks','parsers','agents','ingest','deploy') if u.find_spec(m)])"],
                         capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout.strip() == "[]"
    out = subprocess.run([sys.executable, "-c", "import logwarden.broker, logwarden.rules, logwarden.sinks; print('ok')"],
                         capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout.strip() == "ok"


@pytest.mark.integration
def test_supervised_children_run_the_installed_package_from_a_checkout(wheel, tmp_path):
    """`logwarden up` started inside a source checkout must not import the checkout's bare
    `logwarden/` folder in its children (it lacks the stage packages): regression for the
    README's quick start, which runs from the clone."""
    import site

    from logwarden.supervisor import CHILD_PREFIX

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    cfg = tmp_path / "lw.yml"
    cfg.write_text("data_dir: /tmp/x\n")
    # -S: no site hooks, so the editable install of this test environment cannot help.
    env = {"PYTHONPATH": ":".join([str(target), *site.getsitepackages()]), "PATH": "/usr/bin:/bin"}
    argv = [CHILD_PREFIX[0], "-S", *CHILD_PREFIX[1:], "config", "check", str(cfg)]
    res = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    bare = [CHILD_PREFIX[0], "-S", "-m", "logwarden", "config", "check", str(cfg)]
    assert subprocess.run(bare, cwd=ROOT, env=env, capture_output=True).returncode != 0, "the test no longer reproduces the trap"
