import pytest

from logwarden.agents.lifecycle import TRANSITIONS, FileEvent, FileState, InvalidTransition, transition


def test_rename_rotation_path():
    s = FileState.DISCOVERED
    for ev in (FileEvent.OPEN, FileEvent.GREW, FileEvent.MOVED, FileEvent.GREW, FileEvent.EOF, FileEvent.INACTIVE):
        s = transition(s, ev)
    assert s is FileState.CLOSED


def test_drained_file_that_grows_is_rotated_again():
    assert transition(FileState.DRAINED, FileEvent.GREW) is FileState.ROTATED


def test_truncation_keeps_tailing():
    assert transition(FileState.TAILING, FileEvent.TRUNCATED) is FileState.TAILING


def test_invalid_transitions_raise():
    with pytest.raises(InvalidTransition):
        transition(FileState.CLOSED, FileEvent.OPEN)
    with pytest.raises(InvalidTransition):
        transition(FileState.ROTATED, FileEvent.INACTIVE)  # must drain first


def test_every_state_can_stop_and_closed_is_terminal():
    for s in FileState:
        assert transition(s, FileEvent.STOP) is FileState.CLOSED
    assert {ev for (st, ev) in TRANSITIONS if st is FileState.CLOSED} == {FileEvent.STOP}


from hypothesis import given, strategies as st  # noqa: E402


@given(st.lists(st.sampled_from(list(FileEvent)), max_size=40))
def test_random_event_sequences_keep_the_invariants(events):
    """Apply every event that is valid where it arrives; the lifecycle must stay coherent."""
    state = transition(FileState.DISCOVERED, FileEvent.OPEN)
    left_its_path = False
    for ev in events:
        if (state, ev) not in TRANSITIONS:
            continue
        new = transition(state, ev)
        if state in (FileState.ROTATED, FileState.DRAINED):
            left_its_path = True
        if left_its_path:
            assert new is not FileState.TAILING, "a rotated file never becomes the path's file again"
        if ev is FileEvent.INACTIVE:
            assert state in (FileState.TAILING, FileState.DRAINED), "a rotated file is drained before it closes"
        if state is FileState.CLOSED:
            assert new is FileState.CLOSED
        state = new
    assert transition(state, FileEvent.STOP) is FileState.CLOSED


def test_docs_show_the_current_table():
    from pathlib import Path

    from logwarden.agents.lifecycle import markdown_table

    docs = (Path(__file__).resolve().parents[3] / "docs" / "agents.md").read_text()
    assert markdown_table() in docs, "docs/agents.md: paste logwarden.agents.lifecycle.markdown_table()"


def test_the_module_docstring_draws_exactly_the_table():
    # The docstring's diagram disagreed with TRANSITIONS (drained --truncated--> is rotated, not
    # "the same state"; several arrows were missing): every arrow drawn is in the table, and
    # every transition of the table is drawn.
    import re

    from logwarden.agents import lifecycle

    drawn = set()
    for line in lifecycle.__doc__.splitlines():
        m = re.match(r"\s+([a-z/]+) --([a-z/]+)--> ([a-z]+)", line)
        if m:
            drawn |= {(a, e, m.group(3)) for a in m.group(1).split("/") for e in m.group(2).split("/")}
    table = {(a.value, e.value, b.value) for (a, e), b in lifecycle.TRANSITIONS.items()}
    assert drawn == table, f"drawn, not in the table: {sorted(drawn - table)}; in the table, not drawn: {sorted(table - drawn)}"
