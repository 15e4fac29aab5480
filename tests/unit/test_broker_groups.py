"""The group coordinator's state machine, driven directly (no sockets), over real storage."""
from __future__ import annotations

import asyncio

import pytest

from logwarden.broker.groups import coordinator as coord_mod
from logwarden.broker.groups.coordinator import GroupCoordinator
from logwarden.broker.groups.state import GroupState, IllegalTransition, check_transition
from logwarden.broker.protocol import errors as E
from logwarden.broker.storage import LogConfig, LogManager


def join_req(member_id: str = "", session_ms: int = 10_000, protocols=(("range", b"meta"),)) -> dict:
    return {"group_id": "g", "session_timeout_ms": session_ms, "rebalance_timeout_ms": 5_000, "member_id": member_id,
            "group_instance_id": None, "protocol_type": "consumer",
            "protocols": [{"name": n, "metadata": m} for n, m in protocols]}


@pytest.fixture
def logs(tmp_path):
    lm = LogManager(tmp_path, LogConfig())
    yield lm
    lm.close()


def run(coro):
    return asyncio.run(coro)


def test_transition_table_refuses_illegal_moves():
    check_transition(GroupState.EMPTY, GroupState.PREPARING_REBALANCE)
    check_transition(GroupState.COMPLETING_REBALANCE, GroupState.STABLE)
    with pytest.raises(IllegalTransition):
        check_transition(GroupState.EMPTY, GroupState.STABLE)
    with pytest.raises(IllegalTransition):
        check_transition(GroupState.STABLE, GroupState.COMPLETING_REBALANCE)


async def join(c: GroupCoordinator, version: int = 5, **kw) -> dict:
    out = c.join(join_req(**kw), version, "client", "/127.0.0.1")
    return await out if asyncio.isfuture(out) else out


def test_member_id_required_then_join_sync_stable(logs, monkeypatch):
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        first = await join(c)
        assert first["error_code"] == E.MEMBER_ID_REQUIRED and first["member_id"]
        mid = first["member_id"]
        assert c.groups["g"].state is GroupState.EMPTY
        r = await join(c, member_id=mid)
        assert r["error_code"] == 0 and r["leader"] == mid and r["generation_id"] == 1
        assert [m["member_id"] for m in r["members"]] == [mid]
        assert c.groups["g"].state is GroupState.COMPLETING_REBALANCE
        s = await c.sync({"group_id": "g", "generation_id": 1, "member_id": mid,
                          "assignments": [{"member_id": mid, "assignment": b"all"}]})
        assert s == {"error_code": 0, "assignment": b"all"}
        assert c.groups["g"].state is GroupState.STABLE
        assert c.heartbeat({"group_id": "g", "generation_id": 1, "member_id": mid})["error_code"] == 0
        assert c.heartbeat({"group_id": "g", "generation_id": 0, "member_id": mid})["error_code"] == E.ILLEGAL_GENERATION
        assert c.heartbeat({"group_id": "g", "generation_id": 1, "member_id": "nobody"})["error_code"] == E.UNKNOWN_MEMBER_ID

    run(scenario())


def test_second_member_triggers_rebalance_and_leave_shrinks_the_group(logs, monkeypatch):
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        a = (await join(c, version=3))  # v3: no MEMBER_ID_REQUIRED round trip
        a_id = a["member_id"]
        await c.sync({"group_id": "g", "generation_id": 1, "member_id": a_id, "assignments": []})
        b_task = asyncio.ensure_future(join(c, version=3))
        await asyncio.sleep(0.01)
        assert c.groups["g"].state is GroupState.PREPARING_REBALANCE
        assert c.heartbeat({"group_id": "g", "generation_id": 1, "member_id": a_id})["error_code"] == E.REBALANCE_IN_PROGRESS
        a2 = await join(c, version=3, member_id=a_id)
        b = await b_task
        assert a2["generation_id"] == b["generation_id"] == 2
        assert a2["leader"] == a_id and len(a2["members"]) == 2 and b["members"] == []
        b_sync = asyncio.ensure_future(c.sync({"group_id": "g", "generation_id": 2, "member_id": b["member_id"],
                                               "assignments": []}))
        await c.sync({"group_id": "g", "generation_id": 2, "member_id": a_id,
                      "assignments": [{"member_id": a_id, "assignment": b"p0"},
                                      {"member_id": b["member_id"], "assignment": b"p1"}]})
        assert (await b_sync)["assignment"] == b"p1"
        assert c.leave("g", [(b["member_id"], None)]) == [0]
        assert c.groups["g"].state is GroupState.PREPARING_REBALANCE
        a3 = await join(c, version=3, member_id=a_id)
        assert a3["generation_id"] == 3 and len(a3["members"]) == 1

    run(scenario())


def test_offset_commit_follows_kafkas_table_through_a_rebalance(logs, monkeypatch):
    """Kafka accepts a current member's commit in PreparingRebalance (a consumer revoking its
    partitions or leaving commits there, and the next owner starts from it) and refuses only
    in CompletingRebalance. Refusing in PreparingRebalance lost exactly those commits."""
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    def commit(c, gen, member_id):
        return c.commit_error({"group_id": "g", "generation_id": gen, "member_id": member_id})

    async def scenario():
        c = GroupCoordinator(logs)
        assert commit(c, -1, "") == 0  # no such group yet: a simple commit creates offsets only
        a = await join(c, version=3)
        a_id = a["member_id"]
        assert c.groups["g"].state is GroupState.COMPLETING_REBALANCE
        assert commit(c, 1, a_id) == E.REBALANCE_IN_PROGRESS  # assignment not handed out yet
        await c.sync({"group_id": "g", "generation_id": 1, "member_id": a_id, "assignments": []})
        assert commit(c, 1, a_id) == 0  # Stable
        b_task = asyncio.ensure_future(join(c, version=3))
        await asyncio.sleep(0.01)
        assert c.groups["g"].state is GroupState.PREPARING_REBALANCE
        assert commit(c, 1, a_id) == 0  # PreparingRebalance: a current member still commits
        assert commit(c, 0, a_id) == E.ILLEGAL_GENERATION
        assert commit(c, 1, "nobody") == E.UNKNOWN_MEMBER_ID
        assert commit(c, -1, "") == E.UNKNOWN_MEMBER_ID  # simple commit against a group with members
        await join(c, version=3, member_id=a_id)
        await b_task
        assert c.groups["g"].state is GroupState.COMPLETING_REBALANCE
        assert commit(c, 2, a_id) == E.REBALANCE_IN_PROGRESS
        assert commit(c, 1, a_id) == E.ILLEGAL_GENERATION

    run(scenario())


def test_a_member_id_nobody_comes_back_with_expires(logs, monkeypatch):
    """MEMBER_ID_REQUIRED hands out an id; a client that dies before its second JoinGroup
    must not leave it behind for good (Kafka expires it after the session timeout)."""
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        first = await join(c, session_ms=1000)
        assert first["error_code"] == E.MEMBER_ID_REQUIRED
        assert c.groups["g"].pending == {first["member_id"]}
        await asyncio.sleep(1.1)
        assert c.groups["g"].pending == set()
        late = await join(c, member_id=first["member_id"], session_ms=1000)
        assert late["error_code"] == E.UNKNOWN_MEMBER_ID  # as Kafka answers an expired pending id

    run(scenario())


def test_a_rebalance_waits_for_a_member_that_was_just_handed_its_id(logs, monkeypatch):
    """As Kafka's hasAllMembersJoined: while an id handed out with MEMBER_ID_REQUIRED is
    pending, the rebalance does not complete without that member (it used to, and the
    member's join a moment later started a second rebalance); if it never comes back, its
    id expires after the session timeout and the rebalance completes without it."""
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        g = c.groups.setdefault("g", coord_mod.Group("g"))
        a_id = (await join(c))["member_id"]
        b_id = (await join(c))["member_id"]  # both handed ids, neither has joined yet
        a_task = asyncio.ensure_future(join(c, member_id=a_id))
        await asyncio.sleep(0.05)  # past the initial delay
        assert g.state is GroupState.PREPARING_REBALANCE and not a_task.done()  # b is on its way
        b = await join(c, member_id=b_id)
        a = await a_task
        assert a["generation_id"] == b["generation_id"] == 1 and len(g.members) == 2
        # one that never comes back: its id expires and the rebalance goes ahead without it
        ghost = (await join(c, session_ms=1000))["member_id"]
        again = asyncio.ensure_future(join(c, member_id=a_id, protocols=(("range", b"new"),)))
        b_again = asyncio.ensure_future(join(c, member_id=b_id))
        await asyncio.sleep(0.3)
        assert not again.done() and g.pending == {ghost}
        assert (await again)["generation_id"] == (await b_again)["generation_id"] == 2
        assert g.pending == set() and len(g.members) == 2

    run(scenario())


def test_a_member_joining_again_unchanged_gets_the_current_generation(logs, monkeypatch):
    """As Kafka: a follower of a Stable group, or any member of a CompletingRebalance group,
    that sends JoinGroup again with the same protocols gets the current generation back; the
    leader rejoining a Stable group, or changed metadata, starts a rebalance."""
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        a_task = asyncio.ensure_future(join(c, version=3))
        b_task = asyncio.ensure_future(join(c, version=3))
        a, b = await a_task, await b_task
        g = c.groups["g"]
        leader = a if a["leader"] == a["member_id"] else b
        follower = b if leader is a else a
        assert g.state is GroupState.COMPLETING_REBALANCE and g.generation_id == 1
        again = await join(c, version=3, member_id=leader["member_id"])  # CompletingRebalance: answered at once
        assert again["generation_id"] == 1 and len(again["members"]) == 2
        assert g.state is GroupState.COMPLETING_REBALANCE
        f_sync = asyncio.ensure_future(c.sync({"group_id": "g", "generation_id": 1, "member_id": follower["member_id"],
                                               "assignments": []}))
        await c.sync({"group_id": "g", "generation_id": 1, "member_id": leader["member_id"],
                      "assignments": [{"member_id": follower["member_id"], "assignment": b"p1"}]})
        assert (await f_sync)["assignment"] == b"p1"
        same = await join(c, version=3, member_id=follower["member_id"])
        assert same == {"error_code": 0, "generation_id": 1, "protocol_name": "range", "leader": leader["member_id"],
                        "member_id": follower["member_id"], "members": []}
        assert g.state is GroupState.STABLE  # no rebalance for the rest of the group
        changed = asyncio.ensure_future(join(c, version=3, member_id=follower["member_id"],
                                             protocols=(("range", b"other"),)))
        await asyncio.sleep(0.01)
        assert g.state is GroupState.PREPARING_REBALANCE
        await join(c, version=3, member_id=leader["member_id"])
        assert (await changed)["generation_id"] == 2

    run(scenario())


def test_session_timeout_removes_a_silent_member(logs, monkeypatch):
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        a = await join(c, version=3, session_ms=1000)
        await c.sync({"group_id": "g", "generation_id": 1, "member_id": a["member_id"], "assignments": []})
        await asyncio.sleep(1.3)
        g = c.groups["g"]
        assert a["member_id"] not in g.members
        assert g.state in (GroupState.EMPTY, GroupState.PREPARING_REBALANCE)
        await asyncio.sleep(0.05)
        assert g.state is GroupState.EMPTY

    run(scenario())


def test_inconsistent_protocols_and_bad_session_timeout(logs, monkeypatch):
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        assert (await join(c, version=3, session_ms=10))["error_code"] == E.INVALID_SESSION_TIMEOUT
        await join(c, version=3)
        r = await join(c, version=3, protocols=(("roundrobin", b""),))
        assert r["error_code"] == E.INCONSISTENT_GROUP_PROTOCOL

    run(scenario())


def test_committed_offsets_survive_reopening_the_logs(tmp_path):
    lm = LogManager(tmp_path, LogConfig())
    c = GroupCoordinator(lm)
    c.offsets.commit("g", [("t", 0, 42, -1, "meta"), ("t", 1, 7, 3, None)])
    c.offsets.commit("g", [("t", 0, 43, -1, "")])
    c.offsets.commit("other", [("t", 0, 1, -1, "")])
    c.offsets.delete_group("other")
    lm.close()
    lm2 = LogManager(tmp_path, LogConfig())
    c2 = GroupCoordinator(lm2)
    got = c2.offsets.fetch("g")
    assert got[("t", 0)].offset == 43 and got[("t", 1)].offset == 7 and got[("t", 1)].leader_epoch == 3
    assert c2.offsets.fetch("other") == {}
    lm2.close()


def static_req(instance: str, member_id: str = "", protocols=(("range", b"meta"),)) -> dict:
    return {**join_req(member_id=member_id, protocols=protocols), "group_instance_id": instance}


async def settle(out):
    return await out if asyncio.isfuture(out) else out


async def sjoin(c: GroupCoordinator, instance: str, member_id: str = "", protocols=(("range", b"meta"),)) -> dict:
    return await settle(c.join(static_req(instance, member_id, protocols), 5, "client", "/h"))


async def stable_pair(c: GroupCoordinator, a_protocols=(("range", b"meta"),),
                      b_protocols=(("range", b"meta"),)) -> tuple[dict, dict]:
    """Static members host-a and host-b, Stable at generation 1 with assignments a / b."""
    a_task = asyncio.ensure_future(sjoin(c, "host-a", protocols=a_protocols))  # static: no MEMBER_ID_REQUIRED
    b_task = asyncio.ensure_future(sjoin(c, "host-b", protocols=b_protocols))
    a, b = await a_task, await b_task
    assert a["error_code"] == b["error_code"] == 0 and a["member_id"].startswith("host-a-")
    leader, follower = (a, b) if a["leader"] == a["member_id"] else (b, a)
    f_sync = asyncio.ensure_future(c.sync({"group_id": "g", "generation_id": 1, "member_id": follower["member_id"],
                                           "assignments": []}))
    await settle(c.sync({"group_id": "g", "generation_id": 1, "member_id": leader["member_id"],
                  "assignments": [{"member_id": a["member_id"], "assignment": b"a"},
                                  {"member_id": b["member_id"], "assignment": b"b"}]}))
    await f_sync
    assert c.groups["g"].state is GroupState.STABLE
    return a, b


def test_static_member_restart_keeps_its_assignment_without_a_rebalance(logs, monkeypatch):
    """KIP-345 as Kafka does it: a static member back after a restart (empty member id, same
    group.instance.id) gets a new member id, the current generation and its old assignment;
    the rest of the group sees nothing. Before, the group rebalanced to generation 2."""
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        a, b = await stable_pair(c)
        g = c.groups["g"]
        for who, instance, share in ((a, "host-a", b"a"), (b, "host-b", b"b")):  # the leader and the follower
            leader_before = g.leader_id
            again = await sjoin(c, instance)
            assert again["error_code"] == 0 and again["member_id"] != who["member_id"]
            assert again["generation_id"] == 1 and again["members"] == []
            assert again["leader"] == leader_before  # a restarted leader must not assign again
            assert g.state is GroupState.STABLE and g.generation_id == 1
            s = await settle(c.sync({"group_id": "g", "generation_id": 1, "member_id": again["member_id"],
                              "group_instance_id": instance, "assignments": []}))
            assert s == {"error_code": 0, "assignment": share}
            # the old member id is fenced wherever it shows up with its instance id
            old = {"group_id": "g", "generation_id": 1, "member_id": who["member_id"], "group_instance_id": instance}
            assert c.heartbeat(old)["error_code"] == E.FENCED_INSTANCE_ID
            assert (await settle(c.sync({**old, "assignments": []})))["error_code"] == E.FENCED_INSTANCE_ID
            assert c.commit_error(old) == E.FENCED_INSTANCE_ID
            assert (await sjoin(c, instance, member_id=who["member_id"]))["error_code"] \
                == E.FENCED_INSTANCE_ID
            assert c.leave("g", [(who["member_id"], instance)]) == [E.FENCED_INSTANCE_ID]
            assert c.heartbeat({**old, "member_id": again["member_id"]})["error_code"] == 0
        assert g.state is GroupState.STABLE and g.generation_id == 1 and len(g.members) == 2

    run(scenario())


def test_static_member_restart_that_changes_the_protocol_rebalances_and_a_waiting_old_id_is_fenced(logs, monkeypatch):
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        both = (("range", b"meta"), ("sticky", b"meta"))
        a, b = await stable_pair(c, both, both[::-1])  # one vote each: the group picked range
        g = c.groups["g"]
        assert g.protocol_name == "range"
        # the new process prefers the other assignor: the group's protocol changes, which
        # only a rebalance can bring about (a changed subscription alone would not, as in Kafka)
        a_new = asyncio.ensure_future(sjoin(c, "host-a", protocols=both[::-1]))
        await asyncio.sleep(0.01)
        assert g.state is GroupState.PREPARING_REBALANCE
        b_old = await sjoin(c, "host-b", member_id=b["member_id"], protocols=both[::-1])
        ra = await a_new
        assert ra["generation_id"] == b_old["generation_id"] == 2 and g.protocol_name == "sticky"
        assert ra["leader"] == ra["member_id"] and g.state is GroupState.COMPLETING_REBALANCE
        # host-b's old process waits for its share when a newer process takes the instance id:
        # the old one is fenced, and the group rebalances (the leader may be assigning the old id)
        b_sync = asyncio.ensure_future(c.sync({"group_id": "g", "generation_id": 2, "member_id": b["member_id"],
                                               "group_instance_id": "host-b", "assignments": []}))
        await asyncio.sleep(0.01)
        b_new = asyncio.ensure_future(sjoin(c, "host-b", protocols=both[::-1]))
        assert (await b_sync)["error_code"] == E.FENCED_INSTANCE_ID
        assert g.state is GroupState.PREPARING_REBALANCE
        ra3 = await sjoin(c, "host-a", member_id=ra["member_id"], protocols=both[::-1])
        rb3 = await b_new
        assert ra3["generation_id"] == rb3["generation_id"] == 3
        assert set(g.members) == {ra["member_id"], rb3["member_id"]} and b["member_id"] not in g.members

    run(scenario())


def test_a_static_member_missing_a_rebalance_keeps_its_slot_a_dynamic_one_does_not(logs, monkeypatch):
    """Kafka drops only dynamic members that miss a rebalance; a static one stays until its
    session timeout, and the leader is always a member that did rejoin."""
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        a, b = await stable_pair(c)
        g = c.groups["g"]
        dyn = asyncio.ensure_future(join(c, version=3, session_ms=60_000))  # a third, dynamic member arrives
        await asyncio.sleep(0.01)
        for m in g.members.values():
            m.rebalance_timeout_ms = 50  # host-a and host-b never rejoin
        c._rebalance_timeout("g")
        r = await dyn
        assert r["error_code"] == 0 and r["generation_id"] == 2
        assert r["leader"] == r["member_id"] and len(r["members"]) == 3  # the only one that rejoined assigns
        assert set(g.members) == {a["member_id"], b["member_id"], r["member_id"]}
        await settle(c.sync({"group_id": "g", "generation_id": 2, "member_id": r["member_id"], "assignments": [
            {"member_id": a["member_id"], "assignment": b"a2"}, {"member_id": r["member_id"], "assignment": b"r2"}]}))
        back = await sjoin(c, "host-a")  # host-a restarts: its share is waiting
        s = await settle(c.sync({"group_id": "g", "generation_id": 2, "member_id": back["member_id"], "assignments": []}))
        assert back["generation_id"] == 2 and s["assignment"] == b"a2"
        # a dynamic member that misses a rebalance is dropped
        again = asyncio.ensure_future(join(c, version=3, member_id=r["member_id"], protocols=(("range", b"new"),)))
        await asyncio.sleep(0.01)
        c._rebalance_timeout("g")
        assert (await again)["generation_id"] == 3 and r["member_id"] in g.members

    run(scenario())


def test_leave_group_by_instance_id_and_for_a_pending_member(logs, monkeypatch):
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        a, b = await stable_pair(c)
        g = c.groups["g"]
        # admin tools remove a static member by its instance id alone (KIP-345)
        assert c.leave("g", [("", "host-a"), ("", "host-zzz")]) == [0, E.UNKNOWN_MEMBER_ID]
        assert a["member_id"] not in g.members and g.state is GroupState.PREPARING_REBALANCE
        pending = (await join(c))["member_id"]  # MEMBER_ID_REQUIRED: pending, not yet a member
        assert c.leave("g", [(pending, None)]) == [0] and pending not in g.pending

    run(scenario())


def test_docs_transition_table_matches_the_code():
    """docs/broker.md draws the group state table; it must list exactly the legal moves."""
    from pathlib import Path

    from logwarden.broker.groups.state import TRANSITIONS

    text = (Path(__file__).resolve().parents[2] / "docs" / "broker.md").read_text()
    section = text.split("## Consumer groups", 1)[1].split("\n\n| from | to |", 1)[1].split("\n\n", 1)[0]
    documented = set()
    for line in section.splitlines()[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) < 2 or set(cells[0]) <= {"-", " "}:
            continue
        sources = list(GroupState) if cells[0] == "any" else [GroupState(cells[0])]
        documented |= {(src, GroupState(cells[1])) for src in sources if src is not GroupState(cells[1])}
    legal = {(src, dst) for src, dsts in TRANSITIONS.items() for dst in dsts}
    assert documented == legal


def test_stable_membership_survives_reopening_the_logs(tmp_path, monkeypatch):
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def before_restart():
        lm = LogManager(tmp_path, LogConfig())
        c = GroupCoordinator(lm)
        a = await join(c, version=3)
        await c.sync({"group_id": "g", "generation_id": 1, "member_id": a["member_id"],
                      "assignments": [{"member_id": a["member_id"], "assignment": b"p0,p1"}]})
        lm.close()
        return a["member_id"]

    async def after_restart(member_id):
        lm = LogManager(tmp_path, LogConfig())
        try:
            c = GroupCoordinator(lm)
            g = c.groups["g"]
            assert g.state is GroupState.STABLE and g.generation_id == 1 and g.leader_id == member_id
            assert g.members[member_id].assignment == b"p0,p1"
            # the member carries on: heartbeat, commit and sync work with its old id and generation
            assert c.heartbeat({"group_id": "g", "generation_id": 1, "member_id": member_id})["error_code"] == 0
            assert c.commit_error({"group_id": "g", "generation_id": 1, "member_id": member_id}) == 0
            s = c.sync({"group_id": "g", "generation_id": 1, "member_id": member_id, "assignments": []})
            assert s["assignment"] == b"p0,p1"  # Stable: answered at once
            # ... and leaving empties the group, which is persisted too
            c.leave("g", [(member_id, None)])
            await asyncio.sleep(0.05)
            assert g.state is GroupState.EMPTY
        finally:
            lm.close()
        lm = LogManager(tmp_path, LogConfig())
        try:
            g = GroupCoordinator(lm).groups["g"]
            assert g.state is GroupState.EMPTY and not g.members and g.generation_id == 2
        finally:
            lm.close()

    member_id = run(before_restart())
    run(after_restart(member_id))


def test_delete_group_only_when_empty_and_it_stays_deleted(tmp_path, monkeypatch):
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        lm = LogManager(tmp_path, LogConfig())
        try:
            c = GroupCoordinator(lm)
            a = await join(c, version=3)
            c.offsets.commit("g", [("t", 0, 5, -1, "")])
            assert c.delete("g") == E.NON_EMPTY_GROUP
            c.leave("g", [(a["member_id"], None)])
            await asyncio.sleep(0.05)
            assert c.delete("g") == 0 and "g" not in c.groups
            assert c.delete("g") == E.GROUP_ID_NOT_FOUND
            c.offsets.commit("only-offsets", [("t", 0, 1, -1, "")])  # simple-commit group, never joined
            assert c.delete("only-offsets") == 0
        finally:
            lm.close()
        lm = LogManager(tmp_path, LogConfig())
        try:
            c = GroupCoordinator(lm)
            assert "g" not in c.groups and c.offsets.fetch("g") == {} and c.offsets.fetch("only-offsets") == {}
        finally:
            lm.close()

    run(scenario())


def test_describe_shows_protocol_and_assignments_only_for_a_stable_group(logs, monkeypatch):
    """As Kafka's GroupMetadata.summary: mid-rebalance the protocol, subscriptions and
    assignments are not settled and are not reported (they were, stale)."""
    monkeypatch.setattr(coord_mod, "INITIAL_REBALANCE_DELAY_S", 0.01)

    async def scenario():
        c = GroupCoordinator(logs)
        a, b = await stable_pair(c)
        d = c.describe("g")
        assert d["group_state"] == "Stable" and d["protocol_data"] == "range"
        assert {m["member_assignment"] for m in d["members"]} == {b"a", b"b"}
        assert {m["member_metadata"] for m in d["members"]} == {b"meta"}
        again = asyncio.ensure_future(sjoin(c, "host-a", member_id=a["member_id"], protocols=(("range", b"new"),)))
        await asyncio.sleep(0.01)
        d = c.describe("g")
        assert d["group_state"] == "PreparingRebalance" and d["protocol_data"] == ""
        assert {(m["member_metadata"], m["member_assignment"]) for m in d["members"]} == {(b"", b"")}
        await sjoin(c, "host-b", member_id=b["member_id"])
        await again

    run(scenario())
