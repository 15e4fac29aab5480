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

The same document is written twice more, as bytes, for the common nginx/Apache lines of
the stage's fast path: `parsers/fastpath.py` (`_access_doc`) and its C twin
`parsers/_accel.c` (`access_doc`). A change to the fields here must be made there too;
tests/unit/parsers/test_fastpath.py fails when the three disagree on any line of its corpus.

ECS output follows Filebeat's nginx/apache access filesets: source.address/ip, user.name,
http.request.method, url.original/path/query, http.version, http.response.status_code and
body.bytes (integers), http.request.referrer, user_agent.original, event.category web,
event.type access, event.outcome from the status (>= 400 is failure).
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from ..core import FormatOptions, ParseFailure, default_dataset, is_ip
from ..timefmt import ClfConverter

_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_CORE = (
    r"(\S+) (\S+) (\S+) \[([^\]]+)\] "
    r'"(?:([A-Za-z]+) (\S+)(?: HTTP/(\d(?:\.\d)?))?|([^"\\]*(?:\\.[^"\\]*)*))" '
    r"(\d{3}) (\d{1,18}|-)"
    rf"(?: {_Q} {_Q})?"
    r"(?: (.*))?\Z"
)
ACCESS = re.compile(_CORE, re.S)
VHOST = re.compile(r"([^\s:]+)(?::(\d{1,5}))? " + _CORE, re.S)


class AccessParser:
    """Both servers share the log format; `module` only names the dataset (nginx.access...)."""

    name = "access"
    module: str | None = None

    def __init__(self, options: FormatOptions | None = None):
        self.clf_time = ClfConverter()
        self.times = self.clf_time.cache
        self.dataset = f"{self.module}.access" if self.module else None
        self.extra_key = self.module or "access"

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        m = ACCESS.match(line)
        vhost = None
        if m is not None:
            (addr, _ident, user, ts, method, target, version, badreq,
             status, size, referrer, agent, extra) = m.groups()
            pattern = "access.common" if referrer is None else "access.combined"
        else:
            m = VHOST.match(line)
            if m is None:
                return ParseFailure("not an access log line (common/combined/vhost)", self.name)
            pattern = "access.vhost_combined"
            (vhost, vport, addr, _ident, user, ts, method, target, version, badreq,
             status, size, referrer, agent, extra) = m.groups()
        iso = self.times.get(ts) or self.clf_time(ts)
        if iso is None:  # contract: a failing parser leaves doc untouched
            return ParseFailure(f"invalid access log time [{ts}]", self.name)
        doc["@timestamp"] = iso
        doc["source"] = {"address": addr, "ip": addr} if is_ip(addr) else {"address": addr}
        if user != "-":
            doc["user"] = {"name": user}
        code = int(status)
        response: dict[str, Any] = {"status_code": code} if size == "-" else {"status_code": code, "body": {"bytes": int(size)}}
        http: dict[str, Any]
        if method is not None:
            request = {"method": method}
            if referrer and referrer != "-":
                request["referrer"] = referrer
            http = {"request": request, "version": version, "response": response} if version else {"request": request, "response": response}
            q = target.find("?")
            url = {"original": target, "path": target} if q < 0 else {"original": target, "path": target[:q], "query": target[q + 1:]}
            doc["url"] = url
        else:
            http = {"response": response}
            if referrer and referrer != "-":
                http["request"] = {"referrer": referrer}
            url = None
            if badreq and badreq != "-":
                url = doc["url"] = {"original": badreq}
        doc["http"] = http
        if vhost is not None:
            doc["destination"] = {"domain": vhost, "port": int(vport)} if vport else {"domain": vhost}
            if url is None:
                url = doc["url"] = {}
            url["domain"] = vhost
        if agent and agent != "-":
            doc["user_agent"] = {"original": agent}
        ev = doc["event"]
        ev["category"] = ["web"]
        ev["type"] = ["access"]
        ev["outcome"] = "failure" if code >= 400 else "success"
        if self.dataset:
            default_dataset(ev, self.module, self.dataset)  # type: ignore[arg-type]
        if extra:
            doc[self.extra_key] = {"access": {"extra": extra}}
            if extra[0] == '"':
                _forwarded_for(extra, addr, doc, self.extra_key)
        return pattern


_XFF = re.compile(r'"((?:[0-9A-Fa-f.:]+)(?:, ?[0-9A-Fa-f.:]+)*)"')


def _forwarded_for(extra: str, addr: str, doc: dict[str, Any], key: str) -> None:
    """nginx's stock `main` format ends with "$http_x_forwarded_for". Behind a proxy the
    client is the first public address of that list, not $remote_addr; as Filebeat does,
    the whole chain goes to <module>.access.remote_ip_list and source.* names the client."""
    m = _XFF.match(extra)
    if m is None:
        return
    chain = [ip.strip() for ip in m.group(1).split(",")]
    chain = [ip for ip in chain if is_ip(ip)]
    if not chain:
        return
    doc[key]["access"]["remote_ip_list"] = [*chain, addr]
    for ip in chain:
        if not _private(ip):
            doc["source"] = {"address": ip, "ip": ip}
            return


# Proxy hops: RFC 1918, CGNAT, loopback, link-local, IPv6 ULA. (ipaddress's is_private also
# counts the documentation ranges, which real clients in examples and tests use.)
_INTERNAL = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                                                  "127.0.0.0/8", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10")]


def _private(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return True
    return any(a.version == n.version and a in n for n in _INTERNAL)


class NginxAccessParser(AccessParser):
    name = "nginx"
    module = "nginx"


class ApacheAccessParser(AccessParser):
    name = "apache"
    module = "apache"
