"""The agent's own HTTP monitoring endpoint (Filebeat's `http.enabled` on :5066, Vector's API).

An agent on a remote host has no appliance HTTP app in its process tree, so when
`agent.monitor_listen` is set it serves, from a daemon thread with the standard library's
threading HTTP server (a few requests a minute; nothing to gain from asyncio here):

    GET /health   200 {"status": "ok" | "spooling", ...}; 503 {"status": "stalled"} when the
                  tailing loop has not turned for STALL_S (a liveness probe restarts it)
    GET /stats    counters, spool and in-flight figures, and every open file with its
                  lifecycle state, size, read position, acknowledged (committed) offset and
                  lag_bytes (size - position: grows while the file is held back or stuck)
    GET /metrics  Prometheus text (this process, or all processes in multiprocess mode)
"""
from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import orjson

from logwarden.metrics import exposition
from logwarden.model import parse_hostport

from . import metrics

if TYPE_CHECKING:
    from .service import Agent

log = logging.getLogger(__name__)
STALL_S = 60.0  # the loop turns at least every poll_interval_ms; a minute without a turn is a hang


def snapshot(agent: "Agent") -> dict[str, Any]:
    sp = agent.shipper.spool
    files = []
    for h in list(agent.harvesters.values()):
        size, position = h.size(), h.position
        files.append({"path": h.path, "file_key": h.key, "state": h.state.value, "size": size, "position": position,
                      "committed": h.tracker.committed, "lag_bytes": max(0, size - position)})
    return {
        **agent.stats.as_dict(),
        "inflight": agent.shipper.inflight,
        "spool_bytes": sp.size_bytes if sp is not None else 0,
        "lag_bytes": sum(f["lag_bytes"] for f in files),
        "files": files,
    }


class MonitorServer:
    def __init__(self, agent: "Agent", listen: str):
        host, port = parse_hostport(listen)
        self.agent = agent
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, body, ctype = outer.answer(self.path.split("?", 1)[0])
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt: str, *args: Any) -> None:  # requests are not worth a log line each
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.address = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever, name="agent-monitor", daemon=True)

    def answer(self, path: str) -> tuple[int, bytes, str]:
        if path == "/health":
            age = time.monotonic() - self.agent.last_turn
            if age > STALL_S:
                return 503, orjson.dumps({"status": "stalled", "last_loop_turn_s_ago": round(age, 1)}), "application/json"
            sp = self.agent.shipper.spool
            spooling = sp is not None and not sp.empty
            return 200, orjson.dumps({"status": "spooling" if spooling else "ok", "files": len(self.agent.harvesters),
                                      "inflight": self.agent.shipper.inflight}), "application/json"
        if path == "/stats":
            return 200, orjson.dumps(snapshot(self.agent)), "application/json"
        if path == "/metrics":
            metrics.publish(self.agent.stats)  # the lag gauges follow the loop (LAG_PUBLISH_S)
            return 200, exposition(), "text/plain; version=0.0.4; charset=utf-8"
        return 404, orjson.dumps({"error": f"no such endpoint {path}: try /health, /stats or /metrics"}), "application/json"

    def start(self) -> None:
        self.thread.start()
        log.info("agent monitor listening", extra={"listen": f"{self.address[0]}:{self.address[1]}"})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
