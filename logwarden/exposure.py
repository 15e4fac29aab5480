"""Which listeners a configuration exposes beyond this machine without TLS or authentication.

Every listener binds loopback by default; an operator who changes one to a routable address
should learn, before start-up, what then crosses the network in clear text or answers anyone.
`logwarden config check` prints these as warnings (the file is still valid: exit 0) and
`logwarden up` logs them at start. Sans-IO: the verdict is made from the configuration alone.
"""
from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from logwarden.model import parse_hostport

if TYPE_CHECKING:
    from logwarden.config import Config


def is_local(listen: str) -> bool:
    """A HOST:PORT that only this machine can reach (loopback addresses and `localhost`)."""
    host, _ = parse_hostport(listen)
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it resolves to whatever the machine's resolver says, assume routable


def warnings(cfg: "Config", prefix: str = "") -> list[str]:
    """One sentence per exposed listener (the key, the address, what is open, what to set);
    `prefix` keeps those of one section (a stage logs its own: "ingest.")."""
    out: list[str] = []
    b = cfg.broker
    if b.embedded and not cfg.kafka.bootstrap_servers and not is_local(b.listen):
        if b.security_protocol == "PLAINTEXT":
            out.append(f"broker.listen {b.listen}: the broker is reachable from the network without TLS or SASL; anyone "
                       "who can connect can read and write every topic (set broker.security_protocol SASL_SSL with sasl_users)")
        elif b.security_protocol == "SSL" and not b.tls_cafile:
            out.append(f"broker.listen {b.listen}: TLS without client certificates (tls_cafile) or SASL: any client may "
                       "read and write every topic (use SASL_SSL with sasl_users, or set tls_cafile)")
        elif b.security_protocol == "SASL_PLAINTEXT":
            out.append(f"broker.listen {b.listen}: SASL without TLS: credentials exchanges and records cross the network "
                       "in clear text (use SASL_SSL)")
    h = cfg.http
    if not is_local(h.listen) and not h.tls.cert_file:
        out.append(f"http.listen {h.listen}: the web UI and API are served without TLS: passwords, session cookies and "
                   "API tokens cross the network in clear text (set http.tls.cert_file and key_file)")
    ing = cfg.ingest
    for key in ("syslog_udp", "syslog_tcp"):
        listen = getattr(ing, key)
        if listen and not is_local(listen):
            out.append(f"ingest.{key} {listen}: plain syslog has no TLS or authentication: anyone who can reach it can "
                       "inject log lines (prefer syslog_tls with tls_client_ca_file, or a firewall)")
    if ing.http and not is_local(ing.http):
        if not ing.tokens:
            out.append(f"ingest.http {ing.http}: HTTP ingest accepts events without a token (add ingest.tokens)")
        if not ing.http_tls:
            out.append(f"ingest.http {ing.http}: HTTP ingest without TLS: tokens and events cross the network in clear "
                       "text (set ingest.http_tls)")
    return [w for w in out if w.startswith(prefix)]
