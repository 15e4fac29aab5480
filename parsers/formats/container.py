"""Container runtime logs: CRI (containerd, CRI-O) and Docker's json-file driver.

    2016-10-06T00:17:09.669794202Z stdout F The content of the log entry 1
    {"log":"GET / 200\\n","stream":"stdout","time":"2019-04-09T13:11:14.105637291Z"}

The runtime's own wrapping becomes `@timestamp`, `stream` and `message`; CRI partial lines
(`P`) are flagged `log.flags: partial` (the agent's multiline joiner reassembles them). The
file path says which container wrote the line, and Kubernetes' layout says more:

    /var/lib/docker/containers/<id>/<id>-json.log          -> container.id
    /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log          -> kubernetes.namespace, pod.name, pod.uid, container.name
    /var/log/containers/<pod>_<ns>_<container>-<id>.log      -> the same plus container.id

To parse what the application inside wrote, add a `parse` processor (e.g. format nginx on
field message) to the pipeline.
"""
from __future__ import annotations

import re
from typing import Any

from ..core import FormatOptions, ParseFailure, dig, json_value
from ..timefmt import IsoConverter

CRI = re.compile(r"(\d{4}-\d\d-\d\dT\S+) (stdout|stderr) ([FP])(?: (.*))?\Z", re.S)
_DOCKER_PATH = re.compile(r".*/containers/([0-9a-f]{12,64})/[0-9a-f]{12,64}-json\.log(?:\.\d+)?\Z")
_PODS_PATH = re.compile(r".*/pods/([^_/]+)_([^_/]+)_([^/]+)/([^/]+)/\d+\.log(?:\.\S+)?\Z")
_CONTAINERS_PATH = re.compile(r".*/containers/([^_/]+)_([^_/]+)_(.+)-([0-9a-f]{64})\.log\Z")


def container_metadata(path: str | None, doc: dict[str, Any]) -> None:
    if not path:
        return
    m = _DOCKER_PATH.match(path)
    if m:
        doc["container"] = {"id": m.group(1), "runtime": "docker"}
        return
    m = _PODS_PATH.match(path)
    if m:
        doc["kubernetes"] = {"namespace": m.group(1), "pod": {"name": m.group(2), "uid": m.group(3)}, "container": {"name": m.group(4)}}
        doc["container"] = {"name": m.group(4)}
        return
    m = _CONTAINERS_PATH.match(path)
    if m:
        doc["kubernetes"] = {"pod": {"name": m.group(1)}, "namespace": m.group(2), "container": {"name": m.group(3)}}
        doc["container"] = {"name": m.group(3), "id": m.group(4)}


def _path(doc: dict[str, Any]) -> str | None:
    p = dig(doc, "log", "file", "path")
    return p if isinstance(p, str) else None


class CriParser:
    name = "cri"

    def __init__(self, options: FormatOptions | None = None):
        self.time = IsoConverter()

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        m = CRI.match(line)
        if m is None:
            return ParseFailure("not a CRI log line (TIME stdout|stderr F|P message)", self.name)
        ts, stream, tag, msg = m.groups()
        iso = self.time(ts)
        if iso is None:
            return ParseFailure(f"invalid CRI time {ts!r}", self.name)
        doc["@timestamp"] = iso
        doc["stream"] = stream
        doc["message"] = msg or ""
        if tag == "P":
            doc["log"].setdefault("flags", []).append("partial")
        container_metadata(_path(doc), doc)
        if "runtime" not in doc.get("container", {}):
            doc.setdefault("container", {})["runtime"] = "cri"
        return "cri.line"


class DockerJsonParser:
    name = "docker"

    def __init__(self, options: FormatOptions | None = None):
        self.time = IsoConverter()

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        obj = json_value(line, self.name)
        return obj if obj.__class__ is ParseFailure else self.apply(obj, doc)

    def apply(self, obj: Any, doc: dict[str, Any]) -> str | ParseFailure:
        if not isinstance(obj, dict) or not isinstance(obj.get("log"), str):
            return ParseFailure("not a Docker json-file record (needs a \"log\" string)", self.name)
        ts = obj.get("time")
        iso = self.time(ts) if isinstance(ts, str) else None
        if ts is not None and iso is None:
            return ParseFailure(f"invalid Docker time {ts!r}", self.name)
        if iso:
            doc["@timestamp"] = iso
        msg = obj["log"]
        if msg.endswith("\n"):
            msg = msg[:-1]
        else:
            doc["log"].setdefault("flags", []).append("partial")  # json-file splits lines > 16 KiB
        doc["message"] = msg
        if isinstance(obj.get("stream"), str):
            doc["stream"] = obj["stream"]
        if isinstance(obj.get("attrs"), dict):
            doc["docker"] = {"attrs": obj["attrs"]}
        container_metadata(_path(doc), doc)
        doc.setdefault("container", {}).setdefault("runtime", "docker")
        return "docker.json_file"
