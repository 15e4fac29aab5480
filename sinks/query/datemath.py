"""Date math for time bounds: `now`, `now-15m`, `now-1d/d`, ISO 8601 dates and instants.

The subset of Elasticsearch date math the embedded backend resolves itself; the
Elasticsearch backend passes the same strings through, so both agree. Rounding (`/d`)
and date-only upper bounds round *up* when the bound is an inclusive upper bound, as
Elasticsearch does (`lte: 2024-05-01` includes the whole day).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "H": 3600, "d": 86400, "w": 604800}
_MATH = re.compile(r"^now((?:[+-]\d+[smhHdw])*)(?:/([smhHdw]))?$")
_STEP = re.compile(r"([+-])(\d+)([smhHdw])")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_date(text: str) -> bool:
    try:
        parse(text, datetime.now(timezone.utc))
        return True
    except ValueError:
        return False


def _round(t: datetime, unit: str, up: bool) -> datetime:
    if unit == "w":
        start = (t - timedelta(days=t.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        span = timedelta(weeks=1)
    else:
        secs = _UNIT_SECONDS[unit]
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        n = int((t - epoch).total_seconds() // secs)
        start = epoch + timedelta(seconds=n * secs)
        span = timedelta(seconds=secs)
    return start + span - timedelta(microseconds=1) if up else start


def parse(text: str, now: datetime, round_up: bool = False) -> datetime:
    """Resolve a bound to an aware UTC datetime; ValueError says what is accepted."""
    m = _MATH.match(text)
    if m:
        t = now
        for sign, n, unit in _STEP.findall(m.group(1)):
            delta = timedelta(seconds=int(n) * _UNIT_SECONDS[unit])
            t = t + delta if sign == "+" else t - delta
        if m.group(2):
            t = _round(t, m.group(2), round_up)
        return t.astimezone(timezone.utc)
    if _DATE_ONLY.match(text):
        try:
            day = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
        except ValueError:
            raise ValueError(f"expected a date (2024-05-01, 2024-05-01T10:00:00Z) or date math (now-15m, now-1d/d), got {text!r}") from None
        return day + timedelta(days=1) - timedelta(microseconds=1) if round_up else day
    try:
        t = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"expected a date (2024-05-01, 2024-05-01T10:00:00Z) or date math (now-15m, now-1d/d), got {text!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)
