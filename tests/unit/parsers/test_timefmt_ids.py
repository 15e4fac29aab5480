"""The hot-path shortcuts agree with the slow, obvious implementations (property tests)."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from logwarden.events import raw_event_id
from logwarden.parsers.ids import fast_raw_event_id
from logwarden.parsers.timefmt import MONTHS, BsdConverter, ClfConverter, IsoConverter, iso, zone

MON = {v: k for k, v in MONTHS.items()}
# fold=0: an ambiguous local time (the repeated DST hour) is read as its first occurrence
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31)).map(lambda d: d.replace(microsecond=0, fold=0))


@settings(max_examples=60, deadline=None)
@given(moments, st.integers(-14 * 60, 14 * 60).map(lambda m: m - m % 15))
def test_clf_matches_datetime(dt, offset_min):
    tz = timezone(timedelta(minutes=offset_min))
    sign = "-" if offset_min < 0 else "+"
    off = f"{sign}{abs(offset_min) // 60:02d}{abs(offset_min) % 60:02d}"
    text = f"{dt.day:02d}/{MON[dt.month]}/{dt.year}:{dt:%H:%M:%S} {off}"
    assert ClfConverter()(text) == iso(dt.replace(tzinfo=tz))


@settings(max_examples=60, deadline=None)
@given(moments)
def test_bsd_matches_datetime(dt):
    now = dt + timedelta(hours=3)  # read soon after it was written (possibly in the next year)
    text = f"{MON[dt.month]} {dt.day:>2} {dt:%H:%M:%S}"
    for tz_name in ("UTC", "Europe/Berlin", "-02:00"):
        tz = zone(tz_name)
        assert BsdConverter(tz, now=now.replace(tzinfo=tz))(text) == iso(dt.replace(tzinfo=tz)), tz_name


def test_rfc3164_year_inference():
    from logwarden.parsers.timefmt import infer_year
    now = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)
    assert infer_year(11, 26, now) == 2026 and infer_year(11, 27, now) == 2026  # a day of slack
    assert infer_year(11, 28, now) == 2025 and infer_year(12, 31, now) == 2025  # replayed last year
    assert infer_year(1, 1, now) == 2026
    assert infer_year(1, 1, datetime(2026, 12, 31, 23, tzinfo=timezone.utc)) == 2027
    assert infer_year(12, 31, datetime(2027, 1, 1, 0, 5, tzinfo=timezone.utc)) == 2026


@settings(max_examples=60, deadline=None)
@given(moments, st.sampled_from(["Z", "+00:00", "+05:30", "-02:00", ""]), st.sampled_from(["", ".1", ".123456", ".123456789"]))
def test_iso_converter(dt, tz_text, frac):
    text = dt.isoformat() + frac + tz_text
    out = IsoConverter(timezone.utc)(text)
    expect = datetime.fromisoformat(dt.isoformat() + (frac + "000000")[:7] if frac else dt.isoformat())
    tz = timezone.utc if tz_text in ("", "Z") else datetime.fromisoformat("2000-01-01T00:00:00" + tz_text).tzinfo
    assert out == iso(expect.replace(tzinfo=tz))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20), st.text(max_size=30), st.one_of(st.none(), st.text(max_size=8)), st.integers(0, 2**63),
       st.booleans(), st.one_of(st.none(), st.text(min_size=1, max_size=10)))
def test_fast_event_id_equals_core(host, path, inode, offset, with_device, fingerprint):
    file = {"path": path}
    if inode:
        file["inode"] = inode
        if with_device:
            file["device_id"] = "2049"
    if fingerprint:
        file["fingerprint"] = fingerprint
    raw = {"message": "x", "host": {"name": host}, "log": {"file": file, "offset": offset}}
    assert fast_raw_event_id(raw) == raw_event_id(raw)
    assert fast_raw_event_id(raw) == raw_event_id(raw)  # second call: cached prefix
    for other in ({"message": "x"}, {"message": "x", "event": {"id": "abc"}}, {"message": "x", "log": {"offset": 5}}):
        assert fast_raw_event_id(other) == raw_event_id(other)


def test_utc_spellings_are_one_object():
    assert zone("Etc/UTC") is zone("UTC") is zone("+00:00") is timezone.utc
