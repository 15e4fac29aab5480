"""Envelope builders shared by the parser tests."""
from datetime import datetime, timezone
from typing import Any

NOW = datetime(2026, 11, 26, 16, 0, 0, tzinfo=timezone.utc)


def envelope(line: str, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "@timestamp": "2026-11-26T16:00:00.000Z",
        "message": line,
        "log": {"file": {"path": "/var/log/test.log", "inode": "42", "device_id": "2049"}, "offset": 100},
        "host": {"name": "collector"},
        "agent": {"type": "logwarden", "version": "0.1.0", "id": "a1", "name": "collector"},
        "input": {"type": "filestream"},
    }
    raw.update(extra)
    return raw
