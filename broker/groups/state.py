"""Consumer-group states and the transitions allowed between them, as a table (h11 style).

    Empty ──join──► PreparingRebalance ──all joined──► CompletingRebalance ──leader sync──► Stable
      ▲                 ▲    │ last member left                 │ join/leave/timeout        │
      └─────────────────┼────┘                                  ▼                           │
                        └───────────── join / leave / session timeout ◄─────────────────────┘
    Dead: the group was deleted (no members, no offsets); any state may go there.
"""
from __future__ import annotations

import enum


class GroupState(str, enum.Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


S = GroupState
TRANSITIONS: dict[GroupState, frozenset[GroupState]] = {
    S.EMPTY: frozenset({S.PREPARING_REBALANCE, S.DEAD}),
    S.PREPARING_REBALANCE: frozenset({S.COMPLETING_REBALANCE, S.EMPTY, S.DEAD}),
    S.COMPLETING_REBALANCE: frozenset({S.PREPARING_REBALANCE, S.STABLE, S.DEAD}),
    S.STABLE: frozenset({S.PREPARING_REBALANCE, S.DEAD}),
    S.DEAD: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


def check_transition(old: GroupState, new: GroupState) -> None:
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(f"group cannot go from {old.value} to {new.value}")
