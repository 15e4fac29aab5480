"""Event preparation: the flat and lower-cased views every rule predicate reads.

An event is prepared once per evaluation: the fields some rule references are extracted
from the nested ECS document by walking a trie of their paths (`FieldPlan`) into `flat`
(dotted key -> value), and `low` holds the same fields as lower-cased text (numbers as
their decimal text, booleans as `true`/`false`, lists element-wise). Every case-insensitive
test of every rule reads `low`, so no value is lowered twice. Case folding is Unicode-aware
(`str.lower`). Lists of objects (`dns.answers: [{data: ..}]`) become lists per sub-field.
"""
from __future__ import annotations

from typing import Any


def _text(v: Any) -> str | None:
    t = v.__class__
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return str(int(v)) if v.is_integer() else repr(v)
    if v is None:
        return None
    return str(v)


def _flatten(doc: dict, prefix: str, out: dict) -> None:
    for k, v in doc.items():
        key = prefix + k
        if v.__class__ is dict:
            _flatten(v, key + ".", out)
        elif v.__class__ is list and v and v[0].__class__ is dict:
            sub: dict = {}
            for item in v:
                if item.__class__ is dict:
                    one: dict = {}
                    _flatten(item, "", one)
                    for sk, sv in one.items():
                        sub.setdefault(sk, []).extend(sv if sv.__class__ is list else [sv])
            for sk, sv in sub.items():
                out[key + "." + sk] = sv
        else:
            out[key] = v


def _lower(v: Any) -> Any:
    c = v.__class__
    if c is str:
        return v.lower()
    if c is list:
        return [t.lower() for t in map(_text, v) if t is not None]
    if v is None:
        return None
    return _text(v).lower()


class FieldPlan:
    """Where the referenced fields live: a trie of path segments walked once per event.

    Flattening a whole ECS document costs more than all the rules' tests of a typical
    event; walking only the subtrees some rule reads (`url`, `user_agent`, `event`, but not
    `agent`, `log` or `host`) skips most of it. Keys that already contain dots (flat
    documents, as Filebeat may send) are resolved against the trie as well.
    """

    __slots__ = ("root", "fields")

    def __init__(self, fields: set[str] | frozenset[str]):
        self.fields = frozenset(fields)
        self.root: dict = {}
        for f in self.fields:
            node = self.root
            parts = f.split(".")
            for i, part in enumerate(parts):
                child = node.get(part)
                if child is None:
                    child = node[part] = [None, {}]  # [dotted path if a field ends here, children]
                if i == len(parts) - 1:
                    child[0] = f
                node = child[1]

    def extract(self, doc: dict, out: dict) -> dict:
        _walk(doc, self.root, out)
        return out


def _walk(doc: dict, trie: dict, out: dict) -> None:
    for k, v in doc.items():
        node = trie.get(k)
        if node is None:
            if "." in k:
                _dotted(k, v, trie, out)
            continue
        path, children = node
        if path is not None and v.__class__ is not dict:
            if v.__class__ is list and v and v[0].__class__ is dict:
                pass
            else:
                out[path] = v
        if children:
            if v.__class__ is dict:
                _walk(v, children, out)
            elif v.__class__ is list and v and v[0].__class__ is dict:
                list_walk(v, children, out)


def list_walk(v: list, children: dict, out: dict) -> None:
    """A list of objects: one list per sub-field, gathered across the items."""
    sub: dict = {}
    for item in v:
        if item.__class__ is dict:
            one: dict = {}
            _walk(item, children, one)
            for sk, sv in one.items():
                sub.setdefault(sk, []).extend(sv if sv.__class__ is list else [sv])
    out.update(sub)


def _dotted(key: str, v: Any, trie: dict, out: dict) -> None:
    node = None
    level = trie
    for part in key.split("."):
        node = level.get(part)
        if node is None:
            return
        level = node[1]
    path, children = node
    if path is not None and v.__class__ is not dict:
        out[path] = v
    if children and v.__class__ is dict:
        _walk(v, children, out)


def prepare(doc: dict, plan: "FieldPlan | None" = None) -> tuple[dict, dict]:
    """(flat, low) views of an event; see the module docstring.

    With a `plan` (every field some rule reads), only those fields are extracted and
    lower-cased: a long `event.original` that no rule looks at costs nothing.
    """
    flat: dict = {}
    if plan is None:
        _flatten(doc, "", flat)
    else:
        plan.extract(doc, flat)
    low = {}
    for k, v in flat.items():
        c = v.__class__
        if c is str:
            low[k] = v.lower()
        elif c is list:
            low[k] = [x.lower() if x.__class__ is str else _text(x).lower() for x in v if x is not None]
        elif c is int:
            low[k] = str(v)
        elif v is not None:
            low[k] = _lower(v)
    return flat, low
