"""Map each root folder to a subpackage of the single `logwarden` namespace.

The repository keeps one folder per stage at its root (`broker/`, `rules/`, ...) but a
user's environment must never receive generic top-level modules named `broker` or
`rules`. setuptools' `package_dir` does the mapping for wheels and for editable
installs alike; subpackages are discovered per folder so a new one is never dropped.
"""
from setuptools import find_packages, setup

STAGES = ["agents", "ingest", "broker", "parsers", "sinks", "rules", "deploy"]

package_dir = {"logwarden": "logwarden"}
packages = ["logwarden"] + [f"logwarden.{p}" for p in find_packages("logwarden")]
for stage in STAGES:
    package_dir[f"logwarden.{stage}"] = stage
    packages.append(f"logwarden.{stage}")
    packages += [f"logwarden.{stage}.{p}" for p in find_packages(stage)]

setup(
    package_dir=package_dir,
    packages=packages,
    package_data={"": ["*.yml", "*.yaml", "*.j2", "*.html", "*.js", "*.css", "*.txt", "*.json", "*.grok", "*.svg", "LICENSE*"]},
    include_package_data=True,
)
