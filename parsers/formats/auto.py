"""`auto`: pick a format per line from its first byte and a short anchored shape check.

A line's first character already separates most formats: `{` is JSON (Docker json-file
and winlogbeat shapes are recognised by their keys), `<` syslog with a priority, a capital
month name RFC 3164 without one, `[` an Apache error log, `CEF:`/`LEEF:`/`type=` their
formats, and a digit either an access log (client IP) or a timestamped line whose date
shape (`2016/10/25 14:49:34 [`, `...Z stdout F `, ISO) names the format. Only the chosen
parser runs its full pattern, so `auto` costs one or two extra short matches per line, not a
try-every-parser loop. When the first choice fails, the few plausible alternatives for that
first byte are tried in order (parsers leave the document untouched when they fail), and
the failure reported is the first candidate's, which is the most likely intended format.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from ..core import FormatOptions, FormatParser, ParseFailure

_CRI = re.compile(r"\d{4}-\d\d-\d\dT\S+ (?:stdout|stderr) [FP] ")
_NGINX_ERROR = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[")
_ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
_BSD = re.compile(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d")
_KV = re.compile(r"[\w.@-]+=")

# candidates by shape, most likely first; names are looked up in FORMATS
_DIGIT = ("access", "logfmt")
_WORD = ("access", "logfmt", "kv")


class AutoParser:
    name = "auto"

    def __init__(self, options: FormatOptions | None = None, factory: Callable[[str], FormatParser | None] | None = None):
        self.options = options or FormatOptions()
        self._factory = factory
        self._cache: dict[str, FormatParser | None] = {}

    def _get(self, name: str) -> FormatParser | None:
        p = self._cache.get(name, False)
        if p is False:
            if self._factory is not None:
                p = self._factory(name)
            else:
                from . import FORMATS  # late: the registry imports this module
                cls = FORMATS.get(name)
                p = cls(self.options) if cls is not None else None
            self._cache[name] = p
        return p  # type: ignore[return-value]

    def candidates(self, line: str) -> tuple[str, ...]:
        c = line[:1]
        if c == "{":
            return ("json_auto",)
        if c == "<":
            return ("syslog",)
        if c.isdigit():
            if _CRI.match(line):
                return ("cri",)
            if _NGINX_ERROR.match(line):
                return ("nginx_error",)
            if _ISO.match(line):
                return ("syslog", "logfmt")
            return _DIGIT
        if c == "[":
            return ("apache_error",)
        if line.startswith("CEF:"):
            return ("cef",)
        if line.startswith("LEEF:"):
            return ("leef",)
        if line.startswith("type=") or line.startswith("node="):
            return ("auditd", "kv")
        if _BSD.match(line):
            return ("syslog",)
        if c in ":" or c.isalnum():
            if _KV.match(line):
                return ("logfmt", "kv", "access")
            return _WORD
        return ()

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        if line[:1] == "\ufeff":  # a byte-order mark left at the start of a file
            line = line[1:]
        first: ParseFailure | None = None
        tried = []
        for name in self.candidates(line):
            p = self._get(name)
            if p is None:
                continue
            r = p.parse(line, doc)
            if r.__class__ is not ParseFailure:
                return f"{p.name}:{r}"
            tried.append(p.name)
            if first is None:
                first = r  # type: ignore[assignment]
        if first is None:
            return ParseFailure("no known format matches this line", self.name)
        return ParseFailure(f"no format recognised this line (tried {', '.join(tried)}); {first.parser}: {first.reason}", self.name)
