"""Run the ingest service on its own event loop thread, on free ports, for a test."""
from __future__ import annotations

import asyncio
import threading

from logwarden.config import Config
from logwarden.ingest.service import Ingest


class RunningIngest:
    def __init__(self, cfg: Config):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ingest = self._call(self._make(cfg))
        self._call(self.ingest.start())

    async def _make(self, cfg: Config) -> Ingest:
        return Ingest(cfg)

    def _call(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def addr(self, name: str) -> tuple[str, int]:
        return self.ingest.addresses[name]

    def url(self) -> str:
        host, port = self.addr("http")
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self._call(self.ingest.stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(30)
            self.loop.close()
