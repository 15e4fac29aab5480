"""Map each root folder to a subpackage of the single `logwarden` namespace.

The repository keeps one folder per stage at its root (`broker/`, `rules/`, ...) but a
user's environment must never receive generic top-level modules named `broker` or
`rules`. setuptools' `package_dir` does the mapping for wheels and for editable
installs alike; subpackages are discovered per folder so a new one is never dropped,
and every data file (rules, templates, grok patterns, the web UI) is attached to the
nearest package above it, including files in plain folders without an __init__.py.
tests/unit/test_packaging.py builds the wheel and checks that nothing is missing.
"""
from pathlib import Path

from setuptools import Extension, find_packages, setup

DATA_SUFFIXES = {".yml", ".yaml", ".j2", ".html", ".js", ".css", ".txt", ".json", ".grok", ".svg", ".md"}
ROOT = Path(__file__).resolve().parent
# Every root folder that is a Python package (tests/ and bench/ are not) is a stage package,
# so a new stage folder is installed without a change here.
STAGES = sorted(d.name for d in ROOT.iterdir() if d.is_dir() and d.name != "logwarden" and (d / "__init__.py").is_file())

package_dir = {"logwarden": "logwarden"}
roots = {"logwarden": "logwarden"}
for stage in STAGES:
    package_dir[f"logwarden.{stage}"] = stage
    roots[f"logwarden.{stage}"] = stage

packages: list[str] = []
package_data: dict[str, list[str]] = {}
for name, folder in roots.items():
    packages.append(name)
    packages += [f"{name}.{p}" for p in find_packages(folder)]
    for f in sorted((ROOT / folder).rglob("*")):
        if not f.is_file() or f.suffix not in DATA_SUFFIXES or "__pycache__" in f.parts:
            continue
        rel = f.relative_to(ROOT / folder)
        # nearest enclosing package: walk up until a folder with __init__.py
        parts = list(rel.parts[:-1])
        while parts and not (ROOT / folder / Path(*parts) / "__init__.py").exists():
            parts.pop()
        pkg = ".".join([name, *parts])
        inner = rel.relative_to(Path(*parts)) if parts else rel
        package_data.setdefault(pkg, []).append(inner.as_posix())

# The parsers' C accelerator (parsers/_accel.c) is optional: without a C compiler the install
# still succeeds and the fast path writes the same documents in Python, only slower.
accel = Extension("logwarden.parsers._accel", ["parsers/_accel.c"], optional=True)
# The broker's record-framing check (broker/_records.c) likewise: storage/records.py has
# the same walk in Python.
records = Extension("logwarden.broker._records", ["broker/_records.c"], optional=True)

setup(package_dir=package_dir, packages=packages, package_data=package_data, ext_modules=[accel, records])
