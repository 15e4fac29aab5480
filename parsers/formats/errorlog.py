"""nginx and Apache error logs.

    2016/10/25 14:49:34 [error] 54053#0: *1 open() "/x/favicon.ico" failed (2: No such file or directory), client: 127.0.0.1, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "localhost:8080"
    [Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1234:tid 140] [client 192.0.2.1:5678] AH00124: Request exceeded the limit
    [Wed Oct 11 14:32:52 2000] [error] [client 192.0.2.1] File does not exist: /var/www/favicon.ico

Field names follow Filebeat's nginx.error / apache.error filesets (log.level, process.pid,
process.thread.id, nginx.error.connection_id, apache.error.module); the message is the text
after the header. nginx's `client:`/`request:` trailer also fills source.ip and
http.request.method / url.original, which is what an analyst pivots on. Neither format
has a zone: times are read in the configured one. Multi-line messages (PHP-FPM stderr)
arrive joined by the agent and are kept whole.
"""
from __future__ import annotations

import re
from typing import Any

from ..core import FormatOptions, ParseFailure, default_dataset, is_ip, long_or_none
from ..timefmt import LayoutConverter

NGINX_ERROR = re.compile(r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(\w+)\] (\d{1,18})#(\d{1,18}): (?:\*(\d{1,18}) )?(.*)\Z", re.S)
_NGINX_CLIENT = re.compile(r", client: ([^,\s]+)")
_NGINX_REQUEST = re.compile(r', request: "(\S+) (\S+)(?: HTTP/([\d.]+))?"')
_NGINX_SERVER = re.compile(r", server: ([^,\s]+)")
APACHE_ERROR = re.compile(
    r"\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] \[(?:([\w-]+):)?(\w+)\]"
    r"(?: \[pid (\d{1,18})(?::tid (\d{1,18}))?\])?(?: \[client ([^\]]+)\])? (.*)\Z", re.S)
_APACHE_CODE = re.compile(r"(AH\d{5}): ")


def _multiline(doc: dict[str, Any]) -> None:
    """Mark an event the agent joined from several lines, as Filebeat's multiline does."""
    flags = doc["log"].setdefault("flags", [])
    if "multiline" not in flags:
        flags.append("multiline")


class NginxErrorParser:
    name = "nginx_error"

    def __init__(self, options: FormatOptions | None = None):
        self.time = LayoutConverter("%Y/%m/%d %H:%M:%S", (options or FormatOptions()).tz)

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        m = NGINX_ERROR.match(line)
        if m is None:
            return ParseFailure("not an nginx error log line", self.name)
        ts, level, pid, tid, conn, msg = m.groups()
        iso = self.time(ts)
        if iso is None:
            return ParseFailure(f"invalid nginx error time {ts!r}", self.name)
        doc["@timestamp"] = iso
        doc["message"] = msg
        doc["log"]["level"] = level
        if "\n" in msg:
            _multiline(doc)
        doc["process"] = {"pid": int(pid), "thread": {"id": int(tid)}}
        if conn:
            doc["nginx"] = {"error": {"connection_id": int(conn)}}
        c = _NGINX_CLIENT.search(msg)
        if c:
            addr = c.group(1)
            doc["source"] = {"address": addr, "ip": addr} if is_ip(addr) else {"address": addr}
        r = _NGINX_REQUEST.search(msg)
        if r:
            doc["http"] = {"request": {"method": r.group(1)}}
            if r.group(3):
                doc["http"]["version"] = r.group(3)
            doc["url"] = {"original": r.group(2)}
        ev = doc["event"]
        ev["category"] = ["web"]
        ev["type"] = ["error"]
        default_dataset(ev, "nginx", "nginx.error")
        return "nginx_error.line"


class ApacheErrorParser:
    name = "apache_error"

    def __init__(self, options: FormatOptions | None = None):
        tz = (options or FormatOptions()).tz
        self.time = LayoutConverter("%a %b %d %H:%M:%S %Y", tz)
        self.time_frac = LayoutConverter("%a %b %d %H:%M:%S.%f %Y", tz)

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        m = APACHE_ERROR.match(line)
        if m is None:
            return ParseFailure("not an Apache error log line", self.name)
        ts, module, level, pid, tid, client, msg = m.groups()
        iso = (self.time_frac if "." in ts else self.time)(ts)
        if iso is None:
            return ParseFailure(f"invalid Apache error time {ts!r}", self.name)
        doc["@timestamp"] = iso
        doc["message"] = msg
        doc["log"]["level"] = level
        if "\n" in msg:
            _multiline(doc)
        if module:
            doc["apache"] = {"error": {"module": module}}
        if pid:
            doc["process"] = {"pid": int(pid)}
            if tid:
                doc["process"]["thread"] = {"id": int(tid)}
        if client:
            addr, _, port = client.rpartition(":") if client.count(":") == 1 else (client, "", "")
            src: dict[str, Any] = {"address": addr}
            if is_ip(addr):
                src["ip"] = addr
            if long_or_none(port) is not None:
                src["port"] = long_or_none(port)
            doc["source"] = src
        code = _APACHE_CODE.match(msg)
        if code:
            doc["error"] = {"code": code.group(1)}
        ev = doc["event"]
        ev["category"] = ["web"]
        ev["type"] = ["error"]
        default_dataset(ev, "apache", "apache.error")
        return "apache_error.line"
