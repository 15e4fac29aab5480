"""Per-field agreement with Filebeat's own pipelines on its module test logs.

The reference (tests/data/logs/filebeat/, see SOURCE.md) is what Filebeat's Elasticsearch
ingest pipelines produce for its test logs. We parse the same lines and compare every
field Filebeat emits, except the ones only Filebeat can know (its input/fileset/service
names, the test's relative file path, offsets and timezone echo). Values are compared typed
(an integer 54053 does not agree with a string "54053"); instants are compared as instants
(the reference renders them in the test's -02:00 zone, which we also read the lines in);
a one-element list agrees with its element (Filebeat writes event.action as a list, ECS
defines a keyword).

Run `python tests/unit/parsers/test_filebeat_agreement.py` for the full table; the test
prints it too (pytest -s) and holds the floor: overall agreement, and full agreement on the
fields detection and search pivot on.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from logwarden.events import flatten
from logwarden.parsers.config import ParsersConfig
from logwarden.parsers.engine import Engine
from logwarden.parsers.formats.auditd import AuditJoiner

DATA = Path(__file__).resolve().parents[2] / "data" / "logs" / "filebeat"
CASES = {  # reference file -> our format
    "nginx/error/error.log": "nginx_error",
    "system/auth/timestamp.log": "auth",
    "auditd/log/useradd.log": "auditd",
}
FILEBEAT_ONLY = {"input.type", "fileset.name", "service.type", "log.offset", "log.file.path", "event.timezone",
                 "event.module", "event.dataset", "ecs.version", "agent.ephemeral_id", "agent.id", "agent.name",
                 "agent.type", "agent.version", "agent.hostname"}
MUST_AGREE = {"@timestamp", "source.ip", "user.name", "process.pid", "process.name", "event.outcome",
              "event.category", "host.hostname", "log.level"}


def _same(ours: Any, theirs: Any, field: str) -> bool:
    if field == "@timestamp" and isinstance(ours, str) and isinstance(theirs, str):
        return datetime.fromisoformat(ours) == datetime.fromisoformat(theirs)
    if isinstance(theirs, list) and len(theirs) == 1 and not isinstance(ours, list):
        theirs = theirs[0]
    return type(ours) is type(theirs) and ours == theirs


def compare() -> dict[str, dict[str, list[int]]]:
    """{dataset: {field: [agreed, total]}} over every reference event."""
    engine = Engine(ParsersConfig(timezone="-02:00"))
    out: dict[str, dict[str, list[int]]] = {}
    for rel, fmt in CASES.items():
        data = (DATA / rel).read_bytes()
        expected = orjson.loads((DATA / f"{rel}-expected.json").read_bytes())
        offsets = [e["log.offset"] for e in expected] + [len(data)]
        table = out.setdefault(rel, {})
        joiner = AuditJoiner()
        emitted: list[Any] = []
        for i, exp in enumerate(expected):
            # the agent's multiline joining, by the reference's own event boundaries
            line = data[offsets[i]:offsets[i + 1]].decode().rstrip("\n")
            raw = {"message": line, "log": {"file": {"path": f"/var/log/{rel}"}, "offset": offsets[i]},
                   "host": {"name": "filebeat-test"}, "fields": {"log_format": fmt}}
            doc = engine.parse(raw)
            assert isinstance(doc, dict), (rel, i, doc)
            emitted += joiner.feed(doc)
            flat = flatten(doc)
            for field, theirs in exp.items():
                if field in FILEBEAT_ONLY:
                    continue
                cell = table.setdefault(field, [0, 0])
                cell[1] += 1
                if field in flat and _same(flat[field], theirs, field):
                    cell[0] += 1
        # each reference record has its own serial, so joining must pass every one through
        assert len(emitted + joiner.flush()) == len(expected), rel
    return out


def report(result: dict[str, dict[str, list[int]]]) -> str:
    lines = []
    total = agreed = 0
    for rel, table in result.items():
        a = sum(c[0] for c in table.values())
        t = sum(c[1] for c in table.values())
        agreed += a
        total += t
        lines.append(f"{rel}: {a}/{t} field values agree ({100 * a / t:.1f}%)")
        for field, (fa, ft) in sorted(table.items()):
            mark = "" if fa == ft else "   <- differs"
            lines.append(f"    {field:<28} {fa}/{ft}{mark}")
    lines.append(f"overall: {agreed}/{total} ({100 * agreed / total:.1f}%)")
    return "\n".join(lines)


def test_filebeat_field_agreement():
    result = compare()
    print("\n" + report(result))
    agreed = sum(c[0] for t in result.values() for c in t.values())
    total = sum(c[1] for t in result.values() for c in t.values())
    assert total > 200
    assert agreed / total >= 0.9
    for rel, table in result.items():
        for field in MUST_AGREE & table.keys():
            assert table[field][0] == table[field][1], (rel, field, table[field])


if __name__ == "__main__":
    print(report(compare()))
