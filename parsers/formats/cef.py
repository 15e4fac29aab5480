"""ArcSight CEF and IBM QRadar LEEF, bare or inside a syslog line.

    CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 act=blocked
    LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^usrName=joe

Header fields land under `cef.*` / `leef.*` and `observer.vendor/product/version`,
`event.code`, `event.severity`; every extension key is kept under `cef.extensions.*` /
`leef.attributes.*`, and the well-known keys are also mapped to ECS (source/destination
ip, port, user, host, event.action/outcome, network.transport, url, file, process) as
Filebeat's decode_cef does. Escapes follow the specs: `\\|` and `\\\\` in CEF headers;
`\\=`, `\\\\`, `\\n`, `\\r` in CEF extension values; LEEF 2.0 names its attribute delimiter
(a character or `xHH`).
"""
from __future__ import annotations

import re
from typing import Any

from logwarden.events import set_path

from ..core import FormatOptions, ParseFailure, default_dataset, is_ip, long_or_none
from ..timefmt import UTC, LayoutConverter, epoch_iso

_CEF_HEADER_SPLIT = re.compile(r"(?<!\\)\|")
_CEF_KEY = re.compile(r"(?:^|(?<= ))([A-Za-z0-9_.\[\]-]+)=")
_CEF_UNESCAPE = re.compile(r"\\([\\=|nr])")
_UNESC = {"n": "\n", "r": "\r"}

# extension key -> ECS field (and its type)
ECS_MAP: dict[str, tuple[str, type]] = {
    "src": ("source.ip", str), "spt": ("source.port", int), "smac": ("source.mac", str),
    "shost": ("source.domain", str), "suser": ("source.user.name", str), "suid": ("source.user.id", str),
    "dst": ("destination.ip", str), "dpt": ("destination.port", int), "dmac": ("destination.mac", str),
    "dhost": ("destination.domain", str), "duser": ("destination.user.name", str), "duid": ("destination.user.id", str),
    "act": ("event.action", str), "outcome": ("event.outcome", str), "proto": ("network.transport", str),
    "app": ("network.protocol", str), "request": ("url.original", str), "requestMethod": ("http.request.method", str),
    "requestClientApplication": ("user_agent.original", str), "in": ("source.bytes", int), "out": ("destination.bytes", int),
    "fname": ("file.name", str), "filePath": ("file.path", str), "fsize": ("file.size", int), "fileHash": ("file.hash.sha256", str),
    "sproc": ("process.name", str), "spid": ("process.pid", int), "dproc": ("process.name", str), "dpid": ("process.pid", int),
    "dvchost": ("observer.hostname", str), "dvc": ("observer.ip", str), "deviceExternalId": ("observer.serial_number", str),
    "msg": ("message", str), "reason": ("event.reason", str),
    # LEEF spellings
    "srcPort": ("source.port", int), "dstPort": ("destination.port", int), "usrName": ("user.name", str),
    "srcMAC": ("source.mac", str), "dstMAC": ("destination.mac", str), "srcBytes": ("source.bytes", int),
    "dstBytes": ("destination.bytes", int), "identHostName": ("host.hostname", str), "url": ("url.original", str),
}
_SEVERITY_WORDS = {"unknown": 0, "low": 3, "medium": 5, "high": 8, "very-high": 10}


def _map_ecs(attrs: dict[str, str], doc: dict[str, Any]) -> None:
    for key, val in attrs.items():
        m = ECS_MAP.get(key)
        if m is None or val == "":
            continue
        field, typ = m
        if field.endswith(".ip") and not is_ip(val):
            continue
        if typ is int:
            n = long_or_none(val)
            if n is None:
                continue
            set_path(doc, field, n)
        elif field == "event.outcome":
            low = val.lower()
            doc["event"]["outcome"] = "success" if low in ("success", "succeeded", "allow", "allowed") else "failure" if low in ("failure", "failed", "fail", "deny", "denied", "blocked") else "unknown"
        else:
            set_path(doc, field, val)


def _time(text: str) -> str | None:
    if text.isdigit():
        n = long_or_none(text)
        return epoch_iso(n / (1000.0 if len(text) > 11 else 1.0)) if n is not None else None
    for layout in ("%b %d %Y %H:%M:%S", "%b %d %Y %H:%M:%S.%f", "%b %d %H:%M:%S"):
        out = LayoutConverter(layout, UTC)(text)
        if out is not None:
            return out
    return None


class CefParser:
    name = "cef"

    def __init__(self, options: FormatOptions | None = None):
        pass

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        start = line.find("CEF:")
        if start < 0:
            return ParseFailure("no CEF: header", self.name)
        parts = _CEF_HEADER_SPLIT.split(line[start + 4:], 7)
        if len(parts) < 8:
            return ParseFailure(f"CEF header has {len(parts) - 1} of 7 '|' separators", self.name)
        version, vendor, product, dversion, class_id, name, severity, ext = parts
        if not version.strip().isdigit():
            return ParseFailure(f"CEF version {version!r} is not a number", self.name)
        h = [_CEF_UNESCAPE.sub(lambda m: _UNESC.get(m.group(1), m.group(1)), p) for p in (vendor, product, dversion, class_id, name, severity)]
        vendor, product, dversion, class_id, name, severity = h
        keys = list(_CEF_KEY.finditer(ext))
        attrs: dict[str, str] = {}
        for i, m in enumerate(keys):
            end = keys[i + 1].start() if i + 1 < len(keys) else len(ext)
            val = ext[m.end():end].rstrip(" ")
            attrs[m.group(1)] = _CEF_UNESCAPE.sub(lambda x: _UNESC.get(x.group(1), x.group(1)), val)
        sev = severity.strip().lower()
        sev_num = long_or_none(sev) if sev.isdigit() else _SEVERITY_WORDS.get(sev)
        doc["cef"] = {"version": version, "device": {"vendor": vendor, "product": product, "version": dversion, "event_class_id": class_id},
                      "name": name, "severity": severity, "extensions": attrs}
        doc["observer"] = {"vendor": vendor, "product": product, "version": dversion}
        ev = doc["event"]
        ev["code"] = class_id
        if sev_num is not None:
            ev["severity"] = sev_num
        doc["message"] = name
        _map_ecs(attrs, doc)
        if "rt" in attrs:
            ts = _time(attrs["rt"])
            if ts:
                doc["@timestamp"] = ts
        default_dataset(ev, "cef", "cef.log")
        return "cef.event"


class LeefParser:
    name = "leef"

    def __init__(self, options: FormatOptions | None = None):
        pass

    def parse(self, line: str, doc: dict[str, Any]) -> str | ParseFailure:
        start = line.find("LEEF:")
        if start < 0:
            return ParseFailure("no LEEF: header", self.name)
        body = line[start + 5:]
        parts = body.split("|", 5)
        if len(parts) < 6:
            return ParseFailure("LEEF header needs Version|Vendor|Product|Version|EventID|", self.name)
        version, vendor, product, pversion, event_id, rest = parts
        delim = "\t"
        if version.startswith("2"):
            d, sep, attrs_text = rest.partition("|")
            if sep and len(d) <= 4 and "=" not in d:
                if d.lower().startswith(("x", "0x")) and len(d) > 1:
                    try:
                        delim = chr(int(d.lower().lstrip("0").lstrip("x"), 16))
                    except ValueError:
                        return ParseFailure(f"LEEF delimiter {d!r} is not a character or hex code", self.name)
                elif d:
                    delim = d
                rest = attrs_text
        attrs: dict[str, str] = {}
        for pair in rest.split(delim):
            k, eq, v = pair.partition("=")
            if eq and k.strip():
                attrs[k.strip()] = v
        doc["leef"] = {"version": version, "vendor": vendor, "product": product, "product_version": pversion,
                       "event_id": event_id, "attributes": attrs}
        doc["observer"] = {"vendor": vendor, "product": product, "version": pversion}
        ev = doc["event"]
        ev["code"] = event_id
        if long_or_none(attrs.get("sev")) is not None:
            ev["severity"] = long_or_none(attrs["sev"])
        _map_ecs(attrs, doc)
        if "devTime" in attrs:
            fmt = attrs.get("devTimeFormat")
            ts = None
            if fmt:
                java = {"MMM": "%b", "dd": "%d", "yyyy": "%Y", "HH": "%H", "mm": "%M", "ss": "%S", "SSS": "%f", "z": "%Z"}
                layout = fmt
                for j, p in java.items():
                    layout = layout.replace(j, p)
                ts = LayoutConverter(layout, UTC)(attrs["devTime"])
            ts = ts or _time(attrs["devTime"])
            if ts:
                doc["@timestamp"] = ts
        default_dataset(ev, "leef", "leef.log")
        return "leef.event"
