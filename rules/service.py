"""The rules stage (`logwarden worker rules`): logs.ecs -> Sigma engine -> alerts.

`RulesStage` is a pure stage for `logwarden.worker.run_stage`: it gets a batch of Kafka
messages and returns outputs - alert versions for the `alerts` topic (keyed by alert id,
so compaction and the index keep the latest) and, for a message that is not a JSON object,
a dead-letter document with the reason. Matches are folded into alert episodes
(episodes.py): one alert per rule and key while an attack goes on, one version per batch in
which it changed. Notifications go to a background dispatcher (on open, escalation,
recovery); the alert itself is durable on the topic before offsets move.

State that outlives the process. Correlation windows and open episodes are checkpointed to
the compacted `topics.rules_state` topic (state.py) in `checkpoint()`, which the worker
shell calls after every output is acknowledged and before it commits offsets. A snapshot
names the input offsets it covers (per partition, the next offset not yet in it); after a
restart the stage restores it when it is assigned those partitions and skips the replayed
messages below those offsets, which the restored state has already counted - so a window
counted across a SIGKILL fires once, with the exact count, and an open alert goes on being
updated under its id. Within a run, a matching event whose `event.id` was already counted
(within `dedup_window`) is not counted again.

Hot reload: every `reload_interval_ms` the stage compares the rule files' (path, mtime,
size) signature; on a change it recompiles and swaps the engine atomically between
batches, carrying correlation windows and open alerts over for the rules that remain.
Errors in the new files are logged with file:line and the good rules run; if the new set
cannot be built at all, the previous engine keeps running.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Iterable

import orjson
from prometheus_client import Counter, Gauge

from logwarden import metrics
from logwarden.durations import parse_duration
from logwarden.events import dead_letter, event_id
from logwarden.stages import BY_NAME, TopicsConfig

from .alerts import AlertPolicy, build_alert
from .episodes import ACTIVE, RECOVERED, Episodes, suppress_entries
from .config import RulesConfig
from .engine import Engine, event_time
from .mapping import PipelineError
from .notify import Dispatcher, build as build_notifier
from .ruleset import load, rule_paths, signature

if TYPE_CHECKING:
    from logwarden.config import Config

log = logging.getLogger("logwarden.rules")

ALERTS = Counter("logwarden_rules_alerts_total", "Alerts raised, by level.", ["level"])
HELD_BACK = Counter("logwarden_rules_held_back_alerts_total", "Hits not raised as alerts, by reason.", ["reason"])
LOADED = Gauge("logwarden_rules_loaded_rules", "Rules and correlations currently running.", multiprocess_mode="max")
LOAD_ERRORS = Gauge("logwarden_rules_load_errors", "Rule documents that failed to load in the current set.", multiprocess_mode="max")
RELOADS = Counter("logwarden_rules_reloads_total", "Rule set reloads after file changes.")
UPDATES = Counter("logwarden_rules_alert_versions_total", "Alert versions produced, by change (opened, updated, recovered).", ["change"])
REPLAYED = Counter("logwarden_rules_replayed_skipped_total", "Messages skipped after a restart because the restored state already counted them.")
SNAPSHOT_BYTES = Gauge("logwarden_rules_state_bytes", "Size of the last correlation/alert state snapshot.", multiprocess_mode="max")
STATE_VERSION = 1  # the snapshot's layout; another version is not restored


# A quiet stream for this long lets the watermark follow the wall clock (see idle()).
IDLE_GRACE_S = 5.0


class RulesStage:
    name = "rules"

    def __init__(self, cfg: RulesConfig, *, clock=time.time, topics: TopicsConfig | None = None, store: Any = None):
        """`topics`: the names from logwarden.yml's `topics:` (the built-in ones when omitted);
        `store`: where state snapshots go (state.StateStore; None keeps state in memory only)."""
        self.cfg = cfg
        names = topics or TopicsConfig()
        self.topics = BY_NAME["rules"].inputs(names)  # the registry says what a stage reads
        self.alerts_topic, self.dlq_topic = names.alerts, names.dlq
        self.clock = clock
        self.store = store
        self.paths = rule_paths(cfg.paths, cfg.bundled)
        self.policy = AlertPolicy(cfg)
        self.dispatcher = Dispatcher([build_notifier(n) for n in cfg.notifiers])
        self.episodes = self._new_episodes()
        self.engine = self._compile()
        self.signature = signature(self.paths)
        self.next_reload = time.monotonic() + cfg.reload_interval_ms / 1000
        self.watermark = 0.0
        self.last_event_at = time.monotonic()
        self.offsets: dict[tuple[str, int], int] = {}  # next input offset per partition the state covers
        self.skip: dict[tuple[str, int], int] = {}     # restored: messages below these were counted
        self.state_key: str | None = None
        self.dirty = False

    def _new_episodes(self) -> Episodes:
        sup = self.cfg.suppression
        window = parse_duration(sup.window).total_seconds() if sup.window else None
        return Episodes(suppress_entries(self.cfg.suppress), window=window, by=list(sup.by))

    def _compile(self) -> Engine:
        rs = load(self.paths, self.cfg.mapping, self.cfg.placeholders)
        for e in rs.errors:
            log.error("rule not loaded", extra={"file": e.file, "line": e.line, "reason": e.reason})
        LOADED.set(len(rs.rules) + len(rs.correlations))
        LOAD_ERRORS.set(len(rs.errors))
        n = rs.summary()
        (log.warning if rs.errors else log.info)(
            "rules loaded: %d rule(s), %d correlation(s), %d load error(s)", n["rules"], n["correlations"], n["errors"],
            extra=n | {"paths": self.paths, "mapping": self.cfg.mapping})
        self.docs = {r.doc.id: r.doc for r in rs.rules} | {c.doc.id: c.doc for c in rs.correlations}
        return Engine(rs, self.episodes)

    def maybe_reload(self) -> bool:
        now = time.monotonic()
        if now < self.next_reload:
            return False
        self.next_reload = now + self.cfg.reload_interval_ms / 1000
        sig = signature(self.paths)
        if sig == self.signature:
            return False
        self.signature = sig
        state = self._state()
        episodes, self.episodes = self.episodes, self._new_episodes()
        try:
            self.engine = self._compile()
        except Exception as exc:  # keep the running rules rather than stop alerting
            self.episodes = episodes
            log.error("rule reload failed; previous rules keep running", extra={"error": str(exc)})
            return False
        self._restore_state(state)  # windows and open alerts of the rules that remain
        RELOADS.inc()
        return True

    def _fresh(self, doc: dict[str, Any]) -> bool:
        return self.policy.fresh(doc, self.clock())

    def evaluate(self, doc: dict[str, Any], ref: Any = None) -> None:
        """Fold one ECS event's matches into alert episodes (collected by `_emit`)."""
        ts = event_time(doc)
        self.watermark = max(self.watermark, ts)
        for hit in self.engine.process(doc, ref, ts, self._fresh):
            self._observe(hit)

    def _observe(self, hit: Any) -> None:
        if not self.policy.level_ok(hit.doc):
            HELD_BACK.labels("below_level").inc()
            return
        ep = self.episodes.observe(hit, hit.corr)
        if ep.version == 1:
            self.policy.stats["raised"] += 1
            ALERTS.labels(hit.doc.level or "medium").inc()
        else:  # folded into the open alert instead of raising another
            self.policy.stats["suppressed"] += 1
            HELD_BACK.labels("suppressed").inc()

    def _emit(self) -> list["Output"]:
        """One alert version per changed episode; notifications for the changes that call for one."""
        from logwarden.worker import Output

        changed = self.episodes.drain()
        if not changed:
            return []
        out = []
        now = self.clock()
        for ep in changed:
            if ep.doc is None:
                continue
            alert = build_alert(ep, now, self.cfg.base_url)
            if ep.reported == 0:
                self.dispatcher.submit(alert, "opened")
                UPDATES.labels("opened").inc()
            elif ep.status == ACTIVE:
                self.dispatcher.submit(alert, "updated", ep.reported)
                UPDATES.labels("updated").inc()
            if ep.status == RECOVERED:
                self.dispatcher.submit(alert, "recovered")
                UPDATES.labels("recovered").inc()
            ep.reported = ep.count
            out.append(Output(self.alerts_topic, orjson.dumps(alert), ep.id.encode()))
        self.dirty = True
        return out

    def process(self, msgs: list[Any]) -> Iterable["Output"]:
        from logwarden.worker import Output

        self.maybe_reload()
        out: list[Output] = []
        skip = self.skip
        for m in msgs:
            tp, offset = (m.topic(), m.partition()), m.offset()
            self.offsets[tp] = offset + 1
            if skip and offset < skip.get(tp, -1):
                REPLAYED.inc()  # counted by the restored state before the restart
                continue
            value = m.value()
            try:
                doc = orjson.loads(value)
                if not isinstance(doc, dict):
                    raise ValueError("an ECS event must be a JSON object")
            except ValueError as exc:
                out.append(Output(self.dlq_topic, self._dead_letter(value, f"not a JSON object: {exc}", m)))
                continue
            try:
                self.evaluate(doc, (m.topic(), m.partition(), offset))
            except Exception as exc:  # an engine bug must cost one event, not the stage
                log.exception("rule evaluation failed")
                out.append(Output(self.dlq_topic, self._dead_letter(value, f"rule evaluation failed: {exc}", m)))
                continue
        self.last_event_at = time.monotonic()
        self.dirty = True
        return out + self._close_windows()

    def _close_windows(self) -> list["Output"]:
        for hit in self.engine.tick(self.watermark):
            self._observe(hit)
        self.episodes.expire(self.watermark)
        return self._emit()

    def idle(self) -> Iterable["Output"]:
        """Called by the worker shell while no events arrive.

        Rule files still hot-reload, and once the stream has been quiet for IDLE_GRACE_S the
        event-time watermark moves on with the wall clock, so a correlation whose window can
        only close on time (an upper bound such as `lt: 3`, or a temporal rule that never
        completed) is decided, and an alert whose attack stopped is recovered, without
        waiting for the next event.
        """
        self.maybe_reload()
        if time.monotonic() - self.last_event_at < IDLE_GRACE_S:
            return []
        self.watermark = max(self.watermark, self.clock() - IDLE_GRACE_S)
        return self._close_windows()

    def settle(self) -> Iterable["Output"]:
        """The end of a `logwarden replay` slice: the watermark moves on to the wall clock, as
        idle() lets it after a quiet spell, so windows and alerts whose time is over are decided
        and recovered rather than left open by an instance that is about to exit."""
        self.watermark = max(self.watermark, self.clock() - IDLE_GRACE_S)
        return self._close_windows()

    # --- state that outlives the process -------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {"correlations": self.engine.correlator.snapshot(), "episodes": self.episodes.snapshot()}

    def _restore_state(self, state: dict[str, Any]) -> None:
        self.engine.correlator.restore(state.get("correlations") or {})
        self.episodes.restore(state.get("episodes") or [], self.docs)

    def snapshot(self) -> dict[str, Any]:
        """The whole state and the input offsets it covers, as JSON-able data."""
        return {"version": STATE_VERSION, "offsets": [[t, p, o] for (t, p), o in sorted(self.offsets.items())],
                "watermark": self.watermark} | self._state()

    def restore(self, snap: dict[str, Any]) -> None:
        """Replace the state by `snapshot()` data and skip the messages it already counted."""
        if snap.get("version") != STATE_VERSION:
            log.warning("state snapshot of another version not restored", extra={"version": snap.get("version")})
            return
        self.episodes = self._new_episodes()
        self.engine = Engine(self.engine.ruleset, self.episodes)
        self._restore_state(snap)
        self.skip = {(t, p): o for t, p, o in snap.get("offsets") or []}
        self.offsets.update(self.skip)
        self.watermark = max(self.watermark, float(snap.get("watermark") or 0.0))

    def assigned(self, partitions: list[tuple[str, int]]) -> None:
        """Called by the worker shell when the consumer group assigns partitions, before any
        of their messages: restore the snapshot taken for exactly this assignment, if any.
        (Another assignment keeps the state in memory, as before snapshots existed.)"""
        key = "rules|" + ",".join(f"{t}/{p}" for t, p in sorted(partitions))
        if key == self.state_key:
            return
        self.state_key = key
        if self.store is None or not partitions:
            return
        snap = self.store.load(key)
        if snap:
            try:
                self.restore(snap)
            except Exception as exc:  # a snapshot this code cannot read must not stop the stage
                log.error("rules state snapshot not restored; starting afresh", extra={"key": key, "error": repr(exc)})
                self.episodes = self._new_episodes()
                self.engine = Engine(self.engine.ruleset, self.episodes)
                self.skip = {}
                return
            log.info("rules state restored", extra={"key": key, "episodes": len(self.episodes.open),
                                                     "offsets": snap.get("offsets")})

    def checkpoint(self) -> None:
        """Make the state durable before the shell commits offsets (see the module docstring).

        Alerts are outputs the shell already flushed; notifications are best-effort side
        effects and are not waited for here (they must not stall commits)."""
        if self.store is None or self.state_key is None or not self.dirty:
            return
        body = orjson.dumps(self.snapshot())
        SNAPSHOT_BYTES.set(len(body))
        self.store.save(self.state_key, body)
        self.dirty = False

    def close(self) -> None:
        self.dispatcher.close()
        if self.store is not None:
            self.store.close()

    def _dead_letter(self, value: bytes | None, reason: str, m: Any) -> bytes:
        """The logs.dlq record (logwarden.events shape), identified by where it was read, and
        counted as every stage counts its dead letters (logwarden_component_errors_total).
        `raw` is decoded again here: evaluation may have added fields to the first copy."""
        metrics.ERRORS.labels(self.name, "dead_letter").inc()
        try:
            decoded = orjson.loads(value) if value else None
        except orjson.JSONDecodeError:
            decoded = None
        eid = event_id("rules-dlq", m.topic(), m.partition(), m.offset())
        return orjson.dumps(dead_letter(value, reason, "rules", eid=eid, decoded=decoded))


def rules_config(cfg: "Config", **update: Any) -> RulesConfig:
    """`rules:` as a rules stage runs it (the worker, a replay): alert links lead to this
    appliance's own web UI unless `rules.base_url` says otherwise; `update` overrides keys."""
    from logwarden.apiclient import listen_url

    if not cfg.rules.base_url:
        update = {"base_url": listen_url(cfg.http.listen), **update}
    return cfg.rules.model_copy(update=update) if update else cfg.rules


def run(cfg: "Config") -> None:
    """Entry point of `logwarden worker rules`: blocks until SIGTERM/SIGINT."""
    from logwarden.worker import run_stage

    from .state import StateStore

    try:
        stage = RulesStage(rules_config(cfg), topics=cfg.topics, store=StateStore(cfg, cfg.topics.rules_state))
    except PipelineError as exc:  # a broken custom pipeline file: say so, exit as a config error
        log.error("cannot start the rules stage", extra={"error": str(exc)})
        raise SystemExit(2) from None
    run_stage(cfg, stage)


if TYPE_CHECKING:  # pragma: no cover
    from logwarden.worker import Output

