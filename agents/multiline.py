"""Sans-IO multiline joining with Filebeat's `pattern` / `negate` / `match` semantics.

A line is a *continuation* when `pattern` matches it, or when it does not and `negate` is
set. Then, as in Filebeat:

    match: after   a continuation line is appended to the record before it
                   (`^\\s` / negate false: indented Java stack frames join the exception line;
                    `^\\[` / negate true: everything not starting with '[' joins the last '[' line)
    match: before  continuation lines are collected and the first non-continuation line
                   closes the record (`\\\\$` lines: a trailing backslash continues the line)

Lines join with '\\n'. The record's offset is its first line's, its end the last line's,
so the offset registry never moves past a record that is still being assembled. A record
waiting for its next line is shipped after `timeout_ms` without news (`poll(now)`), and
at most `max_lines` lines make one record.
"""
from __future__ import annotations

import re

from .config import MultilineConfig
from .splitter import Line

Record = Line  # a joined record is a Line spanning several lines, flagged "multiline"


class MultilineJoiner:
    def __init__(self, cfg: MultilineConfig):
        self._re = re.compile(cfg.pattern.encode("utf-8"))
        self._negate = cfg.negate
        self._after = cfg.match == "after"
        self._max_lines = cfg.max_lines
        self._timeout_s = cfg.timeout_ms / 1000.0
        self._lines: list[Line] = []
        self._last = 0.0

    def _continues(self, line: Line) -> bool:
        return (self._re.search(line.data) is not None) != self._negate

    def _take(self) -> Record:
        lines = self._lines
        self._lines = []
        if len(lines) == 1:
            return lines[0]
        flags = ("multiline", "truncated") if any(ln.truncated for ln in lines) else ("multiline",)
        return Record(lines[0].offset, lines[-1].end, b"\n".join(ln.data for ln in lines), flags)

    def feed(self, lines: list[Line], now: float) -> list[Record]:
        out: list[Record] = []
        for line in lines:
            if self._after:
                if self._lines and (not self._continues(line) or len(self._lines) >= self._max_lines):
                    out.append(self._take())
                self._lines.append(line)
            else:
                self._lines.append(line)
                if not self._continues(line) or len(self._lines) >= self._max_lines:
                    out.append(self._take())
        if lines:
            self._last = now
        return out

    @property
    def pending(self) -> bool:
        return bool(self._lines)

    def poll(self, now: float) -> Record | None:
        """The pending record once it waited `timeout_ms` for a continuation that never came."""
        if self._lines and now - self._last >= self._timeout_s:
            return self._take()
        return None

    def flush(self) -> Record | None:
        return self._take() if self._lines else None
