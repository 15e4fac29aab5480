"""Web server access logs: nginx and Apache, common / combined / vhost variants.

    203.0.113.9 - alice [17/May/2015:10:05:03 +0000] "GET /a?b=1 HTTP/1.1" 200 203023 "http://ref/" "Mozilla/5.0 ..."
    www.example.com:443 203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.0"

This is the hottest path in most deployments, so a line meets one anchored regex (two for
vhost lines, whose first token makes the plain pattern fail at the fourth field) and the
ECS document is assembled by hand from `m.groups()`. Quoted fields use the unrolled
`[^"\\]*(?:\\.[^"\\]*)*` form: Apache escapes quotes as `\"`, nginx as `\x22`, and the
unrolled loop costs one step per character where an alternation costs several. Anything
after the user agent (nginx `$request_time`, upstream fields...) is kept in
`<module>.access.extra` rather than failing the line.

ECS output follows Filebeat's nginx/apache access filesets: source.address/ip, user.name,
http.request.method, url.original/path/query, http.version, http.response.status_code and
body.bytes (integers), http.request.referrer, user_agent.original, event.category web,
event.type access, event.outcome from the status (>= 400 is failure).
"""
from __future__ import annotations

import re
from typing import Any

from ..core import FormatOptions, ParseFailure, is_ip
from ..timefmt import ClfConverter

_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_CORE = (
    r"(\S+) (\S+) (\S+) \[([^\]]+)\] "
    r'"(?:([A-Za-z]+) (\S+)(?: HTTP/(\d(?:\.\d)?))?|([^"\\]*(?:\\.[^"\\]*)*))" '
    r"(\d{3}) (\d+|-)"
    rf"(?: {_Q} {_Q})?"
    r"(?: (.*))?\Z"
)
ACCESS = re.compile(_CORE, re.S)
VHOST = re.compile(r"([^\s:]+)(?::(\d+))? " + _CORE, re.S)


class AccessParser:
    """Both servers share the log format; `module` only names the dataset (nginx.access...)."""

    name = "access"
    module: str | None = None

    def __init__(self, options: FormatOptions | None = None):
        self.clf_time = ClfConverter()
        self.dataset = f"{self.module}.access" if self.module else None

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        m = ACCESS.match(line)
        if m is not None:
            pattern = "access.combined"
            (addr, _ident, user, ts, method, target, version, badreq,
             status, size, referrer, agent, extra) = m.groups()
        else:
            m = VHOST.match(line)
            if m is None:
                return ParseFailure("not an access log line (common/combined/vhost)", self.name)
            pattern = "access.vhost_combined"
            (vhost, vport, addr, _ident, user, ts, method, target, version, badreq,
             status, size, referrer, agent, extra) = m.groups()
        if referrer is None and pattern == "access.combined":
            pattern = "access.common"
        iso = self.clf_time(ts)
        if iso is None:  # contract: a failing parser leaves doc untouched
            return ParseFailure(f"invalid access log time [{ts}]", self.name)
        if pattern == "access.vhost_combined":
            doc["destination"] = {"domain": vhost, "port": int(vport)} if vport else {"domain": vhost}
            doc["url"] = {"domain": vhost}
        doc["@timestamp"] = iso
        src: dict[str, Any] = {"address": addr}
        if is_ip(addr):
            src["ip"] = addr
        doc["source"] = src
        if user != "-":
            doc["user"] = {"name": user}
        code = int(status)
        http: dict[str, Any] = {"response": {"status_code": code}}
        if size != "-":
            http["response"]["body"] = {"bytes": int(size)}
        if method is not None:
            http["request"] = {"method": method}
            if version:
                http["version"] = version
            url = doc.get("url")
            if url is None:
                url = doc["url"] = {}
            url["original"] = target
            path, q, query = target.partition("?")
            url["path"] = path
            if q:
                url["query"] = query
        else:
            http["request"] = {}
            if badreq and badreq != "-":
                doc.setdefault("url", {})["original"] = badreq
        if referrer and referrer != "-":
            http["request"]["referrer"] = referrer
        if not http["request"]:
            del http["request"]
        doc["http"] = http
        if agent and agent != "-":
            doc["user_agent"] = {"original": agent}
        ev = doc["event"]
        ev["category"] = ["web"]
        ev["type"] = ["access"]
        ev["outcome"] = "failure" if code >= 400 else "success"
        if self.dataset and "dataset" not in ev:
            ev["module"] = self.module
            ev["dataset"] = self.dataset
        if extra:
            doc[self.module or "access"] = {"access": {"extra": extra}}
        return pattern


class NginxAccessParser(AccessParser):
    name = "nginx"
    module = "nginx"


class ApacheAccessParser(AccessParser):
    name = "apache"
    module = "apache"
