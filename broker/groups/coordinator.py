"""The group coordinator: membership, rebalances and committed offsets for consumer groups.

Kafka's classic protocol. A member joins (JoinGroup); once every known member has
(re)joined, or the rebalance timeout has passed, the coordinator bumps the generation,
picks the protocol all members support and answers every pending join at once — the
leader gets the member list and computes the assignment, which it hands back in its
SyncGroup; the followers' SyncGroups are answered with their share. Heartbeats keep a
member alive and tell it (REBALANCE_IN_PROGRESS) when it must rejoin; a member that misses
its session timeout, or leaves, triggers a rebalance of the rest.

JoinGroup v4+ with an empty member id is answered MEMBER_ID_REQUIRED with a fresh id that
the client must send back (KIP-394). A static member (group.instance.id, KIP-345) gets its
id at once. When it comes back after a restart, it takes over its old slot under a new
member id and, as in Kafka, a Stable group hands it its previous assignment without a
rebalance - the point of static membership is that a rolling restart moves no partitions.
The old member id is fenced: whoever still uses it gets FENCED_INSTANCE_ID, which
clients treat as fatal, so two processes configured with one instance id cannot take
the slot from each other forever. The state machine is the table in `state.py`; this
class only decides which transition a request or a timer causes. Waiting requests are
asyncio futures resolved with the response dict the handler returns.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from logwarden.broker.protocol import errors as E

from .offsets import OffsetStore
from .state import GroupState, check_transition

log = logging.getLogger("logwarden.broker.groups")
S = GroupState

MIN_SESSION_TIMEOUT_MS = 1000   # Kafka: group.min.session.timeout.ms (6 s); tests use less
MAX_SESSION_TIMEOUT_MS = 1_800_000
# Kafka's group.initial.rebalance.delay.ms (3 s) lets several members of a new group join
# one rebalance; a short delay gets most of that benefit without slowing start-up.
INITIAL_REBALANCE_DELAY_S = 0.3


@dataclass
class Member:
    member_id: str
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    group_instance_id: str | None = None
    assignment: bytes = b""
    join_future: asyncio.Future[dict[str, Any]] | None = None
    sync_future: asyncio.Future[dict[str, Any]] | None = None
    timer: asyncio.TimerHandle | None = None


@dataclass
class Group:
    group_id: str
    state: GroupState = S.EMPTY
    protocol_type: str | None = None
    protocol_name: str | None = None
    generation_id: int = 0
    leader_id: str | None = None
    members: dict[str, Member] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)  # ids handed out with MEMBER_ID_REQUIRED
    rebalance_timer: asyncio.TimerHandle | None = None

    def transition(self, new: GroupState) -> None:
        check_transition(self.state, new)
        log.debug("group %s: %s -> %s (generation %d, %d members)", self.group_id, self.state.value, new.value,
                 self.generation_id, len(self.members), extra={"group": self.group_id, "from": self.state.value, "to": new.value,
                                       "generation": self.generation_id, "members": len(self.members)})
        self.state = new


class GroupCoordinator:
    def __init__(self, logs: Any):
        self.groups: dict[str, Group] = {}
        self.offsets = OffsetStore(logs)
        self._restore()

    # -- persistence of membership ----------------------------------------------------
    def _restore(self) -> None:
        """Groups that were Stable when the broker stopped come back Stable with the same
        generation and members, whose session timers start now: a member that returns
        carries on with its heartbeats and commits, one that does not expires as usual."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # built outside the broker's loop (tests): timers start with the first request
        for gid, meta in self.offsets.groups.items():
            g = self.groups[gid] = Group(gid, protocol_type=meta["protocol_type"] or None,
                                         generation_id=meta["generation"])
            if not meta["members"]:
                continue
            g.state, g.protocol_name, g.leader_id = S.STABLE, meta["protocol"], meta["leader"]
            for mm in meta["members"]:
                m = g.members[mm["member_id"]] = Member(
                    mm["member_id"], mm["client_id"], mm["client_host"], mm["session_timeout"], mm["rebalance_timeout"],
                    meta["protocol_type"], [(meta["protocol"] or "", mm["subscription"])], mm["group_instance_id"],
                    mm["assignment"])
                if loop is not None:
                    self._arm_session(g, m)
            log.info("group %s restored: generation %d, %d members", gid, g.generation_id, len(g.members))

    def _persist(self, g: Group) -> None:
        members = [{"member_id": m.member_id, "group_instance_id": m.group_instance_id, "client_id": m.client_id,
                    "client_host": m.client_host, "rebalance_timeout": m.rebalance_timeout_ms,
                    "session_timeout": m.session_timeout_ms,
                    "subscription": dict(m.protocols).get(g.protocol_name or "", b""), "assignment": m.assignment}
                   for m in g.members.values()] if g.state is S.STABLE else []
        self.offsets.store_group(g.group_id, {
            "protocol_type": g.protocol_type or "", "generation": g.generation_id, "protocol": g.protocol_name,
            "leader": g.leader_id, "current_state_timestamp": int(time.time() * 1000), "members": members})

    # -- helpers ------------------------------------------------------------------------
    def _loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def _arm_session(self, g: Group, m: Member) -> None:
        if m.timer is not None:
            m.timer.cancel()
        m.timer = self._loop().call_later(m.session_timeout_ms / 1000, self._session_expired, g.group_id, m.member_id)

    def _session_expired(self, group_id: str, member_id: str) -> None:
        g = self.groups.get(group_id)
        if g is None or member_id not in g.members:
            return
        m = g.members[member_id]
        if m.join_future is not None and not m.join_future.done():
            self._arm_session(g, m)  # waiting in a join: the rebalance timeout governs it
            return
        log.info("group %s: member %s missed its session timeout", group_id, member_id, extra={"group": group_id, "member": member_id})
        self._remove_member(g, m)

    def _remove_member(self, g: Group, m: Member) -> None:
        if m.timer is not None:
            m.timer.cancel()
        g.members.pop(m.member_id, None)
        for fut in (m.join_future, m.sync_future):
            if fut is not None and not fut.done():
                fut.set_result({"error_code": E.UNKNOWN_MEMBER_ID})
        if g.leader_id == m.member_id:
            g.leader_id = next(iter(g.members), None)
        if g.state in (S.STABLE, S.COMPLETING_REBALANCE):
            self._prepare_rebalance(g)
        elif g.state is S.PREPARING_REBALANCE:
            self._maybe_complete_join(g)

    def _prepare_rebalance(self, g: Group, delay_s: float = 0.0) -> None:
        if g.state is S.COMPLETING_REBALANCE:
            for m in g.members.values():  # their SyncGroup must be retried after rejoining
                if m.sync_future is not None and not m.sync_future.done():
                    m.sync_future.set_result({"error_code": E.REBALANCE_IN_PROGRESS})
        g.transition(S.PREPARING_REBALANCE)
        timeout = max((m.rebalance_timeout_ms for m in g.members.values()), default=0) / 1000
        if g.rebalance_timer is not None:
            g.rebalance_timer.cancel()
        g.rebalance_timer = self._loop().call_later(max(timeout, delay_s), self._rebalance_timeout, g.group_id)
        if delay_s:
            self._loop().call_later(delay_s, self._maybe_complete_join, g)
        else:
            self._maybe_complete_join(g)

    def _rebalance_timeout(self, group_id: str) -> None:
        g = self.groups.get(group_id)
        if g is None or g.state is not S.PREPARING_REBALANCE:
            return
        for m in list(g.members.values()):
            # Kafka drops only dynamic members here: a static one keeps its slot (and gets
            # its share of the assignment) until its session timeout, so a restart slower
            # than a rebalance still moves nothing.
            if (m.join_future is None or m.join_future.done()) and m.group_instance_id is None:
                log.info("group %s: member %s missed the rebalance", group_id, m.member_id, extra={"group": group_id, "member": m.member_id})
                if m.timer is not None:
                    m.timer.cancel()
                g.members.pop(m.member_id, None)
        if g.members and not any(self._awaiting_join(m) for m in g.members.values()):
            # only static members that have not come back: nobody could compute an
            # assignment, so wait another rebalance timeout (their sessions expire meanwhile)
            timeout = max(m.rebalance_timeout_ms for m in g.members.values()) / 1000
            g.rebalance_timer = self._loop().call_later(timeout, self._rebalance_timeout, group_id)
            return
        self._complete_join(g)

    @staticmethod
    def _awaiting_join(m: Member) -> bool:
        return m.join_future is not None and not m.join_future.done()

    def _maybe_complete_join(self, g: Group) -> None:
        if g.state is not S.PREPARING_REBALANCE:
            return
        # As Kafka's hasAllMembersJoined: a member that was just handed its id
        # (MEMBER_ID_REQUIRED) is about to join too - completing without it would only
        # start the next rebalance the moment it arrives.
        if not g.pending and all(self._awaiting_join(m) for m in g.members.values()):
            self._complete_join(g)

    def _forget_pending(self, group_id: str, member_id: str) -> None:
        g = self.groups.get(group_id)
        if g is not None and member_id in g.pending:
            g.pending.discard(member_id)
            self._maybe_complete_join(g)

    def _complete_join(self, g: Group) -> None:
        if g.rebalance_timer is not None:
            g.rebalance_timer.cancel()
            g.rebalance_timer = None
        g.generation_id += 1
        if not g.members:
            g.protocol_name = None
            g.leader_id = None
            g.transition(S.EMPTY)
            self._persist(g)
            return
        g.protocol_name = self._select_protocol(g)
        leader = g.members.get(g.leader_id or "")
        if leader is None or not self._awaiting_join(leader):  # the leader must be there to assign
            g.leader_id = next(m.member_id for m in g.members.values() if self._awaiting_join(m))
        g.transition(S.COMPLETING_REBALANCE)
        for m in g.members.values():
            fut, m.join_future = m.join_future, None
            if fut is not None and not fut.done():
                fut.set_result(self._join_answer(g, m))
            self._arm_session(g, m)

    @staticmethod
    def _join_answer(g: Group, m: Member) -> dict[str, Any]:
        """The JoinGroup response of the current generation (the leader gets the member list)."""
        everyone = [{"member_id": o.member_id, "group_instance_id": o.group_instance_id,
                     "metadata": dict(o.protocols)[g.protocol_name]} for o in g.members.values()] \
            if m.member_id == g.leader_id else []
        return {"error_code": E.NONE, "generation_id": g.generation_id, "protocol_name": g.protocol_name,
                "leader": g.leader_id, "member_id": m.member_id, "members": everyone}

    @staticmethod
    def _select_protocol(g: Group) -> str:
        common = None
        for m in g.members.values():
            names = {n for n, _ in m.protocols}
            common = names if common is None else common & names
        votes: dict[str, int] = {}
        for m in g.members.values():
            for n, _ in m.protocols:
                if n in common:  # type: ignore[operator]
                    votes[n] = votes.get(n, 0) + 1
                    break
        return max(votes, key=lambda n: votes[n])

    # -- requests -----------------------------------------------------------------------
    def join(self, req: dict[str, Any], version: int, client_id: str, client_host: str) -> Any:
        group_id, member_id = req["group_id"], req["member_id"]
        base = {"generation_id": -1, "protocol_name": "", "leader": "", "member_id": member_id, "members": []}
        if not group_id:
            return {**base, "error_code": E.INVALID_GROUP_ID}
        st = req["session_timeout_ms"]
        if not MIN_SESSION_TIMEOUT_MS <= st <= MAX_SESSION_TIMEOUT_MS:
            return {**base, "error_code": E.INVALID_SESSION_TIMEOUT}
        protocols = [(p["name"], p["metadata"]) for p in req["protocols"]]
        g = self.groups.get(group_id)
        if g is None or g.state is S.DEAD:
            g = self.groups[group_id] = Group(group_id)
        if not protocols or (g.members and req["protocol_type"] != g.protocol_type) or (
                g.members and not self._compatible(g, protocols)):
            return {**base, "error_code": E.INCONSISTENT_GROUP_PROTOCOL}
        instance_id = req.get("group_instance_id")
        rt = req.get("rebalance_timeout_ms", -1)
        if instance_id is not None and not member_id:
            old_id = self._static_member_id(g, instance_id)
            if old_id is not None:
                return self._replace_static_member(g, g.members[old_id], protocols, st, st if rt < 0 else rt)
        elif member_id and self._fenced(g, member_id, instance_id):
            return {**base, "error_code": E.FENCED_INSTANCE_ID}
        if not member_id:
            member_id = f"{instance_id or client_id or 'member'}-{uuid.uuid4()}"
            if version >= 4 and instance_id is None:
                g.pending.add(member_id)
                # Kafka forgets an id nobody came back with after a session timeout; without
                # that, every client that died between the two joins would stay here for good.
                self._loop().call_later(st / 1000, self._forget_pending, group_id, member_id)
                return {**base, "member_id": member_id, "error_code": E.MEMBER_ID_REQUIRED}
        elif member_id in g.pending:
            g.pending.discard(member_id)
        elif member_id not in g.members:
            return {**base, "error_code": E.UNKNOWN_MEMBER_ID}
        m = g.members.get(member_id)
        if m is not None and m.protocols == protocols and (
                g.state is S.COMPLETING_REBALANCE or (g.state is S.STABLE and member_id != g.leader_id)):
            # Kafka: a member that joins again with what it joined with (it lost the answer,
            # say) gets the current generation back instead of a rebalance for the whole
            # group; only the leader rejoining a Stable group, or changed metadata, rebalances.
            self._arm_session(g, m)
            return self._join_answer(g, m)
        if m is None:
            m = g.members[member_id] = Member(member_id, client_id, client_host, st, st if rt < 0 else rt,
                                              req["protocol_type"], protocols, instance_id)
        else:
            m.protocols, m.session_timeout_ms = protocols, st
            m.rebalance_timeout_ms = st if rt < 0 else rt
        g.protocol_type = req["protocol_type"]
        if m.join_future is not None and not m.join_future.done():
            m.join_future.set_result({**base, "error_code": E.UNKNOWN_MEMBER_ID})
        fut: asyncio.Future[dict[str, Any]] = self._loop().create_future()
        m.join_future = fut
        self._arm_session(g, m)
        self._rebalance_for_join(g)
        return fut

    def _rebalance_for_join(self, g: Group) -> None:
        if g.state is S.EMPTY:
            self._prepare_rebalance(g, INITIAL_REBALANCE_DELAY_S)
        elif g.state in (S.STABLE, S.COMPLETING_REBALANCE):
            self._prepare_rebalance(g)
        else:
            self._maybe_complete_join(g)

    # -- static membership (KIP-345) ----------------------------------------------------
    @staticmethod
    def _static_member_id(g: Group, instance_id: str) -> str | None:
        return next((m.member_id for m in g.members.values() if m.group_instance_id == instance_id), None)

    def _fenced(self, g: Group | None, member_id: str, instance_id: str | None) -> bool:
        """Kafka's check before any member request: an instance id that now belongs to
        another member id means this one was replaced by a newer process."""
        if g is None or instance_id is None:
            return False
        current = self._static_member_id(g, instance_id)
        return current is not None and current != member_id

    def _replace_static_member(self, g: Group, old: Member, protocols: list[tuple[str, bytes]], session_ms: int,
                               rebalance_ms: int) -> Any:
        """A static member back after a restart takes over its slot under a new member id.

        As Kafka's updateStaticMemberAndRebalance: a Stable group whose selected protocol
        stays the same answers at once with the current generation and the member's
        previous assignment waiting for its SyncGroup - no rebalance. The answer names the
        leader as it was before the swap, so a restarted leader does not assign again (a
        Stable group would not hand that assignment out). A group mid-rebalance rebalances
        (CompletingRebalance: the leader may be assigning the old id) or simply waits."""
        old_id, leader_before = old.member_id, g.leader_id
        for fut in (old.join_future, old.sync_future):  # the process that still waits with the old id
            if fut is not None and not fut.done():
                fut.set_result({"error_code": E.FENCED_INSTANCE_ID, "generation_id": -1, "protocol_name": "",
                                "leader": "", "member_id": old_id, "members": [], "assignment": b""})
        old.join_future = old.sync_future = None
        m = old
        m.member_id = f"{m.group_instance_id}-{uuid.uuid4()}"
        del g.members[old_id]
        g.members[m.member_id] = m
        if g.leader_id == old_id:
            g.leader_id = m.member_id
        m.protocols, m.session_timeout_ms, m.rebalance_timeout_ms = protocols, session_ms, rebalance_ms
        self._arm_session(g, m)
        log.info("group %s: static member %s came back as %s", g.group_id, m.group_instance_id, m.member_id,
                 extra={"group": g.group_id, "member": m.member_id})
        if g.state is S.STABLE and self._select_protocol(g) == g.protocol_name:
            self._persist(g)
            answer = self._join_answer(g, m)
            return {**answer, "leader": leader_before, "members": []}
        fut: asyncio.Future[dict[str, Any]] = self._loop().create_future()
        m.join_future = fut
        self._rebalance_for_join(g)
        return fut

    @staticmethod
    def _compatible(g: Group, protocols: list[tuple[str, bytes]]) -> bool:
        names = {n for n, _ in protocols}
        for m in g.members.values():
            names &= {n for n, _ in m.protocols}
        return bool(names)

    def _member(self, group_id: str, member_id: str, generation: int,
                instance_id: str | None = None) -> tuple[Group | None, Member | None, int]:
        g = self.groups.get(group_id)
        if self._fenced(g, member_id, instance_id):
            return g, None, E.FENCED_INSTANCE_ID
        if g is None or member_id not in g.members:
            return g, None, E.UNKNOWN_MEMBER_ID
        if generation != g.generation_id:
            return g, g.members[member_id], E.ILLEGAL_GENERATION
        return g, g.members[member_id], E.NONE

    def sync(self, req: dict[str, Any]) -> Any:
        g, m, err = self._member(req["group_id"], req["member_id"], req["generation_id"], req.get("group_instance_id"))
        if err:
            return {"error_code": err, "assignment": b""}
        assert g is not None and m is not None
        self._arm_session(g, m)
        if g.state is S.PREPARING_REBALANCE:
            return {"error_code": E.REBALANCE_IN_PROGRESS, "assignment": b""}
        if g.state is S.STABLE:
            return {"error_code": E.NONE, "assignment": m.assignment}
        fut: asyncio.Future[dict[str, Any]] = self._loop().create_future()
        m.sync_future = fut
        if m.member_id == g.leader_id:
            given = {a["member_id"]: a["assignment"] for a in req["assignments"]}
            for mem in g.members.values():
                mem.assignment = given.get(mem.member_id, b"")
            g.transition(S.STABLE)
            self._persist(g)
            for mem in g.members.values():
                if mem.sync_future is not None and not mem.sync_future.done():
                    mem.sync_future.set_result({"error_code": E.NONE, "assignment": mem.assignment})
                mem.sync_future = None
        return fut

    def heartbeat(self, req: dict[str, Any]) -> dict[str, Any]:
        g, m, err = self._member(req["group_id"], req["member_id"], req["generation_id"], req.get("group_instance_id"))
        if err:
            return {"error_code": err}
        assert g is not None and m is not None
        self._arm_session(g, m)
        if g.state is S.PREPARING_REBALANCE:
            return {"error_code": E.REBALANCE_IN_PROGRESS}
        return {"error_code": E.NONE}

    def leave(self, group_id: str, members: list[tuple[str, str | None]]) -> list[int]:
        """LeaveGroup for (member id, group instance id) pairs, Kafka's rules: an empty member
        id with an instance id removes that static member (how admin tools remove one);
        an id handed out with MEMBER_ID_REQUIRED is simply forgotten; an instance id that
        now belongs to another member id is FENCED_INSTANCE_ID."""
        g = self.groups.get(group_id)
        out = []
        for mid, instance_id in members:
            if g is not None and not mid and instance_id is not None:
                mid = self._static_member_id(g, instance_id) or ""
            elif g is not None and mid in g.pending:
                self._forget_pending(group_id, mid)
                out.append(E.NONE)
                continue
            elif self._fenced(g, mid, instance_id):
                out.append(E.FENCED_INSTANCE_ID)
                continue
            if g is None or mid not in g.members:
                out.append(E.UNKNOWN_MEMBER_ID)
                continue
            log.debug("group %s: member %s left", group_id, mid, extra={"group": group_id, "member": mid})
            self._remove_member(g, g.members[mid])
            out.append(E.NONE)
        return out

    def commit_error(self, req: dict[str, Any]) -> int:
        """Whether an OffsetCommit may be applied (0) or the Kafka error to answer with.

        Kafka's table: a commit without member and generation (a "simple" consumer, an admin
        tool) only for a group without members (UNKNOWN_MEMBER_ID otherwise); else member and
        generation must be current. A current member may commit while the group is
        PreparingRebalance - it hears of the rebalance from its heartbeat, and what it commits
        on the way (revoking its partitions, or leaving on shutdown) is where the next owner
        starts, so refusing it would make that owner read those records again. Only
        CompletingRebalance, a new generation whose assignment is not out yet, answers
        REBALANCE_IN_PROGRESS."""
        gen, member_id = req.get("generation_id", -1), req.get("member_id", "")
        g = self.groups.get(req["group_id"])
        if gen < 0 and not member_id:
            if g is not None and g.members:
                return E.UNKNOWN_MEMBER_ID
            return E.NONE
        g, m, err = self._member(req["group_id"], member_id, gen, req.get("group_instance_id"))
        if err:
            return err
        assert g is not None and m is not None
        self._arm_session(g, m)
        if g.state is S.COMPLETING_REBALANCE:
            return E.REBALANCE_IN_PROGRESS
        return E.NONE

    def delete(self, group_id: str) -> int:
        """DeleteGroups: only a group without members; its offsets and metadata are tombstoned."""
        g = self.groups.get(group_id)
        if g is None and not self.offsets.fetch(group_id):
            return E.GROUP_ID_NOT_FOUND
        if g is not None and (g.members or g.state is not S.EMPTY):
            return E.NON_EMPTY_GROUP
        if g is not None:
            g.transition(S.DEAD)
            del self.groups[group_id]
        self.offsets.delete_group(group_id)
        if group_id in self.offsets.groups:
            self.offsets.store_group(group_id, None)
        log.debug("group %s deleted", group_id)
        return E.NONE

    def list_groups(self) -> list[tuple[str, str]]:
        """(group id, protocol type) of every group, including those that exist only through
        committed offsets (a consumer using assign(), offsets preset with an admin tool):
        Kafka keeps those as Empty groups, and tools must see them to manage them."""
        out = {gid: g.protocol_type or "" for gid, g in self.groups.items() if g.state is not S.DEAD}
        for gid, committed in self.offsets.offsets.items():
            if committed:
                out.setdefault(gid, "")
        return sorted(out.items())

    def describe(self, group_id: str) -> dict[str, Any]:
        g = self.groups.get(group_id)
        if g is None:
            state = "Empty" if self.offsets.fetch(group_id) else "Dead"
            return {"error_code": E.NONE, "group_id": group_id, "group_state": state, "protocol_type": "",
                    "protocol_data": "", "members": []}
        # Kafka's GroupMetadata.summary: protocol, subscriptions and assignments only for a
        # Stable group - mid-rebalance they are not settled, and tools would show stale ones
        stable = g.state is S.STABLE
        return {"error_code": E.NONE, "group_id": group_id, "group_state": g.state.value,
                "protocol_type": g.protocol_type or "", "protocol_data": (g.protocol_name or "") if stable else "",
                "members": [{"member_id": m.member_id, "group_instance_id": m.group_instance_id,
                             "client_id": m.client_id, "client_host": m.client_host,
                             "member_metadata": dict(m.protocols).get(g.protocol_name or "", b"") if stable else b"",
                             "member_assignment": m.assignment if stable else b""} for m in g.members.values()]}
