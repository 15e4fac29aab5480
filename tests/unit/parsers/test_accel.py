"""The C accelerator (parsers/_accel.c) against its Python twin in fastpath.py: the same
bytes for every input, errors instead of crashes for wrong ones. Under CI=true it must be
built (`.ci/run` installs with a C compiler); a missing build fails there instead of
quietly testing only the Python path."""
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logwarden.parsers import fastpath
from logwarden.parsers.fastpath import ENVELOPE_ACCESS, _access_doc, _envelope_tail

from test_fastpath import SAMPLE, env, template

accel = pytest.importorskip("logwarden.parsers._accel", reason="the C accelerator is not installed (no C compiler at install time)")


def test_built_and_used():
    assert fastpath.ACCELERATED
    assert fastpath.access_doc is accel.access_doc and fastpath.envelope_tail is accel.envelope_tail
    with fastpath.python_twins():
        assert fastpath.access_doc is fastpath._access_doc and fastpath.envelope_tail is fastpath._envelope_tail
    assert fastpath.access_doc is accel.access_doc


def _args(value: bytes):
    m = ENVELOPE_ACCESS.match(value)
    assert m is not None, value
    e = value.find(b',"file":{')
    j = len(value) - fastpath._TAIL
    return (m.groups(), value, m.end(1) + 2, j, b"2015-05-17", b"2026-11-26T10:00:00.000Z", b"},", b',"ip":"1.2.3.4"'), value[e:j]


def test_real_log_identical():
    lines = Path(SAMPLE).read_text(encoding="utf-8").splitlines()[:2000]
    tpl = template(tags=["web"])
    n = 0
    for i, line in enumerate(lines):
        value = env(line, tpl, i * 100)
        if ENVELOPE_ACCESS.match(value) is None:
            continue
        args, mid = _args(value)
        assert accel.access_doc(*args) == _access_doc(*args)
        assert accel.envelope_tail(value, mid) == _envelope_tail(value, mid) > 0
        n += 1
    assert n >= 1990


_safe = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"\\?'), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(user=st.one_of(st.just("-"), _safe), path=_safe, query=st.one_of(st.none(), st.just(""), _safe),
       version=st.sampled_from(["", " HTTP/1.1"]), status=st.sampled_from(["200", "404", "503", "301"]),
       size=st.sampled_from(["-", "0", "512"]), quoted=st.one_of(st.none(), st.tuples(st.sampled_from(["-", "", "r"]), st.sampled_from(["-", "", "ua x"]))))
def test_every_shape_identical(user, path, query, version, status, size, quoted):
    target = path if query is None else f"{path}?{query}"
    tail = "" if quoted is None else f' "{quoted[0]}" "{quoted[1]}"'
    value = env(f'203.0.113.9 - {user} [17/May/2015:10:05:03 +0000] "GET {target}{version}" {status} {size}{tail}')
    args, mid = _args(value)
    assert accel.access_doc(*args) == _access_doc(*args)


@pytest.mark.parametrize("value,mid", [
    (b"", b""), (b"x", b"x"), (b'"}}', b""), (b',"event":{"id":"' + b"a" * 32 + b'"}}', b""),
    (b'{"a":1,"event":{"id":"' + b"a" * 32 + b'"}}', b',"a":1'), (b'{"a":1,"event":{"id":"' + b"a" * 32 + b'"}}', b'"a":1'),
    (b'{"a":1,"event":{"id":"' + b"a" * 31 + b'-"}}', b'"a":1'), (b'{"a":1,"event":{"id":"' + b"a" * 32 + b'"}]', b'"a":1'),
    (b'{"a":1,"event":{"id":"' + b"a" * 32 + b'"}}', b'{"a":1' * 9),
])
def test_tail_edges_identical(value, mid):
    assert accel.envelope_tail(value, mid) == _envelope_tail(value, mid)


def test_wrong_arguments_raise():
    (g, value, start, j, *rest), _ = _args(env('203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 5 "-" "x"'))
    with pytest.raises(TypeError):
        accel.access_doc(g[:11], value, start, j, *rest)
    with pytest.raises(TypeError):
        accel.access_doc((None,) + g[1:], value, start, j, *rest)
    with pytest.raises(TypeError):
        accel.access_doc(g, value.decode(), start, j, *rest)
    with pytest.raises(ValueError):
        accel.access_doc(g, value, start, len(value), *rest)
    with pytest.raises(ValueError):
        accel.access_doc(g, value, j + 1, j, *rest)
    with pytest.raises(TypeError):
        accel.envelope_tail(value, None)
    with pytest.raises(TypeError):
        accel.access_doc()
