"""Filesystem notifications (watchdog) that wake the tailing loop early.

The loop polls every `poll_interval_ms` anyway (the fallback that works everywhere: NFS,
overlayfs, kernels without inotify, too many watches); watchdog only shortens the wait
after a write. A created or moved file also asks for an immediate rescan of the globs, so
the file that replaces a rotated log is picked up at once.
"""
from __future__ import annotations

import logging
import threading

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)


class Wakeup(FileSystemEventHandler):
    def __init__(self) -> None:
        self.event = threading.Event()
        self.rescan = False

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("created", "moved", "deleted"):
            self.rescan = True
        if event.event_type != "opened" and event.event_type != "closed_no_write":
            self.event.set()

    def wait(self, timeout: float) -> bool:
        woke = self.event.wait(timeout)
        self.event.clear()
        return woke


def start_observer(roots: dict[str, bool], handler: Wakeup) -> Observer | None:
    """Watch the directories; None (polling only) if the platform refuses."""
    try:
        obs = Observer()
        for root, recursive in roots.items():
            obs.schedule(handler, root, recursive=recursive)
        obs.daemon = True
        obs.start()
        return obs
    except Exception as exc:  # inotify watch limit, unsupported filesystem...
        log.warning("filesystem notifications unavailable, polling only", extra={"error": str(exc)})
        return None
