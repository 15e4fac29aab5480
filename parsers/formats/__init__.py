"""The format registry: the name used in config (`format:`, `fields.log_format`) -> parser class.

A plain dict, as pySigma keeps its backends: greppable, no import-time registration magic.
Each class is built with FormatOptions (timezone, clock, grok patterns) and implements
`parse(line, doc) -> pattern name | ParseFailure` (see parsers/core.py).
"""
from __future__ import annotations

from typing import Any

from .access import AccessParser, ApacheAccessParser, NginxAccessParser
from .auto import AutoParser
from .jsonl import JsonParser
from .plain import PlainParser
from .syslog import AuthParser, SshdParser, SudoParser, SyslogParser

FORMATS: dict[str, Any] = {
    "auto": AutoParser,
    "syslog": SyslogParser,
    "auth": AuthParser,
    "sshd": SshdParser,
    "sudo": SudoParser,
    "access": AccessParser,
    "nginx": NginxAccessParser,
    "nginx_access": NginxAccessParser,
    "apache": ApacheAccessParser,
    "apache_access": ApacheAccessParser,
    "json": JsonParser,
    "json_auto": JsonParser,
    "plain": PlainParser,
}

# Filebeat module datasets (event.dataset on envelopes Filebeat ships) -> our format.
DATASETS: dict[str, str] = {
    "nginx.access": "nginx",
    "apache.access": "apache",
    "system.auth": "auth",
    "system.syslog": "syslog",
}
