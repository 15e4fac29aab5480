from hypothesis import given, strategies as st

from logwarden.ingest.framing import SyslogFramer

messages = st.lists(st.binary(min_size=1, max_size=80).map(lambda b: b"<13>" + b.replace(b"\n", b" ").replace(b"\r", b" ").replace(b"\x00", b" ")), min_size=1, max_size=12)


def frame(msgs, kinds):
    out = b""
    for m, octet in zip(msgs, kinds):
        out += (b"%d %s" % (len(m), m)) if octet else m + b"\n"
    return out


def feed_chunks(framer, data, cuts):
    got, prev = [], 0
    for c in sorted(cuts) + [len(data)]:
        got += framer.feed(data[prev:c])
        prev = c
    return got + framer.close()


@given(messages, st.data())
def test_mixed_framings_any_chunking(msgs, data):
    kinds = data.draw(st.lists(st.booleans(), min_size=len(msgs), max_size=len(msgs)))
    payload = frame(msgs, kinds)
    cuts = data.draw(st.lists(st.integers(0, len(payload)), max_size=10))
    got = feed_chunks(SyslogFramer(max_bytes=4096), payload, cuts)
    assert [f.data for f in got] == msgs
    assert not any(f.truncated for f in got)


def test_octet_counting_keeps_embedded_newlines():
    msg = b"<13>1 - host app - - - line one\nline two"
    got = SyslogFramer().feed(b"%d %s" % (len(msg), msg))
    assert [f.data for f in got] == [msg]


def test_newline_framing_with_crlf_and_nul_trailers():
    got = SyslogFramer().feed(b"<13>a\r\n<13>b\x00\n<13>c\n<13>d\x00<13>e\x00")
    assert [f.data for f in got] == [b"<13>a", b"<13>b", b"<13>c", b"<13>d", b"<13>e"]


def test_oversized_octet_counted_message_is_cut_and_the_stream_continues():
    big = b"<13>" + b"x" * 2000
    f = SyslogFramer(max_bytes=500)
    got = feed_chunks(f, b"%d %s<13>next\n" % (len(big), big), [3, 100, 700, 1500])
    assert [(len(x.data), x.truncated) for x in got] == [(500, True), (8, False)]
    assert got[0].data == big[:500] and got[1].data == b"<13>next"


def test_oversized_newline_message_is_cut_and_memory_bounded():
    f = SyslogFramer(max_bytes=500)
    out = f.feed(b"<13>" + b"y" * 300)
    for _ in range(20):
        out += f.feed(b"y" * 1000)
        assert len(f._buf) <= 1000 + 500
    out += f.feed(b"yyy\n<13>ok\n")
    assert [(len(x.data), x.truncated) for x in out] == [(500, True), (6, False)]


def test_bad_octet_count_is_reported_and_kept_as_a_line():
    f = SyslogFramer()
    got = f.feed(b"12x3 not a count\n")
    assert [x.data for x in got] == [b"12x3 not a count"] and f.errors == 1


def test_partial_length_waits():
    f = SyslogFramer()
    assert f.feed(b"1") == []
    assert f.feed(b"1 <13>abcdef") == []
    assert [x.data for x in f.feed(b"g")] == [b"<13>abcdefg"]


@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=8))
def test_garbage_never_crashes_and_memory_stays_bounded(data, cuts):
    f = SyslogFramer(max_bytes=500)
    prev = 0
    for c in sorted(min(c, len(data)) for c in cuts) + [len(data)]:
        for frame in f.feed(data[prev:c]):
            assert len(frame.data) <= 500
        prev = c
        assert len(f._buf) <= 500 + 1 + 10 + 1 + 3000  # a kept head, a length, and one read at most
    for frame in f.close():
        assert len(frame.data) <= 500
