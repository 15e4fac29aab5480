"""Syslog lines: RFC 3164 (BSD), RFC 5424, and the ISO-timestamp form rsyslog writes.

    <34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8
    <165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] msg
    2019-06-14T10:40:20.912134+02:00 localhost sudo: pam_unix(sudo-i:session): session opened ...

Header fields go to `log.syslog.*` (priority, facility, severity, and for 5424 version,
msgid and structured data), `host.hostname`, `process.name`, `process.pid`; the message
part becomes `message` (the full line stays in `event.original`). RFC 3164 carries neither
year nor zone: the zone is configured (`parsers.timezone`, per pipeline), the year inferred
(timefmt.infer_year). Lines without a header are accepted when the envelope carries syslog
hints from network ingest (`log.syslog.appname`...).

Once the program is known, auth programs (sshd, sudo, su, PAM users, shadow tools) go
through formats/auth.py, and CEF/LEEF payloads through their parsers, so one syslog
stream from a firewall or a Linux host comes out fully normalised.
"""
from __future__ import annotations

import re
from typing import Any

from ..core import FormatOptions, ParseFailure, default_dataset, long_or_none, syslog_priority
from ..timefmt import BsdConverter, IsoConverter
from .auth import AUTH_PROGRAMS, parse_auth

_TS_ISO = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
_TS_BSD = r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?"
RFC3164 = re.compile(
    rf"(?:<(\d{{1,3}})>)?(?:({_TS_ISO})|({_TS_BSD})) +"
    # hostname, or an IPv6 address (2+ colons, so never a `prog:` tag); absent when a local
    # process writes straight to /dev/log
    r"(?:((?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]{0,15}|[^\s\[\]:]+) )?"
    r"(?:([^\s\[\]:]+)(?:\[(\d{0,18})\])?: ?)?"  # TAG[PID]:
    r"(.*)\Z", re.S)
RFC5424 = re.compile(
    r"<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) "
    r"(-|(?:\[(?:[^\]\"\\]|\\.|\"(?:[^\"\\]|\\.)*\")*\])+)(?: \ufeff?(.*))?\Z", re.S)
_SD_ELEMENT = re.compile(r"\[([^\s\]]+)((?: [^=\s\]]+=\"(?:[^\"\\]|\\.)*\")*) *\]")
_SD_PARAM = re.compile(r"([^=\s\]]+)=\"((?:[^\"\\]|\\.)*)\"")
_SD_UNESCAPE = re.compile(r"\\([\"\\\]])")


def structured_data(text: str) -> dict[str, dict[str, str]]:
    """RFC 5424 STRUCTURED-DATA to {sd-id: {param: value}} (escapes \\" \\\\ \\] undone)."""
    out: dict[str, dict[str, str]] = {}
    for sd_id, params in _SD_ELEMENT.findall(text):
        out[sd_id] = {k: _SD_UNESCAPE.sub(r"\1", v) for k, v in _SD_PARAM.findall(params)}
    return out


def _merged(log: dict[str, Any], parsed: dict[str, Any]) -> dict[str, Any]:
    """The header's log.syslog on top of what the envelope already had (ingest's transport),
    in a new dict: the envelope's own object is never written to."""
    have = log.get("syslog")
    return {**have, **parsed} if have.__class__ is dict else parsed


class SyslogParser:
    """RFC 3164 / 5424 / ISO syslog; `program` fixes the program for header-less lines."""

    name = "syslog"
    program: str | None = None

    def __init__(self, options: FormatOptions | None = None):
        options = options or FormatOptions()
        self.marks = options.marks
        self.bsd_time = BsdConverter(options.tz, options.now)
        self.iso_time = IsoConverter(options.tz)
        self._cef = None

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        if line[:1] == "<" and (m := RFC5424.match(line)) is not None:
            return self._rfc5424(m, doc)
        m = RFC3164.match(line)
        if m is None:
            return self._headerless(line, doc)
        pri, ts_iso, ts_bsd, host, prog, pid, msg = m.groups()
        if prog in ("CEF", "LEEF") and pid is None and msg[:1].isdigit():
            prog, msg = None, f"{prog}:{msg}"  # `host CEF:0|...` is a CEF payload, not a program
        if ts_iso:
            ts = self.iso_time(ts_iso.replace(",", "."))
            pattern = "syslog.iso"
        else:
            ts = self.bsd_time(ts_bsd)
            pattern = "syslog.rfc3164"
        if ts is None:  # contract: a failing parser leaves doc untouched
            return ParseFailure(f"invalid syslog timestamp {ts_iso or ts_bsd!r}", self.name)
        if pri is not None and int(pri) > 191:
            return ParseFailure(f"syslog priority {pri} out of range 0-191", self.name)
        doc["@timestamp"] = ts
        log = doc["log"]
        if pri is not None:
            log["syslog"] = _merged(log, syslog_priority(int(pri)))
            log["level"] = log["syslog"]["severity"]["name"]
        if host:
            doc.setdefault("host", {})["hostname"] = host
        return self._program(prog, pid, msg, doc, pattern)

    def _rfc5424(self, m: re.Match[str], doc: dict[str, Any]) -> str | ParseFailure:
        pri, version, ts, host, app, procid, msgid, sd, msg = m.groups()
        p = int(pri)
        if p > 191:
            return ParseFailure(f"syslog priority {p} out of range 0-191", self.name)
        iso = None
        if ts != "-":
            iso = self.iso_time(ts)
            if iso is None:
                return ParseFailure(f"invalid RFC 5424 timestamp {ts!r}", self.name)
            doc["@timestamp"] = iso
        syslog = syslog_priority(p)
        syslog["version"] = version
        log = doc["log"]
        log["syslog"] = syslog = _merged(log, syslog)
        log["level"] = syslog["severity"]["name"]
        if host != "-":
            syslog["hostname"] = host
            doc.setdefault("host", {})["hostname"] = host
        if app != "-":
            syslog["appname"] = app
        if procid != "-":
            syslog["procid"] = procid
        if msgid != "-":
            syslog["msgid"] = msgid
        if sd != "-":
            syslog["structured_data"] = structured_data(sd)
        return self._program(None if app == "-" else app, procid if long_or_none(procid) is not None else None,
                             msg or "", doc, "syslog.rfc5424")

    def _program(self, prog: str | None, pid: str | None, msg: str, doc: dict[str, Any], pattern: str) -> str | ParseFailure:
        doc["message"] = msg
        ev = doc["event"]
        if prog:
            proc = doc.setdefault("process", {})
            proc["name"] = prog
            if pid:
                proc["pid"] = int(pid)
        if self.marks.active is not None:
            self.marks.mark(doc, f"{self.name}:{pattern}")
        if prog:
            if prog in AUTH_PROGRAMS or msg[:4] == "pam_":
                detail = parse_auth(prog, msg, doc)
                default_dataset(ev, "system", "system.auth")
                return f"{pattern} > {detail}" if detail else pattern
        if msg[:4] in ("CEF:", "LEEF"):
            from . import FORMATS  # late: the registry imports this module
            name = "cef" if msg[:4] == "CEF:" else "leef"
            sub = FORMATS[name]().parse(msg, doc)
            if isinstance(sub, ParseFailure):
                return sub
            return f"{pattern} > {sub}"
        default_dataset(ev, "system", "system.syslog")
        return pattern

    def _headerless(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        """No syslog header: use network-ingest hints or this format's fixed program."""
        hints = doc["log"].get("syslog")
        if hints.__class__ is not dict:
            hints = {}
        hinted = hints.get("appname") or hints.get("program")
        prog = hinted if isinstance(hinted, str) and hinted else self.program
        if not prog:
            return ParseFailure("not a syslog line (no RFC 3164/5424 header)", self.name)
        pid = hints.get("procid")
        proc = doc.setdefault("process", {})
        proc["name"] = prog
        if long_or_none(pid) is not None:
            proc["pid"] = long_or_none(pid)
        if isinstance(hints.get("hostname"), str):
            doc.setdefault("host", {})["hostname"] = hints["hostname"]
        detail = parse_auth(prog, line, doc)
        if detail is None and self.program is not None and not hinted:
            return ParseFailure(f"not a {self.program} line", self.name)
        ev = doc["event"]
        default_dataset(ev, "system", "system.auth" if prog in AUTH_PROGRAMS else "system.syslog")
        return f"syslog.headerless > {detail}" if detail else "syslog.headerless"


class SshdParser(SyslogParser):
    """sshd lines, with or without a syslog header."""

    name = "sshd"
    program = "sshd"


class SudoParser(SyslogParser):
    name = "sudo"
    program = "sudo"


class AuthParser(SyslogParser):
    """/var/log/auth.log or secure: syslog whose auth programs are all recognised."""

    name = "auth"
