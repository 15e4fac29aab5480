"""The rules stage (`logwarden worker rules`): logs.ecs -> Sigma engine -> alerts.

`RulesStage` is a pure stage for `logwarden.worker.run_stage`: it gets a batch of Kafka
messages and returns outputs - alert documents for the `alerts` topic (keyed by alert id,
so compaction and the index dedupe by id) and, for a message that is not a JSON object,
a dead-letter document with the reason. Notifications go to a background dispatcher; the
alert itself is durable on the topic before offsets move, so a crash replays the batch and
the deterministic alert ids (plus the dedup window) keep replays from alerting twice.

Hot reload: every `reload_interval_ms` the stage compares the rule files' (path, mtime,
size) signature; on a change it recompiles and swaps the engine atomically between
batches. Errors in the new files are logged with file:line and the good rules run; if the
new set cannot be built at all, the previous engine keeps running. Correlation state
starts afresh after a reload.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Iterable

import orjson
from prometheus_client import Counter, Gauge

from logwarden.events import event_id, now_iso
from logwarden.stages import TopicsConfig

from .alerts import AlertPolicy, build_alert
from .cli import load, rule_paths
from .config import RulesConfig
from .engine import Engine, event_time
from .loader import iter_rule_files
from .mapping import PipelineError
from .notify import Dispatcher, build as build_notifier

if TYPE_CHECKING:
    from logwarden.config import Config

log = logging.getLogger("logwarden.rules")

ALERTS = Counter("logwarden_rules_alerts_total", "Alerts raised, by level.", ["level"])
HELD_BACK = Counter("logwarden_rules_held_back_alerts_total", "Hits not raised as alerts, by reason.", ["reason"])
LOADED = Gauge("logwarden_rules_loaded_rules", "Rules and correlations currently running.", multiprocess_mode="max")
LOAD_ERRORS = Gauge("logwarden_rules_load_errors", "Rule documents that failed to load in the current set.", multiprocess_mode="max")
RELOADS = Counter("logwarden_rules_reloads_total", "Rule set reloads after file changes.")


def _signature(paths: list[str]) -> tuple:
    files, _ = iter_rule_files(paths)
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            continue
    return tuple(out)


# A quiet stream for this long lets the watermark follow the wall clock (see idle()).
IDLE_GRACE_S = 5.0


class RulesStage:
    name = "rules"

    def __init__(self, cfg: RulesConfig, *, clock=time.time, topics: TopicsConfig | None = None):
        """`topics`: the names from logwarden.yml's `topics:` (the built-in ones when omitted)."""
        self.cfg = cfg
        names = topics or TopicsConfig()
        self.topics = [names.ecs]
        self.alerts_topic, self.dlq_topic = names.alerts, names.dlq
        self.clock = clock
        self.paths = rule_paths(cfg.paths, cfg.bundled)
        self.policy = AlertPolicy(cfg)
        self.dispatcher = Dispatcher([build_notifier(n) for n in cfg.notifiers])
        self.engine = self._compile()
        self.signature = _signature(self.paths)
        self.next_reload = time.monotonic() + cfg.reload_interval_ms / 1000
        self.watermark = 0.0
        self.last_event_at = time.monotonic()

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
        return Engine(rs)

    def maybe_reload(self) -> bool:
        now = time.monotonic()
        if now < self.next_reload:
            return False
        self.next_reload = now + self.cfg.reload_interval_ms / 1000
        sig = _signature(self.paths)
        if sig == self.signature:
            return False
        self.signature = sig
        try:
            self.engine = self._compile()
        except Exception as exc:  # keep the running rules rather than stop alerting
            log.error("rule reload failed; previous rules keep running", extra={"error": str(exc)})
            return False
        RELOADS.inc()
        return True

    def evaluate(self, doc: dict[str, Any], ref: Any = None) -> list[dict[str, Any]]:
        """Alert documents (after policy) raised by one ECS event."""
        ts = event_time(doc)
        self.watermark = max(self.watermark, ts)
        hits = self.engine.process(doc, ref, ts)
        return self._admit(hits)

    def _admit(self, hits) -> list[dict[str, Any]]:
        if not hits:  # most events: no clock read, no list
            return []
        out = []
        now = self.clock()
        for hit in hits:
            alert = build_alert(hit, now, self.cfg.base_url)
            before = dict(self.policy.stats)
            if self.policy.admit(alert, now):
                ALERTS.labels(alert["alert"]["level"]).inc()
                self.dispatcher.submit(alert)
                out.append(alert)
            else:
                for reason, n in self.policy.stats.items():
                    if n > before[reason]:
                        HELD_BACK.labels(reason).inc()
        return out

    def process(self, msgs: list[Any]) -> Iterable["Output"]:
        from logwarden.worker import Output

        self.maybe_reload()
        out: list[Output] = []
        for m in msgs:
            value = m.value()
            try:
                doc = orjson.loads(value)
                if not isinstance(doc, dict):
                    raise ValueError("an ECS event must be a JSON object")
            except ValueError as exc:
                out.append(Output(self.dlq_topic, self._dead_letter(value, f"not a JSON object: {exc}", m)))
                continue
            try:
                alerts = self.evaluate(doc, (m.topic(), m.partition(), m.offset()))
            except Exception as exc:  # an engine bug must cost one event, not the stage
                log.exception("rule evaluation failed")
                out.append(Output(self.dlq_topic, self._dead_letter(value, f"rule evaluation failed: {exc}", m)))
                continue
            for a in alerts:
                out.append(Output(self.alerts_topic, orjson.dumps(a), a["event"]["id"].encode()))
        self.last_event_at = time.monotonic()
        return out + self._close_windows()

    def _close_windows(self) -> list["Output"]:
        from logwarden.worker import Output

        out = [Output(self.alerts_topic, orjson.dumps(a), a["event"]["id"].encode())
               for a in self._admit(self.engine.tick(self.watermark))]
        self.policy.expire(self.clock())
        return out

    def idle(self) -> Iterable["Output"]:
        """Called by the worker shell while no events arrive.

        Rule files still hot-reload, and once the stream has been quiet for IDLE_GRACE_S the
        event-time watermark moves on with the wall clock, so a correlation whose window can
        only close on time (an upper bound such as `lt: 3`, or a temporal rule that never
        completed) is decided without waiting for the next event.
        """
        self.maybe_reload()
        if time.monotonic() - self.last_event_at < IDLE_GRACE_S:
            return []
        self.watermark = max(self.watermark, self.clock() - IDLE_GRACE_S)
        return self._close_windows()

    @staticmethod
    def _dead_letter(value: bytes | None, reason: str, m: Any) -> bytes:
        text = (value or b"").decode("utf-8", "replace")
        return orjson.dumps({
            "@timestamp": now_iso(),
            "event": {"id": event_id("rules-dlq", m.topic(), m.partition(), m.offset()), "original": text, "kind": "pipeline_error"},
            "error": {"message": reason, "type": "rules"},
            "raw": text,
        })

    def checkpoint(self) -> None:
        # Alerts are outputs made durable by the shell's producer flush; notifications are
        # best-effort side effects and are not waited for here (they must not stall commits).
        pass

    def close(self) -> None:
        self.dispatcher.close()


def run(cfg: "Config") -> None:
    """Entry point of `logwarden worker rules`: blocks until SIGTERM/SIGINT."""
    from logwarden.worker import run_stage

    from logwarden.apiclient import listen_url

    rules = cfg.rules
    if not rules.base_url:  # alert links lead to this appliance's own web UI
        rules = rules.model_copy(update={"base_url": listen_url(cfg.http.listen)})
    try:
        stage = RulesStage(rules, topics=cfg.topics)
    except PipelineError as exc:  # a broken custom pipeline file: say so, exit as a config error
        log.error("cannot start the rules stage", extra={"error": str(exc)})
        raise SystemExit(2) from None
    run_stage(cfg, stage)


if TYPE_CHECKING:  # pragma: no cover
    from logwarden.worker import Output

