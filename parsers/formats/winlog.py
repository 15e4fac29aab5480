"""Windows event log records exported as JSON in winlogbeat's shape (or flat, NXLog-style).

    {"@timestamp": "...", "winlog": {"channel": "Security", "event_id": 4625, "provider_name":
     "Microsoft-Windows-Security-Auditing", "computer_name": "DC1", "event_data": {"TargetUserName":
     "admin", "IpAddress": "203.0.113.5", "LogonType": "3", ...}}, "message": "An account failed to log on..."}
    {"EventID": 4625, "Channel": "Security", "Hostname": "DC1", "TargetUserName": "admin", "IpAddress": "203.0.113.5", ...}

The record is kept whole under `winlog` (flat exports are folded into that shape first) and
the well-known Security events are mapped to ECS the way winlogbeat's security module does:
logons (4624/4625/4634/4647/4648), special privileges (4672), process creation and exit
(4688/4689), account management (4720, 4722-4726, 4728, 4732, 4767), lockouts (4740), log cleared (1102/104) -
event.category / type / action / outcome, user.name / domain, source.ip / port,
process.executable / pid / command_line / parent.
"""
from __future__ import annotations

from typing import Any

from ..core import FormatOptions, ParseFailure, default_dataset, is_ip, json_value, long_or_none
from ..timefmt import parse_any

# event_id -> (action, category, type, outcome)
SECURITY: dict[int, tuple[str, list[str], list[str], str | None]] = {
    4624: ("logged-in", ["authentication"], ["start"], "success"),
    4625: ("logon-failed", ["authentication"], ["start"], "failure"),
    4634: ("logged-out", ["authentication"], ["end"], "success"),
    4647: ("logged-out", ["authentication"], ["end"], "success"),
    4648: ("logged-in-explicit", ["authentication"], ["start"], "success"),
    4672: ("logged-in-special", ["iam"], ["admin"], "success"),
    4688: ("created-process", ["process"], ["start"], "success"),
    4689: ("exited-process", ["process"], ["end"], "success"),
    4720: ("added-user-account", ["iam"], ["user", "creation"], "success"),
    4722: ("enabled-user-account", ["iam"], ["user", "change"], "success"),
    4723: ("changed-password", ["iam"], ["user", "change"], None),
    4724: ("reset-password", ["iam"], ["user", "change"], None),
    4725: ("disabled-user-account", ["iam"], ["user", "change"], "success"),
    4726: ("deleted-user-account", ["iam"], ["user", "deletion"], "success"),
    4728: ("added-member-to-group", ["iam"], ["group", "change"], "success"),
    4732: ("added-member-to-group", ["iam"], ["group", "change"], "success"),
    4740: ("locked-out-user-account", ["iam"], ["user", "change"], "success"),
    4767: ("unlocked-user-account", ["iam"], ["user", "change"], "success"),
    1102: ("audit-log-cleared", ["iam"], ["admin", "deletion"], "success"),
    104: ("audit-log-cleared", ["iam"], ["admin", "deletion"], "success"),
}
_FLAT_KEYS = {"EventID": "event_id", "Channel": "channel", "ProviderName": "provider_name", "SourceName": "provider_name",
              "Hostname": "computer_name", "Computer": "computer_name", "RecordNumber": "record_id", "EventRecordID": "record_id",
              "Task": "task", "Keywords": "keywords", "Opcode": "opcode", "ProcessID": "process_id", "ThreadID": "thread_id"}
_TIME_KEYS = ("EventTime", "TimeCreated", "EventReceivedTime")


def _fold_flat(obj: dict[str, Any]) -> dict[str, Any]:
    """NXLog / Get-WinEvent style flat record -> winlogbeat shape."""
    winlog: dict[str, Any] = {"event_data": {}}
    out: dict[str, Any] = {"winlog": winlog}
    for k, v in obj.items():
        if k in _FLAT_KEYS:
            winlog[_FLAT_KEYS[k]] = v
        elif k in ("Message", "message"):
            out["message"] = v
        elif k in _TIME_KEYS:
            out.setdefault("_time", v)
        else:
            winlog["event_data"][k] = v
    return out


def _pid(v: Any) -> int | None:
    if isinstance(v, str) and v.lower().startswith("0x"):
        return long_or_none(v[2:], 16)
    return long_or_none(v)


class WinlogParser:
    name = "winlog"

    def __init__(self, options: FormatOptions | None = None):
        self.tz = (options or FormatOptions()).tz

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        obj = json_value(line, self.name)
        return obj if obj.__class__ is ParseFailure else self.apply(obj, doc)

    def apply(self, obj: Any, doc: dict[str, Any]) -> str | ParseFailure:
        if not isinstance(obj, dict):
            return ParseFailure("not a JSON object", self.name)
        pattern = "winlog.winlogbeat"
        if not isinstance(obj.get("winlog"), dict):
            if "EventID" not in obj:
                return ParseFailure("not a Windows event (no winlog object or EventID)", self.name)
            obj = _fold_flat(obj)
            pattern = "winlog.flat"
        winlog = obj["winlog"]
        raw_id = winlog.get("event_id")
        eid = long_or_none(raw_id if not isinstance(raw_id, str) else raw_id.strip())
        if eid is None:
            return ParseFailure(f"winlog.event_id {raw_id!r} is not a number", self.name)
        ts = obj.get("@timestamp") or obj.get("_time") or winlog.get("time_created")
        if ts is not None:
            iso = parse_any(ts, self.tz)
            if iso:
                doc["@timestamp"] = iso
        doc["winlog"] = winlog
        for k in ("message", "tags", "labels"):
            if k in obj:
                doc[k] = obj[k]
        ev = doc["event"]
        ev["code"] = str(eid)
        if winlog.get("provider_name"):
            ev["provider"] = winlog["provider_name"]
        if winlog.get("computer_name"):
            doc.setdefault("host", {})["hostname"] = winlog["computer_name"]
        data = winlog.get("event_data") or {}
        security = (str(winlog.get("channel", "")).lower() == "security" or eid == 1102
                    or (eid == 104 and "eventlog" in str(winlog.get("provider_name", "")).lower()))
        if security and eid in SECURITY:
            action, cat, typ, outcome = SECURITY[eid]
            ev["action"], ev["category"], ev["type"] = action, list(cat), list(typ)
            if outcome:
                ev["outcome"] = outcome
        user_name = data.get("TargetUserName") or data.get("SubjectUserName")
        if user_name and user_name != "-":
            user: dict[str, Any] = {"name": user_name}
            dom = data.get("TargetDomainName") or data.get("SubjectDomainName")
            if dom and dom != "-":
                user["domain"] = dom
            doc["user"] = user
        ip = data.get("IpAddress")
        if isinstance(ip, str) and ip not in ("-", "") and is_ip(ip.removeprefix("::ffff:")):
            src: dict[str, Any] = {"ip": ip.removeprefix("::ffff:")}
            port = data.get("IpPort")
            p = long_or_none(port)
            if p is not None and p > 0:
                src["port"] = p
            doc["source"] = src
        if data.get("WorkstationName") and data["WorkstationName"] != "-":
            doc.setdefault("source", {})["domain"] = data["WorkstationName"]
        exe = data.get("NewProcessName") or data.get("ProcessName")
        if exe and exe != "-":
            proc: dict[str, Any] = {"executable": exe, "name": exe.replace("\\", "/").rsplit("/", 1)[-1]}
            pid = _pid(data.get("NewProcessId") or data.get("ProcessId"))
            if pid is not None:
                proc["pid"] = pid
            if data.get("CommandLine"):
                proc["command_line"] = data["CommandLine"]
            if data.get("ParentProcessName"):
                proc["parent"] = {"executable": data["ParentProcessName"]}
            doc["process"] = proc
        default_dataset(ev, "windows" if not security else "security", f"windows.{str(winlog.get('channel', 'eventlog')).lower()}")
        return pattern
