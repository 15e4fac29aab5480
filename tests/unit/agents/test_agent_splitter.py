from hypothesis import given, strategies as st

from logwarden.agents.splitter import LineSplitter


def feed_all(chunks, **kw):
    sp = LineSplitter(**kw)
    out = []
    for c in chunks:
        out += sp.feed(c)
    return sp, out


def test_complete_lines_and_offsets():
    sp, lines = feed_all([b"a\nbb\r\nccc\n"])
    assert [(ln.offset, ln.end, ln.data) for ln in lines] == [(0, 2, b"a"), (2, 6, b"bb"), (6, 10, b"ccc")]
    assert sp.position == 10 and sp.pending == 0


def test_partial_tail_is_kept_until_newline():
    sp, lines = feed_all([b"hello wo"])
    assert lines == [] and sp.pending == 8 and sp.resume_offset == 0
    more = sp.feed(b"rld\nnext")
    assert [(ln.offset, ln.data) for ln in more] == [(0, b"hello world")]
    assert sp.resume_offset == 12 and sp.position == 16


def test_start_offset_is_absolute():
    _, lines = feed_all([b"x\ny\n"], offset=100)
    assert [(ln.offset, ln.end) for ln in lines] == [(100, 102), (102, 104)]


def test_long_line_is_truncated_and_flagged_and_rest_skipped():
    sp, lines = feed_all([b"A" * 50, b"B" * 50, b"C" * 50 + b"\nok\n"], max_bytes=64)
    assert len(lines) == 2
    cut, ok = lines
    assert cut.truncated and cut.data == b"A" * 50 + b"B" * 14
    assert (cut.offset, cut.end) == (0, 151)  # end is the real line boundary
    assert not ok.truncated and ok.data == b"ok" and ok.offset == 151
    assert sp.pending == 0


def test_long_line_within_one_chunk():
    _, lines = feed_all([b"x" * 100 + b"\n"], max_bytes=64)
    assert lines[0].truncated and len(lines[0].data) == 64 and lines[0].end == 101


def test_memory_is_bounded_while_skipping():
    sp = LineSplitter(max_bytes=64)
    for _ in range(100):
        sp.feed(b"z" * 1000)
    assert sp.pending <= 64


def test_flush_returns_partial_last_line():
    sp, _ = feed_all([b"a\nlast"])
    line = sp.flush()
    assert (line.offset, line.end, line.data) == (2, 6, b"last")
    assert sp.flush() is None


@given(st.lists(st.binary(max_size=40), max_size=20), st.data())
def test_any_chunking_gives_the_same_lines(parts, data):
    content = b"\n".join(parts) + b"\n"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(content)), max_size=8)))
    chunks, prev = [], 0
    for c in cuts + [len(content)]:
        chunks.append(content[prev:c])
        prev = c
    sp, lines = feed_all(chunks, max_bytes=1 << 20)
    expected = [p[:-1] if p.endswith(b"\r") else p for p in content.split(b"\n")[:-1]]
    assert [ln.data for ln in lines] == expected
    for ln in lines:
        assert content[ln.offset:ln.end].rstrip(b"\n").rstrip(b"\r") == ln.data
    assert lines[-1].end == len(content) and sp.pending == 0


@given(st.lists(st.binary(min_size=0, max_size=200).filter(lambda b: b"\n" not in b), min_size=1, max_size=10), st.integers(1, 50))
def test_truncation_keeps_line_boundaries(parts, chunk):
    content = b"\n".join(parts) + b"\n"
    chunks = [content[i:i + chunk] for i in range(0, len(content), chunk)]
    _, lines = feed_all(chunks, max_bytes=64)
    assert len(lines) == len(parts)
    for ln, p in zip(lines, parts):
        body = p[:-1] if p.endswith(b"\r") else p
        assert ln.truncated == (len(body) > 64)
        assert ln.data == body[:64]


def test_truncations_are_counted():
    sp = LineSplitter(max_bytes=64)
    sp.feed(b"a" * 100 + b"\nok\n" + b"b" * 70)
    sp.feed(b"\n" + b"c" * 200)
    sp.feed(b"\n")
    assert sp.truncated == 3
