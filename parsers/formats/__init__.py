"""The format registry: the name used in config (`format:`, `fields.log_format`) -> parser class.

A plain dict, as pySigma keeps its backends: greppable, no import-time registration magic.
Each class is built with FormatOptions (timezone, clock, grok patterns) and implements
`parse(line, doc) -> pattern name | ParseFailure` (see parsers/core.py). Aliases map the
names users already use (nginx = nginx access, secure = auth...) to the same class.
"""
from __future__ import annotations

from typing import Any

from .access import AccessParser, ApacheAccessParser, NginxAccessParser
from .auditd import AuditdParser
from .auto import AutoParser
from .cef import CefParser, LeefParser
from .container import CriParser, DockerJsonParser
from .errorlog import ApacheErrorParser, NginxErrorParser
from .jsonl import JsonAutoParser, JsonParser
from .kvfmt import KvParser, LogfmtParser
from .plain import PlainParser
from .syslog import AuthParser, SshdParser, SudoParser, SyslogParser
from .winlog import WinlogParser

FORMATS: dict[str, Any] = {
    "auto": AutoParser,
    "syslog": SyslogParser,
    "auth": AuthParser,
    "secure": AuthParser,
    "sshd": SshdParser,
    "sudo": SudoParser,
    "access": AccessParser,
    "nginx": NginxAccessParser,
    "nginx_access": NginxAccessParser,
    "apache": ApacheAccessParser,
    "apache_access": ApacheAccessParser,
    "httpd": ApacheAccessParser,
    "nginx_error": NginxErrorParser,
    "apache_error": ApacheErrorParser,
    "json": JsonParser,
    "json_auto": JsonAutoParser,
    "logfmt": LogfmtParser,
    "kv": KvParser,
    "auditd": AuditdParser,
    "cef": CefParser,
    "leef": LeefParser,
    "cri": CriParser,
    "docker": DockerJsonParser,
    "winlog": WinlogParser,
    "plain": PlainParser,
}

# Filebeat module datasets (event.dataset on envelopes Filebeat ships) -> our format.
DATASETS: dict[str, str] = {
    "nginx.access": "nginx",
    "nginx.error": "nginx_error",
    "apache.access": "apache",
    "apache.error": "apache_error",
    "system.auth": "auth",
    "system.syslog": "syslog",
    "auditd.log": "auditd",
    "cef.log": "cef",
}
