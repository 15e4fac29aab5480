"""Generate docs/configuration.md from the pydantic models, so the reference cannot drift.

`python -m logwarden.docgen > docs/configuration.md` regenerates it; a unit test fails when
the committed file differs from what the models say.
"""
from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from logwarden.config import Config
from logwarden.model import Endpoints, Listen

# Annotated address types, named as an operator writes them
_NAMED = ((Listen, "HOST:PORT"), (Endpoints, "HOST:PORT list"))

HEADER = """# Configuration reference

Logwarden reads one YAML file (`-c FILE`); every key is optional and command-line flags
override the file. `${ENV_VAR}` is replaced by the variable's value (`${ENV_VAR:-default}`
gives a default); a reference to an unset variable without a default is an error. Unknown
keys are errors, with a did-you-mean. `logwarden config check FILE` runs the same validation
as start-up and exits 2 with `file:line: key: problem` for each problem; a valid file whose
listeners are reachable from the network without TLS or authentication passes with a
`warning:` line for each (also logged by `logwarden up` at start).
Addresses (type HOST:PORT) are checked there too: the host is a name, an IPv4 address or
an IPv6 address in brackets (`[::1]:9092`), the port 1-65535 - or 0 for a listener, which
then binds any free port.

This file is generated from the configuration models (`python -m logwarden.docgen`).
"""


def _models(ann: Any, depth: int = 0) -> list[type[BaseModel]]:
    """Models inside an annotation, through list/Optional/Union/Annotated (discriminated unions)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    out: list[type[BaseModel]] = []
    if depth < 4:
        for a in getattr(ann, "__args__", ()) or ():
            for m in _models(a, depth + 1):
                if m not in out:
                    out.append(m)
    return out


def _type_name(ann: Any, metadata: list[Any] = []) -> str:  # noqa: B006 (read only)
    args = getattr(ann, "__args__", ()) or ()
    for alias, name in _NAMED:
        if ann == alias or (ann is str and metadata == list(alias.__metadata__)):
            return name
        if len(args) == 2 and type(None) in args and alias in args:
            return f"{name} or None"
    text = getattr(ann, "__name__", None) if isinstance(ann, type) else None
    return (text or str(ann).replace("typing.", "")).replace(" | ", " or ").replace("|", " or ")


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        return "`" + repr(field.default).replace("'", '"') + "`" if field.default is not None else "empty"
    if field.default_factory is not None:
        value = field.default_factory()
        return "`" + repr(value) + "`" if not isinstance(value, BaseModel) else "(section)"
    return "**required**"


def _variant(sub: type[BaseModel]) -> str:
    """` (type: rename)` for members of a discriminated union, so their sections differ."""
    t = sub.model_fields.get("type")
    args = getattr(t.annotation, "__args__", ()) if t is not None else ()
    return f" (type: {args[0]})" if len(args) == 1 and isinstance(args[0], str) else ""


def render(model: type[BaseModel] = Config, prefix: str = "", _done: dict[type[BaseModel], str] | None = None) -> str:
    done = {} if _done is None else _done
    lines: list[str] = []
    rows = []
    nested = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        subs = _models(field.annotation)
        kind = _type_name(field.annotation, field.metadata) if not subs else "section" if not str(field.annotation).startswith("list") else "list of entries"
        meaning = field.description or ""
        seen = [done[s] for s in subs if s in done]
        if seen:
            meaning += f" (same shape as `{seen[0]}`)"
        rows.append(f"| `{key}` | {kind} | {_default(field)} | {meaning} |")
        for sub in subs:
            if sub in done:
                continue  # recursive or shared models (conditions) are described once
            section = key + ("[]" if str(field.annotation).startswith("list") else "")
            done[sub] = section
            nested.append((section + (_variant(sub) if len(subs) > 1 else ""), sub))
    lines.append("| key | type | default | meaning |\n| --- | --- | --- | --- |")
    lines.extend(rows)
    out = "\n".join(lines) + "\n"
    for key, sub in nested:
        doc = (sub.__doc__ or "").strip()
        out += f"\n## `{key}`\n\n" + (f"{doc}\n\n" if doc else "") + render(sub, key.split(" (")[0] + ".", done)
    return out


def main() -> None:
    sys.stdout.write(HEADER + "\n## Top level\n\n" + render())


if __name__ == "__main__":
    main()
