"""A tailed file's lifecycle as a transition table (h11 `_state.py` style).

    discovered --open--> tailing
    tailing --eof/grew/truncated--> tailing   (truncated: reading restarts at offset 0)
    tailing --moved--> rotated          (path renamed away or deleted; keep reading the fd)
    tailing --inactive--> closed        (idle file: reopened at its registry offset when it grows)
    rotated --grew/truncated/moved--> rotated
    rotated --eof--> drained            (read to the end; the writer may still append)
    drained --eof/moved--> drained
    drained --grew/truncated--> rotated (the writer appended, or truncated and refilled it, before it reopened its log)
    drained --inactive--> closed        (nothing new for close_inactive_ms: release the fd)
    discovered/tailing/rotated/drained/closed --stop--> closed   (agent shutdown)

`moved` is detected by comparing the open descriptor's (device, inode) with what the
path leads to now, on every poll; `truncated` when the file is shorter than the read
position (copytruncate). docs/agents.md prints this table (`markdown_table()`), and a unit test holds the
diagram above to it, arrow for arrow.

The table says what a file is, not whether it may be read now: that is the service's
rule (agents/service.py `_blocked`: a file waits while an *older* file opened at its path
is `rotated`, so the oldest always drains), and `rotated -> drained` needs a read to the
end, which only happens once backpressure lets the harvester read.
"""
from __future__ import annotations

from enum import Enum


class FileState(str, Enum):
    DISCOVERED = "discovered"
    TAILING = "tailing"
    ROTATED = "rotated"
    DRAINED = "drained"
    CLOSED = "closed"


class FileEvent(str, Enum):
    OPEN = "open"
    EOF = "eof"
    GREW = "grew"
    TRUNCATED = "truncated"
    MOVED = "moved"
    INACTIVE = "inactive"
    STOP = "stop"


S, E = FileState, FileEvent
TRANSITIONS: dict[tuple[FileState, FileEvent], FileState] = {
    (S.DISCOVERED, E.OPEN): S.TAILING,
    (S.DISCOVERED, E.STOP): S.CLOSED,
    (S.TAILING, E.EOF): S.TAILING,
    (S.TAILING, E.GREW): S.TAILING,
    (S.TAILING, E.TRUNCATED): S.TAILING,
    (S.TAILING, E.MOVED): S.ROTATED,
    (S.TAILING, E.INACTIVE): S.CLOSED,
    (S.TAILING, E.STOP): S.CLOSED,
    (S.ROTATED, E.GREW): S.ROTATED,
    (S.ROTATED, E.EOF): S.DRAINED,
    (S.ROTATED, E.TRUNCATED): S.ROTATED,
    (S.ROTATED, E.MOVED): S.ROTATED,
    (S.ROTATED, E.STOP): S.CLOSED,
    (S.DRAINED, E.EOF): S.DRAINED,
    (S.DRAINED, E.GREW): S.ROTATED,
    (S.DRAINED, E.TRUNCATED): S.ROTATED,
    (S.DRAINED, E.MOVED): S.DRAINED,
    (S.DRAINED, E.INACTIVE): S.CLOSED,
    (S.DRAINED, E.STOP): S.CLOSED,
    (S.CLOSED, E.STOP): S.CLOSED,
}


class InvalidTransition(Exception):
    pass


def transition(state: FileState, event: FileEvent) -> FileState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"{event.value} is not valid in state {state.value}") from None


def markdown_table() -> str:
    """The transition table as Markdown (docs/agents.md embeds it; a test keeps it current)."""
    events = list(FileEvent)
    rows = ["| from \\ event | " + " | ".join(e.value for e in events) + " |",
            "| --- |" + " --- |" * len(events)]
    for st in FileState:
        cells = [TRANSITIONS[(st, e)].value if (st, e) in TRANSITIONS else "" for e in events]
        rows.append(f"| {st.value} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
