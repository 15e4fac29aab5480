"""ApiVersions: the API keys and version ranges this broker serves."""
from __future__ import annotations

from typing import Any

from logwarden.broker.protocol.schemas import api_versions_table

_TABLE = api_versions_table()


def handle_api_versions(ctx: Any, session: Any, hdr: Any, req: dict[str, Any]) -> dict[str, Any]:
    return {"error_code": 0, "api_keys": _TABLE, "throttle_time_ms": 0}
