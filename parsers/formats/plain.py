"""`plain`: keep the line as `message` and parse nothing - for pipelines whose processors
(grok, dissect, kv) do the parsing themselves."""
from __future__ import annotations

from typing import Any

from ..core import FormatOptions


class PlainParser:
    name = "plain"

    def __init__(self, options: FormatOptions | None = None):
        pass

    def parse(self, line: str, doc: dict[str, Any]) -> str:
        return "plain.line"
