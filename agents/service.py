"""`logwarden agent`: tail cfg.sources and ship every line to `logs.raw`.

One loop in one thread (the filesystem watcher only sets an event):

    scan globs (every scan_interval_ms, or at once when a file appears or moves)
    read every open file from its position -> splitter -> multiline -> envelope -> produce
    serve delivery reports -> per-file AckTracker -> registry offsets
    check files (moved? truncated? inactive?) every poll_interval_ms
    write the registry every registry_flush_ms (atomic, fsync'd)
    wait for a watchdog event or poll_interval_ms

A rotated file is read to its end before the file that replaced it at the same path
(`rotated` -> `drained`), so lines reach the broker in the order they were written; with
several generations of one path rotated before any was drained (reading paused while the
broker is away), the oldest goes first and each newer one waits only for older ones.
Files found on the first scan start at `start_at`; files that appear later start at
offset 0 (they are new logs, e.g. the one logrotate just created) - except a copytruncate
copy: a new file with the first line and the bytes of a file being tailed waits until the
original is truncated, then continues where the original's reading ended (its `Handoff`),
so the lines the agent had not read before the truncation are read once, from the copy.
"""
from __future__ import annotations

import functools
import gc
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import orjson

import logwarden
from logwarden.config import Config
from logwarden.events import now_iso
from logwarden.kafka import producer_settings
from logwarden.spool import Spool

from . import metrics
from .config import AgentConfig, FileSource
from .discovery import matches, watch_roots
from .envelope import EnvelopeTemplate
from .harvester import Handoff, Harvester
from .identity import file_key, fingerprint_fd, fingerprint_path, first_line_bytes, same_content
from .lifecycle import FileEvent, FileState
from .metrics import Stats
from .monitor import MonitorServer
from .registry import Registry
from .shipper import Shipper
from .watch import Wakeup, start_observer

log = logging.getLogger("logwarden.agent")
PUMP_BYTES_PER_FILE = 4 * 1_048_576  # per loop turn, so one busy file cannot starve the others
SHUTDOWN_FLUSH_S = 10.0
STATS_LOG_S = 30.0
LAG_PUBLISH_S = 1.0  # lag gauges cost an fstat per open file: at most once a second
HANDOFFS_KEPT = 64  # ended generations remembered for their copies; logrotate makes one copy per rotation


def _agent_id(directory: Path) -> str:
    """A stable agent.id, kept beside the registry like Filebeat's meta.json."""
    meta = directory / "meta.json"
    try:
        return str(orjson.loads(meta.read_bytes())["id"])
    except (OSError, ValueError, KeyError, TypeError):
        directory.mkdir(parents=True, exist_ok=True)
        aid = str(uuid.uuid4())
        tmp = meta.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"id": aid}))
        os.replace(tmp, meta)
        return aid


class Agent:
    def __init__(self, cfg: Config, acfg: AgentConfig | None = None, sources: list[FileSource] | None = None):
        self.cfg = cfg
        self.acfg = acfg = acfg or AgentConfig()
        self.sources = list(cfg.sources if sources is None else sources)
        self.dir = cfg.data_path / "agent"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.registry = Registry(self.dir / "registry.json")
        hostname = acfg.host_name or socket.gethostname()
        self.host = {"name": hostname}
        self.agent_info = {"type": "logwarden", "version": logwarden.__version__, "id": _agent_id(self.dir), "name": acfg.name or hostname}
        self.stats = Stats()
        spool = Spool(self.dir / "spool", acfg.spool_max_bytes, acfg.spool_segment_bytes) if acfg.spool_max_bytes > 0 else None
        settings = producer_settings(cfg, **{
            "client.id": "logwarden-agent",
            "logger": logging.getLogger("logwarden.agent.librdkafka"),  # librdkafka logs as structured JSON lines
            "linger.ms": acfg.linger_ms,
            "batch.size": acfg.batch_max_bytes,
            "compression.type": acfg.compression,
            "message.timeout.ms": acfg.delivery_timeout_ms,
            "retry.backoff.ms": acfg.retry_backoff_ms,
            "retry.backoff.max.ms": max(acfg.retry_backoff_ms, acfg.retry_backoff_max_ms),
            "queue.buffering.max.messages": min(acfg.max_inflight_records + 1000, 10_000_000),
        })
        self.shipper = Shipper(settings, cfg.topics.raw, self.stats, spool=spool, max_inflight=acfg.max_inflight_records,
                               backoff_ms=acfg.retry_backoff_ms, backoff_max_ms=acfg.retry_backoff_max_ms)
        self.harvesters: dict[str, Harvester] = {}  # open files by 'device:inode'
        self.closing: list[Harvester] = []  # closed files whose last records await acknowledgement
        self.idle: set[str] = set()  # closed for inactivity; reopened when they grow
        self.handoffs: OrderedDict[str, Handoff] = OrderedDict()  # by fingerprint: truncated content, for its copy
        self._first_scan = True
        self._unreadable: set[str] = set()
        self.stop_event = threading.Event()
        self.wake = Wakeup()
        self.last_turn = time.monotonic()  # when the loop last turned (the monitor's liveness)
        self.monitor: MonitorServer | None = MonitorServer(self, acfg.monitor_listen) if acfg.monitor_listen else None

    # -- discovery -------------------------------------------------------------------------
    def scan(self) -> None:
        seen: set[str] = set()
        found: list[tuple[FileSource, str, str, int]] = []
        for source in self.sources:
            for path in matches(source):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                key = file_key(st)
                seen.add(key)
                if key in self.harvesters or any(h.key == key for h in self.closing):
                    continue
                found.append((source, path, key, st.st_size))
        # Files the registry knows are opened before new ones: an original truncated while the
        # agent was not running leaves its handoff (in _open) before its copy is looked at.
        found.sort(key=lambda f: self.registry.get(f[2]) is None)
        for source, path, key, size in found:
            self._open(source, path, key, size)
        self._first_scan = False
        if self.acfg.clean_removed:
            open_keys = set(self.harvesters) | {h.key for h in self.closing}
            for key in [k for k in self.registry.entries if k not in open_keys and k not in seen]:
                self.registry.remove(key)
                self.idle.discard(key)

    def _moved_device(self, key: str, path: str, fp: str | None) -> str | None:
        """The registry key of this file under an older device number, if any.

        Device numbers are not stable across reboots on some setups (LVM, overlay and
        network filesystems, containers remounting a volume): same inode, same path, same
        fingerprint on another device is the same file, so its offset carries over.
        """
        _, _, ino = key.partition(":")
        for old, e in self.registry.entries.items():
            if old != key and e.inode == ino and e.path == path and fp is not None and e.fingerprint == fp:
                return old
        return None

    def _open(self, source: FileSource, path: str, key: str, size: int) -> None:
        entry = self.registry.get(key)
        fp = fingerprint_path(path)
        if entry is None and (old := self._moved_device(key, path, fp)) is not None:
            entry = self.registry.entries.pop(old)
            self.registry.set(key, entry.path, entry.fingerprint, entry.offset)
            entry = self.registry.get(key)
            log.info("file found on a new device number, resuming", extra={"path": path, "old_key": old, "file_key": key})
        if entry is not None and (entry.fingerprint is None or fp is None or entry.fingerprint == fp) and entry.offset <= size:
            if key in self.idle and entry.offset == size:
                return  # closed for inactivity and still nothing new
            offset, fp = entry.offset, entry.fingerprint or fp
        elif entry is not None:
            log.info("file identity reused or file truncated, reading from 0", extra={"path": path, "file_key": key, "registry_offset": entry.offset, "size": size})
            offset = 0
            if entry.fingerprint and entry.offset and entry.tail:
                # Truncated while the agent was not running (copytruncate during a restart): its
                # copy, if one appears, continues where this file's acknowledged reading ended.
                self._remember(Handoff(entry.fingerprint, entry.offset, bytes.fromhex(entry.tail), entry.device_id, entry.inode))
        elif self._first_scan and source.start_at == "end":
            offset = size
        else:
            offset = 0
        try:
            h = Harvester(source, path, offset, fp)
        except OSError as exc:
            if path not in self._unreadable:  # once per path, not once per scan
                self._unreadable.add(path)
                log.warning("cannot open file", extra={"path": path, "error": str(exc)})
            return
        self._unreadable.discard(path)
        if h.key != key:  # replaced between stat and open; the next scan sees the new one
            h.close()
            return
        self.idle.discard(key)
        if entry is None and offset == 0:
            self._find_original(h)
        self.harvesters[key] = h
        metrics.FILES.set(len(self.harvesters))
        log.info("tailing file", extra={"path": path, "file_key": key, "offset": h.position})

    # -- copytruncate copies ---------------------------------------------------------------
    def _find_original(self, h: Harvester) -> None:
        """A new file with the content of a file being read is a copy of it (logrotate's
        copytruncate copies, then truncates): hold it until the original's generation ends,
        or continue it at once where an ended generation's reading stopped.

        A copy has the original's first line *and* its bytes, and more than that one line: a
        file that only starts with the same header line is not held. When the bytes differ,
        the original may have been truncated already (found before the next poll): it is
        checked at once, so it leaves its handoff first."""
        if h.fingerprint is None:
            return
        for other in list(self.harvesters.values()):
            if other is h or not self._same_generation(h, other):  # h is listed already when its
                continue                                             # first line came after its opening
            if not same_content(h.fd, other.fd):
                self._check_one(other, time.monotonic())
            if self._same_generation(h, other) and h.size() > first_line_bytes(h.fd) and same_content(h.fd, other.fd):
                h.copy_of = other
                log.info("file is a copy of a file being tailed, held until that one is truncated",
                         extra={"path": h.path, "file_key": h.key, "original": other.path, "original_key": other.key})
                return
        self._continue_copy(h)

    def _continue_copy(self, h: Harvester) -> None:
        ho = self.handoffs.get(h.fingerprint or "")
        if ho is not None and ho.resume and ho.matches(h.fd):
            h.resume_at(ho.resume)
            # The copy's lines are the original's content at the original's offsets: they carry
            # its file identity, so a line shipped from the original and read again from the copy
            # (acknowledged but not yet in the registry when the agent was killed) has the same
            # event.id and collapses in the index instead of being indexed twice.
            if ho.inode:
                h.device_id, h.inode, h.template = ho.device_id, ho.inode, None
            log.info("copy of a truncated file, reading it from where the original's reading ended",
                     extra={"path": h.path, "file_key": h.key, "offset": ho.resume})

    def _held_copy(self, h: Harvester, now: float) -> bool:
        """While its original still reads the same content, a copy waits (reading both would
        ship those lines twice); when that ends, the copy continues at the handoff, if any.

        When the two differ, the original is checked at once: truncated (the copytruncate's
        second half), it leaves its handoff; still the same content, the held file was not
        a copy after all (it grew its own lines) and is read from 0."""
        o = h.copy_of
        if o is None:
            return False
        if self._same_generation(h, o):
            if same_content(h.fd, o.fd):
                return True
            if o.key in self.harvesters:
                self._check_one(o, now)
            if self._same_generation(h, o):
                log.info("held file differs from the file it seemed a copy of, reading it from 0", extra={"path": h.path, "file_key": h.key})
        h.copy_of = None
        self._continue_copy(h)
        return False

    @staticmethod
    def _same_generation(h: Harvester, o: Harvester) -> bool:
        return o.fd >= 0 and h.fd >= 0 and o.fingerprint == h.fingerprint and o.state is FileState.TAILING

    def _keep_handoff(self, h: Harvester) -> None:
        ho, h.handoff = h.handoff, None
        if ho is not None:
            self._remember(ho)

    def _remember(self, ho: Handoff) -> None:
        self.handoffs[ho.fingerprint] = ho
        self.handoffs.move_to_end(ho.fingerprint)
        while len(self.handoffs) > HANDOFFS_KEPT:
            self.handoffs.popitem(last=False)

    # -- reading ---------------------------------------------------------------------------
    def _template(self, h: Harvester, fingerprint: str | None = None) -> EnvelopeTemplate:
        """The file's envelope template; with `fingerprint`, one for its content before a truncation."""
        src = h.source
        fields = dict(src.fields)
        if src.format:
            fields["log_format"] = src.format
        tpl = EnvelopeTemplate(path=h.path, device_id=h.device_id, inode=h.inode, fingerprint=(fingerprint or h.fingerprint) or "",
                               host=self.host, agent=self.agent_info, fields=fields, tags=list(src.tags))
        if fingerprint is None:
            h.template = tpl
        return tpl

    def _blocked(self, h: Harvester) -> bool:
        """Finish a rotated file before reading a newer one opened at its path.

        Only an *older* harvester (opened earlier at the same path) can hold `h` back: the
        oldest rotated file of a path is never blocked, so it drains and frees the next.
        When the agent cannot read for a while (backpressure: the broker is away) several
        files can rotate at one path before any of them is read to its end; if any rotated
        file blocked every other, two of them would block each other for good.
        """
        for other in self.harvesters.values():
            if other.seq < h.seq and other.path == h.path and other.state is FileState.ROTATED:
                return True
        return False

    def pump(self, now: float) -> int:
        total = 0
        ts = now_iso().encode()
        limit = self.acfg.read_buffer_bytes
        for h in list(self.harvesters.values()):
            if h.fingerprint is None and h.splitter.position == 0:
                # opened before its first line was complete (logrotate's copy exists before
                # its bytes do): once that line is there, it may be a copy like any other
                h.fingerprint = fingerprint_fd(h.fd)
                if h.fingerprint is not None:
                    self._find_original(h)
            if self._held_copy(h, now) or self._blocked(h):
                continue
            budget = PUMP_BYTES_PER_FILE
            while budget > 0 and not self.shipper.busy:
                recs, n = h.read(limit, now)
                if h.suspect:  # its first line changed under us: truncated and refilled
                    self._check_one(h, now)
                    break
                if recs:
                    tpl = h.template or self._template(h)
                    if h.splitter.truncated:
                        self.stats.truncated += h.splitter.truncated
                        h.splitter.truncated = 0
                    self.shipper.send_records(recs, tpl.build, ts, h.tracker)
                    self.stats.lines_read += len(recs)
                if n:
                    self.stats.bytes_read += n
                    total += n
                    budget -= n
                    self.shipper.poll(0)
                if n < limit:
                    break
        return total

    # -- housekeeping ----------------------------------------------------------------------
    def check(self, now: float) -> None:
        for h in list(self.harvesters.values()):
            self._check_one(h, now)

    def _check_one(self, h: Harvester, now: float) -> None:
        """Moved? truncated? idle or removed? Every poll, and at once when a read looks suspect."""
        inactive_s = self.acfg.close_inactive_ms / 1000.0
        key = h.key
        ev = h.check()
        if ev is FileEvent.MOVED:
            self.wake.rescan = True
        elif ev is FileEvent.TRUNCATED:
            self._keep_handoff(h)
        if ev is FileEvent.TRUNCATED and h.leftover is not None:
            rec, old_fp, tracker = h.leftover
            h.leftover = None
            tpl = self._template(h, old_fp)
            self.shipper.send_records([rec], tpl.build, now_iso().encode(), tracker)
            self.stats.lines_read += 1
        idle = h.eof and now - h.last_activity >= inactive_s and not (h.joiner and h.joiner.pending)
        if h.state is FileState.DRAINED and h.eof and h.removed and not (h.joiner and h.joiner.pending):
            idle = True  # unlinked (Filebeat's close_removed): release the descriptor and its disk space
        if idle and h.state in (FileState.TAILING, FileState.DRAINED):
            if h.state is FileState.DRAINED:  # its writer is gone: a last line without newline is complete
                recs = h.flush_partial()
                if recs:
                    tpl = h.template or self._template(h)
                    ts = now_iso().encode()
                    for rec in recs:
                        self.shipper.send(tpl.build(rec, ts), functools.partial(h.tracker.ack, h.tracker.add(rec.end)))
            h.fire(FileEvent.INACTIVE)
            h.close()
            del self.harvesters[key]
            self.closing.append(h)
            if os.path.exists(h.path):
                self.idle.add(key)
            metrics.FILES.set(len(self.harvesters))

    def commit(self, force: bool = False) -> None:
        for h in list(self.harvesters.values()) + self.closing:
            offset = h.tracker.committed
            if h.fingerprint is not None or offset:
                e = self.registry.get(h.key)
                moved = e is None or e.offset != offset or e.fingerprint != h.fingerprint
                self.registry.set(h.key, h.path, h.fingerprint, offset, h.bytes_before(offset) if moved else None)
        self.closing = [h for h in self.closing if h.tracker.pending]
        self.registry.flush(force)
        metrics.publish(self.stats)

    def lag_by_path(self) -> dict[str, int]:
        """Bytes not read yet per path (the path a harvester was opened at, so a path's
        rotated files add up under it): what grows while a file is held back or stuck."""
        out: dict[str, int] = {}
        for h in list(self.harvesters.values()):
            out[h.path] = out.get(h.path, 0) + h.lag_bytes()
        return out

    # -- the loop --------------------------------------------------------------------------
    def run_forever(self) -> None:
        acfg = self.acfg
        observer = start_observer(watch_roots([p for s in self.sources for p in s.paths]), self.wake) if acfg.watch else None
        poll_s, scan_s, flush_s = acfg.poll_interval_ms / 1000.0, acfg.scan_interval_ms / 1000.0, acfg.registry_flush_ms / 1000.0
        next_scan = next_check = next_flush = next_stats = next_lag = 0.0
        lag: dict[str, int] = {}
        if self.monitor is not None:
            self.monitor.start()
        try:
            while not self.stop_event.is_set():
                now = self.last_turn = time.monotonic()
                if now >= next_scan or self.wake.rescan:
                    self.wake.rescan = False
                    self.scan()
                    next_scan = now + scan_s
                read = self.pump(now)
                self.shipper.poll(0)
                if now >= next_check:
                    self.check(now)
                    next_check = now + poll_s
                if now >= next_flush:
                    self.commit()
                    next_flush = now + flush_s
                if now >= next_lag:
                    lag = self.lag_by_path()
                    metrics.publish_lag(lag)
                    next_lag = now + LAG_PUBLISH_S
                if now >= next_stats:
                    if next_stats:
                        log.info("agent stats", extra={**self.stats.as_dict(), "files": len(self.harvesters), "lag_bytes": sum(lag.values())})
                    next_stats = now + STATS_LOG_S
                if read and not self.shipper.busy:
                    continue
                if self.shipper.busy or self.shipper.inflight:
                    self.shipper.poll(min(poll_s, 0.05))
                    if self.wake.event.is_set():
                        self.wake.event.clear()
                else:
                    self.wake.wait(min(poll_s, max(0.0, next_scan - time.monotonic())))
        finally:
            if observer is not None:
                observer.stop()
            if self.monitor is not None:
                self.monitor.stop()
            self.shutdown()

    def shutdown(self) -> None:
        self.shipper.close(SHUTDOWN_FLUSH_S)
        self.commit(force=True)
        for h in self.harvesters.values():
            h.fire(FileEvent.STOP)
            h.close()
        self.harvesters.clear()
        metrics.FILES.set(0)
        log.info("agent stopped", extra=self.stats.as_dict())

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.event.set()


def run(cfg: Config) -> None:
    """Entry point of `logwarden agent`: blocks until SIGTERM/SIGINT, then flushes and commits."""
    acfg = cfg.agent
    agent = Agent(cfg, acfg)
    if not agent.sources:
        log.warning("no sources configured: nothing to tail (add `sources:` or --tail GLOB)")
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: agent.stop())
    log.info("agent started", extra={"sources": [s.paths for s in agent.sources], "bootstrap_servers": cfg.bootstrap_servers,
                                      "registry": str(agent.registry.path)})
    gc.freeze()  # start-up objects (modules, config) leave the GC's scans: cheaper collections per record
    agent.run_forever()
