"""Alert triage: acknowledge, close or reopen an alert with a note, recorded with who and when.

Kept as an append-only JSON-lines file, `<data_dir>/alerts/triage.jsonl`, one record per
action: {"alert_id", "state", "note", "user", "time"}. Why a file and not the index: alert
documents are written by the index stage (tantivy allows one writer, held by that process,
and Elasticsearch documents would be overwritten by a replayed alert), while triage is a
person's decision made in the HTTP process. Appending one fsynced line is durable, never
rewrites history (who said what stays readable, as an audit trail), and is read back by
replaying the file, which stays small (one line per human action). The current state of an
alert is its newest record's. In the scaled-out form with several HTTP processes on
different hosts they would need this file on shared storage.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson

STATES = ("open", "acknowledged", "closed")
MAX_NOTE = 4000


class TriageError(ValueError):
    pass


class TriageLog:
    def __init__(self, data_path: Path):
        self.path = data_path / "alerts" / "triage.jsonl"
        self._lock = threading.Lock()
        self._offset = 0
        self._by_alert: dict[str, list[dict[str, Any]]] = {}

    def record(self, alert_id: str, state: str, note: str, user: str) -> dict[str, Any]:
        if state not in STATES:
            raise TriageError(f"state: expected one of {', '.join(STATES)}, got {state!r}")
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise TriageError(f"note: text of at most {MAX_NOTE} characters")
        rec = {"alert_id": alert_id, "state": state, "note": note.strip(), "user": user,
               "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, orjson.dumps(rec) + b"\n")   # one write of one line: appended whole
                os.fsync(fd)
            finally:
                os.close(fd)
        return rec

    def _refresh(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size < self._offset:   # replaced by someone: read again from the start
            self._offset, self._by_alert = 0, {}
        if size == self._offset:
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read(size - self._offset)
        end = chunk.rfind(b"\n") + 1   # a line still being written is read next time
        for line in chunk[:end].splitlines():
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue   # a torn line from a crash is skipped, the rest still counts
            self._by_alert.setdefault(rec.get("alert_id", ""), []).append(rec)
        self._offset += end

    def history(self, alert_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._refresh()
            return list(self._by_alert.get(alert_id, []))

    def current(self) -> dict[str, dict[str, Any]]:
        """{alert id: its newest record} for every alert anyone triaged."""
        with self._lock:
            self._refresh()
            return {aid: recs[-1] for aid, recs in self._by_alert.items() if recs}
