"""OpenSearch 2.19 as one node, started by our OpenSearchNode.java with the test framework's
MockNode (Maven Central has the server's jars but not its distribution).

The class path leaves out the test framework's own test-runner dependencies
(randomizedtesting, junit, hamcrest, mockito, byte-buddy, objenesis, lucene-test-framework):
with them on it the node dies looking for a RandomizedContext. The main is compiled on first
use into the jar cache. Replicas are set to 0 as a persistent cluster setting (as a node
setting it is ignored), so one node reports green.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx

from engines import jvm

LEAVE_OUT = ("randomizedtesting", "junit", "hamcrest", "mockito", "byte-buddy", "objenesis", "lucene-test-framework")
MAIN = "OpenSearchNode"


def classpath(lib: Path) -> str:
    """The run-time class path, with the compiled main (built once per jar folder)."""
    jars = sorted(str(j) for j in lib.glob("*.jar") if not any(n in j.name for n in LEAVE_OUT))
    classes = lib.parent / "classes"
    source = jvm.HERE / f"{MAIN}.java"
    built = classes / f"{MAIN}.class"
    if not built.exists() or built.stat().st_mtime < source.stat().st_mtime:
        tmp = lib.parent / "classes.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        r = subprocess.run(["javac", "-d", str(tmp), "-cp", f"{lib}/*", str(source)], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise jvm.EngineError(f"javac {source.name} failed:\n{r.stdout}{r.stderr}")
        shutil.rmtree(classes, ignore_errors=True)
        tmp.rename(classes)
    return ":".join([*jars, str(classes)])


class OpenSearch:
    """One node under `tmp`; `url` is its HTTP endpoint once started."""

    def __init__(self, tmp: Path, heap: str = "512m"):
        self.tmp = Path(tmp)
        self.heap = heap
        self.port, self.transport = jvm.free_ports(2)
        self.proc: jvm.JavaProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> "OpenSearch":
        cp = classpath(jvm.fetch("opensearch"))
        home = self.tmp / "home"
        (home / "config").mkdir(parents=True, exist_ok=True)
        shutil.copy(jvm.HERE / "opensearch-log4j2.properties", home / "config" / "log4j2.properties")
        self.proc = jvm.JavaProcess([*jvm.java(self.heap), f"-Dlog4j.configurationFile={home / 'config' / 'log4j2.properties'}",
                                     "-cp", cp, MAIN, str(home), str(self.port), str(self.transport)],
                                    self.tmp / "opensearch.log")
        self.proc.wait_for(self._healthy, "OpenSearch cluster health", timeout)
        r = httpx.put(f"{self.url}/_cluster/settings", timeout=30,
                      json={"persistent": {"cluster.default_number_of_replicas": 0}})
        if r.status_code != 200:
            raise jvm.EngineError(f"cluster settings refused: {r.status_code} {r.text}")
        return self

    def _healthy(self) -> bool:
        try:
            r = httpx.get(f"{self.url}/_cluster/health", timeout=3)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.json().get("status") in ("green", "yellow")

    def reset(self) -> None:
        """Delete every index and index template a test made."""
        for path in ("/*?expand_wildcards=open,closed", "/_index_template/*"):
            r = httpx.delete(self.url + path, timeout=60)
            if r.status_code not in (200, 404):
                raise jvm.EngineError(f"DELETE {path}: {r.status_code} {r.text}")

    def output(self) -> str:
        return self.proc.output() if self.proc else ""

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
        shutil.rmtree(self.tmp / "home", ignore_errors=True)
