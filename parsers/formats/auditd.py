"""Linux audit logs (/var/log/audit/audit.log), one record per line, joined by serial.

    type=USER_AUTH msg=audit(1610903558.178:595): pid=2954 uid=0 auid=1000 ses=14 msg='op=PAM:authentication acct="root" exe="/usr/bin/chfn" hostname=ubuntu-bionic addr=127.0.0.1 terminal=pts/2 res=success'

`AuditdParser` turns one record into one ECS document the way Filebeat's auditd module
does (auditd.log.record_type / sequence / every key, process.pid and executable, user.id
from auid, user.effective.id from uid, source.ip from addr, event.action / category / type
from the record type, event.outcome from res/success). Hex-encoded values
(`proctitle=2F62696E...`, unquoted hex in EXECVE args) are decoded.

The kernel writes one audit *event* as several records sharing a serial (SYSCALL, EXECVE,
CWD, PATH..., PROCTITLE, EOE). `AuditJoiner` merges consecutive records of one serial from
one source into a single document: the first record is the base, the others add their
fields under `auditd.log.<type>` (PATH records as a list), EXECVE arguments become
process.args and PROCTITLE process.title, and `event.original` holds all lines. A joined
event is released when its EOE record arrives, a record of another serial follows from the
same source, or the batch ends - the stage never holds a record past the commit of the
batch it came in (at-least-once), so an event split across two batches comes out as two
documents; auditd writes an event's records together, so that is rare.
"""
from __future__ import annotations

import re
from typing import Any

from ..core import FormatOptions, ParseFailure, default_dataset, dig, is_ip, long_or_none
from ..timefmt import epoch_iso

RECORD = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\((\d{1,12}(?:\.\d{1,9})?):(\d{1,18})\): ?(.*)\Z", re.S)
KV = re.compile(r"""(?<![\w-])([\w-]++)=("[^"]*"|'[^']*'|\S*)""")  # keys only at run starts: linear
# inside msg='...' user-space tools write unquoted values with spaces (op=adding group to /etc/group):
# a value runs to the next ` key=`
INNER_KV = re.compile(r"""(?<![\w-])([\w-]++)=("[^"]*"|'[^']*'|.*?)(?= [\w-]++=|\Z)""")
_HEX = re.compile(r"(?:[0-9A-F]{2})+\Z")

# record type -> (event.action, event.category, event.type); Filebeat's vocabulary.
RECORD_TYPES: dict[str, tuple[str, list[str], list[str]]] = {
    "ADD_GROUP": ("added-group-account-to", ["iam"], ["group", "creation"]),
    "ADD_USER": ("added-user-account", ["iam"], ["user", "creation"]),
    "DEL_GROUP": ("deleted-group-account-from", ["iam"], ["group", "deletion"]),
    "DEL_USER": ("deleted-user-account", ["iam"], ["user", "deletion"]),
    "GRP_MGMT": ("modified-group-account", ["iam"], ["group", "change"]),
    "USER_MGMT": ("modified-user-account", ["iam"], ["user", "change"]),
    "USER_CHAUTHTOK": ("changed-password", ["iam"], ["user", "change"]),
    "USER_AUTH": ("authenticated", ["authentication"], ["info"]),
    "USER_ACCT": ("was-authorized", ["authentication"], ["info"]),
    "USER_LOGIN": ("logged-in", ["authentication"], ["start"]),
    "USER_LOGOUT": ("logged-out", ["authentication"], ["end"]),
    "USER_START": ("started-session", ["session"], ["start"]),
    "USER_END": ("ended-session", ["session"], ["end"]),
    "CRED_ACQ": ("acquired-credentials", ["authentication"], ["info"]),
    "CRED_DISP": ("disposed-credentials", ["authentication"], ["info"]),
    "CRED_REFR": ("refreshed-credentials", ["authentication"], ["info"]),
    "USER_CMD": ("ran-command", ["process"], ["start"]),
    "EXECVE": ("executed", ["process"], ["start"]),
    "SYSCALL": ("syscall", ["process"], ["info"]),
    "SERVICE_START": ("started-service", ["process"], ["start"]),
    "SERVICE_STOP": ("stopped-service", ["process"], ["end"]),
    "AVC": ("violated-selinux-policy", ["intrusion_detection"], ["info"]),
    "USER_AVC": ("access-permission", ["intrusion_detection"], ["info"]),
    "CONFIG_CHANGE": ("changed-audit-configuration", ["configuration"], ["change"]),
    "LOGIN": ("changed-login-id-to", ["authentication"], ["start"]),
    "USER_ERR": ("error", ["authentication"], ["info"]),
    "ANOM_PROMISCUOUS": ("changed-promiscuous-mode-on-device", ["network"], ["info"]),
}
_GROUP_RECORDS = {"ADD_GROUP", "DEL_GROUP", "GRP_MGMT"}
_USER_RECORDS = {"ADD_USER", "DEL_USER", "USER_MGMT"}


def _value(raw: str, key: str) -> str:
    if raw[:1] in ("'", '"'):
        return raw[1:-1]
    if key in ("proctitle",) or (len(raw) >= 2 and len(raw) % 2 == 0 and key[:1] == "a" and key[1:].isdigit()):
        if _HEX.match(raw):
            try:
                return bytes.fromhex(raw).replace(b"\x00", b" ").decode("utf-8", "replace").strip()
            except ValueError:
                pass
    return raw


def parse_kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in KV.findall(text):
        if k == "msg" and v[:1] == "'":
            for ik, iv in INNER_KV.findall(v[1:-1]):
                if ik in out and ik not in ("msg",):
                    out[f"inner_{ik}"] = _value(iv, ik)  # rare: same key inside and outside msg=''
                else:
                    out[ik] = _value(iv, ik)
            continue
        out[k] = _value(v, k)
    return out


class AuditdParser:
    name = "auditd"

    def __init__(self, options: FormatOptions | None = None):
        pass

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        m = RECORD.match(line)
        if m is None:
            return ParseFailure("not an audit record (type=... msg=audit(TIME:SERIAL): ...)", self.name)
        node, rtype, ts, serial, rest = m.groups()
        when = epoch_iso(float(ts))
        if when is None:
            return ParseFailure(f"audit time {ts} is out of range", self.name)
        kv = parse_kv(rest)
        doc["@timestamp"] = when
        log: dict[str, Any] = {"record_type": rtype, "sequence": int(serial)}
        if node:
            log["node"] = node
            doc.setdefault("host", {})["hostname"] = node
        proc: dict[str, Any] = {}
        user: dict[str, Any] = {}
        for k, v in kv.items():
            if k == "pid" and long_or_none(v) is not None:
                proc["pid"] = long_or_none(v)
            elif k == "ppid" and long_or_none(v) is not None:
                proc["parent"] = {"pid": long_or_none(v)}
            elif k == "exe":
                proc["executable"] = v
            elif k == "comm":
                proc["name"] = v
            elif k == "auid":
                if v not in ("4294967295", "-1", "unset"):
                    user["id"] = v
                    user["audit"] = {"id": v}
            elif k == "uid":
                user.setdefault("effective", {})["id"] = v
                log["uid"] = v
            elif k == "acct":
                user["name"] = v
            elif k == "terminal":
                user["terminal"] = v
            elif k == "addr":
                if v not in ("?", "") and is_ip(v):
                    doc["source"] = {"address": v, "ip": v}
            elif k == "res" or k == "success":
                doc["event"]["outcome"] = "success" if v in ("success", "yes") else "failure"
            elif k == "msg" or (k == "op" and not v):
                continue
            else:
                log[k] = v
        if rtype in _GROUP_RECORDS and "id" in kv:
            doc["group"] = {"id": kv["id"]}
        elif rtype in _USER_RECORDS and "id" in kv:
            user["target"] = {"id": kv["id"]}
        if rtype == "USER_CHAUTHTOK" and "name" in user:
            user["target"] = {"name": user["name"]}
        if proc:
            doc["process"] = proc
        if user:
            doc["user"] = user
        doc["auditd"] = {"log": log}
        ev = doc["event"]
        meta = RECORD_TYPES.get(rtype)
        if meta:
            ev["action"], ev["category"], ev["type"] = meta[0], list(meta[1]), list(meta[2])
        else:
            ev["action"] = rtype.lower()
        default_dataset(ev, "auditd", "auditd.log")
        return f"auditd.{rtype}"


def _source_key(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (str(dig(doc, "host", "name")), str(dig(doc, "log", "file", "path")))


class AuditJoiner:
    """Merge consecutive records of one audit serial per source (see the module doc).

    `feed(doc, tag)` returns the (doc, tag) pairs ready to emit; `tag` travels with the
    first record of an event (the stage passes the Kafka key)."""

    def __init__(self) -> None:
        self.pending: dict[tuple[Any, ...], tuple[dict[str, Any], Any]] = {}

    @staticmethod
    def is_record(doc: dict[str, Any]) -> bool:
        a = doc.get("auditd")
        return a.__class__ is dict and "sequence" in (a.get("log") or {})

    def feed(self, doc: dict[str, Any], tag: Any = None) -> list[tuple[dict[str, Any], Any]]:
        if not self.is_record(doc):
            return [(doc, tag)]
        key = _source_key(doc)
        log = doc["auditd"]["log"]
        out: list[tuple[dict[str, Any], Any]] = []
        cur = self.pending.get(key)
        if cur is not None and cur[0]["auditd"]["log"]["sequence"] != log["sequence"]:
            out.append(self.pending.pop(key))
            cur = None
        if log["record_type"] == "EOE":
            if cur is not None:
                out.append(self.pending.pop(key))
            return out
        if cur is None:
            self.pending[key] = (doc, tag)
        else:
            _merge(cur[0], doc)
        return out

    def flush(self) -> list[tuple[dict[str, Any], Any]]:
        out = list(self.pending.values())
        self.pending.clear()
        return out


def _merge(base: dict[str, Any], rec: dict[str, Any]) -> None:
    blog = base["auditd"]["log"]
    rlog = rec["auditd"]["log"]
    rtype = rlog["record_type"]
    blog.setdefault("record_types", [blog["record_type"]]).append(rtype)
    fields = {k: v for k, v in rlog.items() if k not in ("record_type", "sequence")}
    sub = rtype.lower()
    if rtype == "PATH":
        blog.setdefault("path", []).append(fields)
    else:
        blog[sub] = fields
    proc = base.setdefault("process", {})
    if rtype == "EXECVE":
        argc = min(long_or_none(fields.get("argc")) or 0, 4096)
        args = [fields[f"a{i}"] for i in range(argc) if f"a{i}" in fields]
        if args:
            proc["args"] = args
            proc["args_count"] = len(args)
            proc.setdefault("command_line", " ".join(args))
    elif rtype == "PROCTITLE" and "proctitle" in fields:
        proc["title"] = fields["proctitle"]
        proc.setdefault("command_line", fields["proctitle"])
    elif rtype == "CWD" and "cwd" in fields:
        proc["working_directory"] = fields["cwd"]
    for k, v in (rec.get("process") or {}).items():
        proc.setdefault(k, v)
    if "source" in rec and "source" not in base:
        base["source"] = rec["source"]
    if "outcome" in rec["event"] and "outcome" not in base["event"]:
        base["event"]["outcome"] = rec["event"]["outcome"]
    base["event"]["original"] = f"{base['event']['original']}\n{rec['event']['original']}"
    base["message"] = base["event"]["original"]
