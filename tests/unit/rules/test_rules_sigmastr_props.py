"""Property tests: the regex-free wildcard matchers agree with a full-match regex."""
import re

from hypothesis import given, settings, strategies as st

from logwarden.rules import sigmastr as ss
from logwarden.rules.anchors import _atom, regex_atoms

ALPHABET = "ab*?\\."
TEXT = st.text(alphabet="ab.\\*?", max_size=12)


def reference(parts) -> re.Pattern:
    out = []
    for p in parts:
        out.append(".*" if p is ss.STAR else "." if p is ss.QMARK else re.escape(p))
    return re.compile("".join(out), re.S)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=10), TEXT)
def test_compiled_pattern_equals_regex_fullmatch(pattern, text):
    parts = ss.parse(pattern)
    kind, op = ss.compile_parts(parts)
    want = reference(parts).fullmatch(text) is not None
    if kind == "eq":
        got = text == op
    elif kind == "prefix":
        got = text.startswith(op)
    elif kind == "suffix":
        got = text.endswith(op)
    elif kind == "contains":
        got = op in text
    elif kind == "any":
        got = True
    else:
        got = op(text)
    assert got == want, (pattern, parts, kind, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=10), TEXT)
def test_atoms_are_necessary(pattern, text):
    """Whenever a pattern matches, its index atom is present (the index never hides a match)."""
    parts = ss.parse(pattern)
    atom = _atom(parts)
    if atom is None or reference(parts).fullmatch(text) is None:
        return
    kind, lit = atom
    if kind == "eq":
        assert text == lit
    else:
        import re2
        assert re2.search(lit, text) is not None, (pattern, atom, text)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(re.compile(r"[a-c()|+*?]{0,12}"), fullmatch=True), st.text(alphabet="abcABC", max_size=14))
def test_regex_atoms_are_necessary(pattern, text):
    try:
        rx = re.compile(pattern)
    except re.error:
        return
    atoms = regex_atoms(pattern)
    if atoms and rx.search(text):
        assert any(a in text.lower() for a in atoms), (pattern, atoms, text)


@given(st.text(alphabet=ALPHABET, max_size=10))
def test_to_text_round_trips(pattern):
    parts = ss.parse(pattern)
    assert ss.parse(ss.to_text(parts)) == parts
