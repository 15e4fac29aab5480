"""Human durations (`15m`, `2h`, `7d`) as used by --since and retention settings."""
import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")


def parse_duration(text: str) -> timedelta:
    m = _DUR.match(text)
    if not m:
        raise ValueError(f"expected a duration such as 30s, 15m, 2h or 7d, got {text!r}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
