"""pySigma + its SQLite backend as an independent oracle for differential tests and benchmarks.

Test code, kept out of the shipped package: it needs the test extras (`pysigma`,
`pysigma-backend-sqlite`), and nothing in the running
appliance imports this module. The same rule files are converted by pySigma into SQL, the
events are loaded into an in-memory SQLite table (one column per flattened field, declared
`TEXT COLLATE NOCASE` as the backend itself does), and each rule's query returns the
matching row ids.

Our mapping pipelines are translated into pySigma processing items (field mappings and
added conditions, restricted by `LogsourceCondition`s), so the oracle sees the rules with
the same field names as the native engine.

Where the oracle itself is wrong (documented in docs/rules.md and checked in the
differential test): SQLite folds case for ASCII only (`Ä` != `ä`); `lt`/`gt` compare text
columns as text ('10' < '9'); `cidr` becomes LIKE prefixes on the dotted text; and a list
field cannot be stored, so events for the oracle carry scalars only.
"""
from __future__ import annotations

import re
import sqlite3
from typing import Any

from logwarden.rules.event import prepare
from logwarden.rules.mapping import Pipeline


def pysigma_pipeline(pipe: Pipeline) -> Any:
    from sigma.processing.conditions import LogsourceCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import AddConditionTransformation, FieldMappingTransformation

    items = []
    for e in sorted(pipe.logsources, key=lambda e: -len(e.match)):
        cond = [LogsourceCondition(**{k: v for k, v in e.match.items()})]
        if e.fields:
            items.append(ProcessingItem(FieldMappingTransformation(dict(e.fields)), rule_conditions=cond))
    if pipe.fields:
        items.append(ProcessingItem(FieldMappingTransformation(dict(pipe.fields))))
    for e in pipe.logsources:
        if e.conditions:
            cond = [LogsourceCondition(**{k: v for k, v in e.match.items()})]
            items.append(ProcessingItem(AddConditionTransformation(dict(e.conditions)), rule_conditions=cond))
    return ProcessingPipeline(items=items)


class SqliteOracle:
    """Converts detection rules once; `evaluate(events)` -> {rule id: set of event indexes}."""

    def __init__(self, rule_texts: list[str], pipeline: Pipeline | None = None):
        from sigma.backends.sqlite import sqliteBackend
        from sigma.collection import SigmaCollection
        from sigma.rule import SigmaRule

        pipe = pysigma_pipeline(pipeline) if pipeline is not None and (pipeline.fields or pipeline.logsources) else None
        self.backend = sqliteBackend(pipe, fulltext_field="message") if pipe else sqliteBackend(fulltext_field="message")
        self.queries: dict[str, list[str]] = {}
        self.fields: dict[str, list[str]] = {}
        self.failed: dict[str, str] = {}
        for text in rule_texts:
            coll = SigmaCollection.from_yaml(text)
            for rule in coll.rules:
                if not isinstance(rule, SigmaRule):
                    continue
                rid = str(rule.id) if rule.id else rule.title
                try:
                    self.queries[rid] = list(self.backend.convert_rule(rule))
                    self.fields[rid] = list(self.backend.required_fields(rule))
                except Exception as exc:  # report, like the native loader does
                    self.failed[rid] = str(exc)

    def evaluate(self, events: list[dict[str, Any]]) -> dict[str, set[int]]:
        rows = [prepare(e)[0] for e in events]
        cols = sorted({k for r in rows for k in r})
        conn = sqlite3.connect(":memory:")
        conn.create_function("regexp", 2, _regexp, deterministic=True)
        q = lambda c: "`" + c.replace("`", "``") + "`"  # noqa: E731
        conn.execute(f"CREATE TABLE logs ({', '.join(q(c) + ' TEXT COLLATE NOCASE' for c in cols)})")
        placeholders = ", ".join("?" for _ in cols)
        conn.executemany(f"INSERT INTO logs ({', '.join(q(c) for c in cols)}) VALUES ({placeholders})",
                         [[_scalar(r.get(c)) for c in cols] for r in rows])
        known = {c.lower() for c in cols}  # SQLite column names are case-insensitive
        out: dict[str, set[int]] = {}
        for rid, queries in self.queries.items():
            hits: set[int] = set()
            for m in self.fields.get(rid, []):  # a field no event has: materialise it as NULL
                if m.lower() not in known:
                    conn.execute(f"ALTER TABLE logs ADD COLUMN {q(m)} TEXT COLLATE NOCASE")
                    known.add(m.lower())
            for sql in queries:
                hits |= {row[0] - 1 for row in conn.execute(sql.replace("SELECT *", "SELECT rowid", 1))}
            out[rid] = hits
        conn.close()
        return out


def _regexp(pattern: str, value: Any) -> bool:
    if value is None:
        return False
    return re.search(pattern, str(value)) is not None


def _scalar(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list) and len(v) == 1 and not isinstance(v[0], (list, dict)):
        return _scalar(v[0])  # ECS keeps event.category etc. as one-element lists
    if isinstance(v, (list, dict)):
        return None
    return v
