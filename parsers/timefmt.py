"""Timestamps as log lines write them, turned into ECS `@timestamp` strings.

Every parser ends with an RFC 3339 UTC string with milliseconds (`2015-05-17T10:05:03.000Z`),
the same shape `logwarden.events.now_iso` produces, so the index and the rules compare
instants as strings and never see two spellings of one moment.

Log lines repeat the same second many times, so each converter keeps a small cache keyed by
the raw text: the per-event cost is one dict lookup. The caches are bounded (cleared when
they pass `_CACHE_MAX`) because a replay of old logs walks through millions of seconds.

Formats without a zone (RFC 3164, nginx error logs) are read in a configured zone; RFC 3164
also lacks the year, which `infer_year` supplies (see there).
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

UTC = timezone.utc
_CACHE_MAX = 4096  # distinct timestamps kept per converter; a few seconds of busy traffic

MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


_UTC_NAMES = frozenset(("UTC", "Z", "ETC/UTC", "ETC/UCT", "UCT", "ETC/UNIVERSAL", "UNIVERSAL", "ETC/ZULU", "ZULU",
                        "GMT", "ETC/GMT", "+00:00", "+0000", "-00:00"))


def zone(name: str | None) -> tzinfo:
    """A tzinfo for a config value: "UTC", "local", an IANA name or a fixed "+02:00" offset.

    Every spelling of UTC returns the one `UTC` object, which the converters' fast paths test for.
    """
    if not name or name.upper() in _UTC_NAMES:
        return UTC
    if name == "local":
        z = local_zone()
        return UTC if str(z).upper() in _UTC_NAMES else z
    if name[0] in "+-" and len(name) in (5, 6):
        sign = -1 if name[0] == "-" else 1
        hh, mm = int(name[1:3]), int(name[-2:])
        return timezone(sign * timedelta(hours=hh, minutes=mm))
    return ZoneInfo(name)


def local_zone() -> tzinfo:
    """This host's zone with its DST rules: $TZ, else /etc/localtime, else the current offset."""
    import os

    tz = os.environ.get("TZ", "").lstrip(":")
    try:
        if tz:
            return ZoneInfo(tz)
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return ZoneInfo(target.split("zoneinfo/", 1)[1])
    except (ValueError, OSError, KeyError):
        pass
    return datetime.now().astimezone().tzinfo or UTC


def iso(dt: datetime) -> str:
    """An aware datetime as the canonical ECS string (UTC, milliseconds, Z)."""
    dt = dt.astimezone(UTC)
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{dt.microsecond // 1000:03d}Z"


def epoch_iso(seconds: float) -> str | None:
    """Seconds since the epoch as ECS text; None when outside datetime's years 1-9999."""
    try:
        return iso(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return None


class _ZonedConverter:
    """A cached text -> ECS converter for layouts that may carry no zone (read in `tz`)."""

    __slots__ = ("tz", "cache")

    def __init__(self, tz: tzinfo = UTC):
        self.tz = tz
        self.cache: dict[str, str] = {}

    def _parse(self, text: str) -> datetime:  # each layout's own reading; ValueError when it does not fit
        raise TypeError(f"{type(self).__name__} must define _parse")

    def __call__(self, text: str) -> str | None:
        out = self.cache.get(text)
        if out is not None:
            return out
        try:
            dt = self._parse(text)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        out = iso(dt)
        if len(self.cache) > _CACHE_MAX:
            self.cache.clear()
        self.cache[text] = out
        return out


class IsoConverter(_ZonedConverter):
    """ISO 8601 / RFC 3339 text (any fraction length, `Z` or offset, or none) to ECS."""

    __slots__ = ()

    def _parse(self, text: str) -> datetime:
        return datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text)


class ClfConverter:
    """Common Log Format time `17/May/2015:10:05:03 +0000` (Apache, nginx access)."""

    __slots__ = ("cache",)

    def __init__(self) -> None:
        self.cache: dict[str, str] = {}

    def __call__(self, text: str) -> str | None:
        out = self.cache.get(text)
        if out is not None:
            return out
        try:
            day, mon, rest = text.split("/", 2)
            year, hh, mi, ss_off = rest.split(":", 3)
            ss, _, off = ss_off.partition(" ")
            if (off in ("+0000", "-0000") and len(ss) == 2 and len(day) == 2 and len(year) == 4 and len(hh) == 2
                    and len(mi) == 2 and (year + day + hh + mi + ss).isdigit() and hh < "24" and mi < "60" and ss < "60"
                    and "01" <= day <= "28"):
                # UTC and a day every month has, the usual case: string assembly, no datetime
                out = f"{year}-{MONTHS[mon]:02d}-{day}T{hh}:{mi}:{ss}.000Z"
                if len(self.cache) > _CACHE_MAX:
                    self.cache.clear()
                self.cache[text] = out
                return out
            sec, _, frac = ss.partition(".")
            micro = int((frac + "000000")[:6]) if frac else 0
            tz = UTC
            if off and off not in ("+0000", "-0000", "Z"):
                sign = -1 if off[0] == "-" else 1
                tz = timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[-2:])))
            dt = datetime(int(year), MONTHS[mon], int(day), int(hh), int(mi), int(sec), micro, tz)
        except (ValueError, KeyError, IndexError):
            return None
        out = iso(dt)
        if len(self.cache) > _CACHE_MAX:
            self.cache.clear()
        self.cache[text] = out
        return out


def infer_year(month: int, day: int, now: datetime) -> int:
    """The year of an RFC 3164 timestamp, which has none.

    The line is assumed to be from the past year: this year, unless that puts it more than
    a day in the future (December lines read in January, or last year's logs replayed,
    belong to last year); a 1 January line read on 31 December (clock skew across New Year)
    belongs to next year. A day of slack covers skew and zone differences.
    """
    year = now.year
    if month == 1 and day == 1 and now.month == 12 and now.day == 31:
        return year + 1
    if (month, day) > (now.month, now.day + 1):
        return year - 1
    return year


class BsdConverter:
    """RFC 3164 time `Oct  3 14:15:16` (optionally with `.123456` fraction) read in `tz`."""

    __slots__ = ("tz", "cache", "now", "_clock", "_clock_at")

    def __init__(self, tz: tzinfo = UTC, now: datetime | None = None):
        self.tz = tz
        self.now = now  # fixed "now" for tests and replays; None means the wall clock
        self.cache: dict[str, str] = {}
        self._clock: datetime | None = None
        self._clock_at = 0.0

    def _today(self) -> datetime:
        if self.now is not None:
            return self.now
        t = time.monotonic()
        if self._clock is None or t - self._clock_at > 1.0:  # year inference needs the date, not the microsecond
            self._clock = datetime.now(self.tz)
            self._clock_at = t
        return self._clock

    def __call__(self, text: str) -> str | None:
        out = self.cache.get(text)
        if out is not None:
            return out
        try:
            mon = MONTHS[text[:3]]
            day = int(text[4:6])
            hh, mi, ss = text[7:].split(":")
            sec, _, frac = ss.partition(".")
            year = infer_year(mon, day, self._today())
            if (self.tz is UTC and not frac and len(hh) == 2 and len(mi) == 2 and len(sec) == 2
                    and (hh + mi + sec).isdigit() and hh < "24" and mi < "60" and sec < "60" and 1 <= day <= 28):
                out = f"{year:04d}-{mon:02d}-{day:02d}T{hh}:{mi}:{sec}.000Z"  # no datetime on the common path
            else:
                micro = int((frac + "000000")[:6]) if frac else 0
                dt = datetime(year, mon, day, int(hh), int(mi), int(sec), micro)
                out = iso(_localize(dt, self.tz))
        except (ValueError, KeyError, IndexError):
            return None
        if len(self.cache) > _CACHE_MAX:
            self.cache.clear()
        self.cache[text] = out
        return out


def _localize(naive: datetime, tz: tzinfo) -> datetime:
    return naive.replace(tzinfo=tz)


class LayoutConverter(_ZonedConverter):
    """A strptime layout (e.g. nginx error `%Y/%m/%d %H:%M:%S`) read in `tz` when it has no zone."""

    __slots__ = ("layout",)

    def __init__(self, layout: str, tz: tzinfo = UTC):
        super().__init__(tz)
        self.layout = layout

    def _parse(self, text: str) -> datetime:
        return datetime.strptime(text, self.layout)


def parse_any(text: str, tz: tzinfo = UTC) -> str | None:
    """Best effort for timestamps of unknown shape (JSON fields): ISO, epoch s/ms, CLF, 3164."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        v = float(text)
        if v > 1e14:  # microseconds
            v /= 1e6
        elif v > 1e11:  # milliseconds
            v /= 1e3
        try:
            return epoch_iso(v)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(text, str) or not text:
        return None
    if text[0].isdigit():
        if text.replace(".", "", 1).isdigit():
            return parse_any(float(text), tz)
        out = IsoConverter(tz)(text)
        if out is None and "/" in text[:6]:
            out = ClfConverter()(text)
        return out
    if text[:3] in MONTHS:
        return BsdConverter(tz)(text)
    return None


# A timestamp somewhere near the start of a line no format recognised (`ERROR
# 2026-12-07T13:00:01Z worker-3 ...`): ISO 8601 (T or space, `,` or `.` fraction, optional
# zone), CLF `07/Dec/2026:13:00:01 +0000`, RFC 3164 `Dec  7 13:00:01`.
_FIND_ISO = re.compile(r"(?<!\d)(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)(?!\d)")
_FIND_CLF = re.compile(r"(?<!\d)(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d{4})?)")
_FIND_BSD = re.compile(r"(?<![A-Za-z])((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d)(?!\d)")
FIND_WINDOW = 64   # characters searched: a timestamp further in is more likely part of the text


def find_time(line: str, tz: tzinfo = UTC, now: datetime | None = None) -> str | None:
    """The ECS time of the first timestamp in the first FIND_WINDOW characters, else None.

    For lines no format recognised: a level word or a thread name before the time is common
    (`ERROR 2026-12-07T13:00:01Z worker-3 ...`), and the time the line states is worth more
    than the time it was read. Zone-less times are read in `tz`, as the parsers do."""
    head = line[:FIND_WINDOW]
    found = [(m.start(), kind, m.group(1)) for kind, rx in (("iso", _FIND_ISO), ("clf", _FIND_CLF), ("bsd", _FIND_BSD))
             for m in (rx.search(head),) if m is not None]
    for _, kind, text in sorted(found):
        if kind == "iso":
            out = IsoConverter(tz)(text.replace(",", ".", 1))
        elif kind == "clf":
            out = ClfConverter()(text if " " in text else text + " +0000")
        else:
            out = BsdConverter(tz, now)(text)
        if out is not None:
            return out
    return None
