"""Events generated from Sigma rules' own detection values, for differential testing.

For every rule the generator writes events that satisfy some, all or none of its search
identifiers, with values built from the rule (wildcards filled, contains/startswith/endswith
padded, random ASCII case) and near misses (one character changed). Values are ASCII and
fields are scalars, the domain on which the SQLite oracle is itself correct.
"""
from __future__ import annotations

import ipaddress
import random
import string
from typing import Any

import yaml

FILLERS = ["", "x", "abc", " -v ", "/tmp/q", "ZZ"]


def _fill(s: str, rng: random.Random) -> str:
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "*?\\":
            out.append(s[i + 1])
            i += 2
            continue
        if c == "*":
            out.append(rng.choice(FILLERS))
        elif c == "?":
            out.append(rng.choice(string.ascii_letters))
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _case(s: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.2:
        return s.upper()
    if r < 0.4:
        return s.lower()
    return s


def _miss(s: str, rng: random.Random) -> str:
    if not s:
        return "x"
    i = rng.randrange(len(s))
    return s[:i] + rng.choice("qjkz09") + s[i + 1:]


def value_for(key: str, value: Any, rng: random.Random) -> Any:
    mods = key.split("|")[1:]
    vals = value if isinstance(value, list) else [value]
    v = rng.choice(vals)
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v) if rng.random() < 0.8 else str(v + 1)
    s = str(v)
    if "cidr" in mods:
        net = ipaddress.ip_network(s, strict=False)
        return str(net.network_address + rng.choice([1, 2, net.num_addresses - 1])) if rng.random() < 0.8 else "192.0.2.77"
    if "re" in mods:
        return rng.choice(["".join(ch for ch in s if ch.isalnum() or ch in " /-._"), _fill(s, rng)])
    s = _fill(s, rng)
    pre, post = rng.choice(FILLERS), rng.choice(FILLERS)
    if "contains" in mods:
        s = pre + s + post
    elif "startswith" in mods:
        s = s + post
    elif "endswith" in mods:
        s = pre + s
    s = _case(s, rng)
    if rng.random() < 0.15:
        s = _miss(s, rng)
    return s


def _fields(body: Any, rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(body, dict):
        for k, v in body.items():
            name = k.split("|")[0]
            if not name:  # '|all' keywords
                kws = v if isinstance(v, list) else [v]
                out["message"] = " ".join(_case(_fill(str(x), rng), rng) for x in kws)
                continue
            if rng.random() < 0.9:
                val = value_for(k, v, rng)
                if val is not None:
                    out[name] = val
    elif isinstance(body, list):
        maps = [b for b in body if isinstance(b, dict)]
        words = [b for b in body if not isinstance(b, (dict, list))]
        if maps and (not words or rng.random() < 0.5):
            out.update(_fields(rng.choice(maps), rng))
        elif words:
            w = _case(_fill(str(rng.choice(words)), rng), rng)
            if rng.random() < 0.1:
                w = _miss(w, rng)
            out["message"] = f"{rng.choice(FILLERS)} {w} {rng.choice(FILLERS)}"
    return out


def events_for_rule(text: str, rng: random.Random, n: int = 6) -> list[dict[str, Any]]:
    rule = yaml.safe_load(text)
    det = rule.get("detection") or {}
    idents = [k for k in det if k != "condition"]
    events = []
    for _ in range(n):
        ev: dict[str, Any] = {}
        for name in idents:
            if rng.random() < 0.75:
                for k, v in _fields(det[name], rng).items():
                    if k == "message" and "message" in ev:
                        ev["message"] += " " + v
                    else:
                        ev[k] = v
        events.append(ev)
    return events
