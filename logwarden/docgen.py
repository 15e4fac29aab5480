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

HEADER = """# Configuration reference

Logwarden reads one YAML file (`-c FILE`); every key is optional and command-line flags
override the file. `${ENV_VAR}` is replaced by the variable's value (`${ENV_VAR:-default}`
gives a default); a reference to an unset variable without a default is an error. Unknown
keys are errors, with a did-you-mean. `logwarden config check FILE` runs the same validation
as start-up and exits 2 with `file:line: key: problem` for each problem.

This file is generated from the configuration models (`python -m logwarden.docgen`).
"""


def _models(ann: Any) -> list[type[BaseModel]]:
    out = []
    for c in (ann, *(getattr(ann, "__args__", ()) or ())):
        if isinstance(c, type) and issubclass(c, BaseModel):
            out.append(c)
        for a in getattr(c, "__args__", ()) or ():
            if isinstance(a, type) and issubclass(a, BaseModel):
                out.append(a)
    return out


def _type_name(ann: Any) -> str:
    text = getattr(ann, "__name__", None) if isinstance(ann, type) else None
    return (text or str(ann).replace("typing.", "")).replace(" | ", " or ").replace("|", " or ")


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        return "`" + repr(field.default).replace("'", '"') + "`" if field.default is not None else "empty"
    if field.default_factory is not None:
        value = field.default_factory()
        return "`" + repr(value) + "`" if not isinstance(value, BaseModel) else "(section)"
    return "**required**"


def render(model: type[BaseModel] = Config, prefix: str = "") -> str:
    lines: list[str] = []
    rows = []
    nested = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        subs = _models(field.annotation)
        rows.append(f"| `{key}` | {_type_name(field.annotation) if not subs else 'section' if not str(field.annotation).startswith('list') else 'list of entries'} | {_default(field)} | {field.description or ''} |")
        for sub in subs:
            nested.append((key + ("[]" if str(field.annotation).startswith("list") else ""), sub))
    lines.append("| key | type | default | meaning |\n| --- | --- | --- | --- |")
    lines.extend(rows)
    out = "\n".join(lines) + "\n"
    for key, sub in nested:
        doc = (sub.__doc__ or "").strip()
        out += f"\n## `{key}`\n\n" + (f"{doc}\n\n" if doc else "") + render(sub, key + ".")
    return out


def main() -> None:
    sys.stdout.write(HEADER + "\n## Top level\n\n" + render())


if __name__ == "__main__":
    main()
