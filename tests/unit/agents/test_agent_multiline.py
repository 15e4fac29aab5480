from logwarden.agents.config import MultilineConfig
from logwarden.agents.multiline import MultilineJoiner
from logwarden.agents.splitter import LineSplitter


def lines_of(text: bytes):
    return LineSplitter().feed(text)


JAVA = (b"2024-01-01 ERROR boom\n"
        b"java.lang.RuntimeException: x\n"
        b"\tat a.b(C.java:1)\n"
        b"\tat d.e(F.java:2)\n"
        b"2024-01-01 INFO next\n")


def test_after_negate_joins_lines_not_starting_with_a_date():
    j = MultilineJoiner(MultilineConfig(pattern=r"^\d{4}-\d{2}-\d{2}", negate=True, match="after"))
    recs = j.feed(lines_of(JAVA), now=0.0)
    assert len(recs) == 1
    assert recs[0].data == b"2024-01-01 ERROR boom\njava.lang.RuntimeException: x\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)"
    assert list(recs[0].flags) == ["multiline"] and recs[0].offset == 0
    assert recs[0].end == JAVA.index(b"2024-01-01 INFO")
    last = j.flush()
    assert last.data == b"2024-01-01 INFO next" and list(last.flags) == []


def test_after_pattern_indented_lines():
    j = MultilineJoiner(MultilineConfig(pattern=r"^\s", match="after"))
    recs = j.feed(lines_of(b"a\n  b\n  c\nd\n"), now=0.0)
    assert [r.data for r in recs] == [b"a\n  b\n  c"]
    assert j.pending


def test_before_backslash_continuation():
    j = MultilineJoiner(MultilineConfig(pattern=r"\\$", match="before"))
    recs = j.feed(lines_of(b"one \\\ntwo \\\nthree\nfour\n"), now=0.0)
    assert [r.data for r in recs] == [b"one \\\ntwo \\\nthree", b"four"]
    assert not j.pending


def test_max_lines_starts_a_new_record():
    j = MultilineJoiner(MultilineConfig(pattern=r"^\s", match="after", max_lines=2))
    recs = j.feed(lines_of(b"a\n 1\n 2\n 3\nb\n"), now=0.0)
    assert [r.data for r in recs] == [b"a\n 1", b" 2\n 3"]


def test_timeout_ships_pending_record():
    j = MultilineJoiner(MultilineConfig(pattern=r"^\s", match="after", timeout_ms=1000))
    assert j.feed(lines_of(b"a\n b\n"), now=10.0) == []
    assert j.poll(10.5) is None
    rec = j.poll(11.0)
    assert rec.data == b"a\n b" and not j.pending


def test_truncated_flag_survives_joining():
    sp = LineSplitter(max_bytes=64)
    j = MultilineJoiner(MultilineConfig(pattern=r"^\s", match="after"))
    j.feed(sp.feed(b"head\n " + b"x" * 100 + b"\n"), now=0.0)
    rec = j.flush()
    assert list(rec.flags) == ["multiline", "truncated"]
