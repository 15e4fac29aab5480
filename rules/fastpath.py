"""Generated per-rule-set code for the per-event hot path: extract, lower, look up.

`event.prepare` + `Engine.candidates` are the reference: a generic walk over the event's
keys against a trie of referenced fields, a lowering loop, then a loop over the lowered
fields looking each up in the index. Each step is cheap, but together they were most of
the time spent on an event (interpreter dispatch, a tuple unpack and a dict probe per key
and per level). For a compiled rule set the trie is fixed, so this module writes it out as
straight-line Python (exec'd once per rule set, like `dataclasses` does): a `.get` per
referenced key, lower-casing and the candidate lookups inlined at each leaf, the index
dicts and Set tags bound as constants.

Two functions are generated per engine:

* **stage 1** reads only the fields the candidate index uses (exact-value dicts, the
  substring Set, case-sensitive Sets), runs the lookups and returns
  `(flat, low, candidates, slow)`; most events end here, with no candidate rule;
* **stage 2** adds the remaining referenced fields to `flat`/`low`, only for events with
  candidates, so the rule predicates and correlations see the same views as `prepare`.

Equivalence with the reference (pinned by property tests): extraction restricted to a
subset of the fields gives exactly that subset of `prepare`'s result, because the trie walk
reads a field only along its own path. Two shapes are left to the reference code for the
level where they occur, and flagged `slow` so the caller re-lowers from `flat` and re-runs
the reference candidate lookup:

* keys containing dots (`{"process.name": ..}`), which the reference resolves against the
  trie in document order - a level is on the fast path only when all its keys are known
  plain strings (one C-level `set.issuperset` per level; new plain keys are learnt, up to
  `PLAIN_CAP`, so hostile key churn costs speed, not memory). Levels whose referenced
  children are all leaves skip the check: a dotted key there cannot reach a field;
* lists of objects (`dns.answers: [{data: ..}]`), merged per sub-field by the reference.
"""
from __future__ import annotations

from typing import Any, Callable

from .event import _lower, _text, _walk, list_walk

PLAIN_CAP = 4096  # learnt plain key strings per engine


def lower_list(v: list) -> list:
    return [x.lower() if x.__class__ is str else _text(x).lower() for x in v if x is not None]


def lower_all(flat: dict) -> dict:
    """The `low` view of `flat` (event.prepare's rules, one place)."""
    low = {}
    for k, v in flat.items():
        c = v.__class__
        if c is str:
            low[k] = v.lower()
        elif c is list:
            low[k] = lower_list(v)
        elif c is int:
            low[k] = str(v)
        elif v is not None:
            low[k] = _lower(v)
    return low


class _Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 1
        self.consts: dict[str, Any] = {}
        self._ids: dict[int, str] = {}

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def const(self, prefix: str, obj: Any) -> str:
        name = self._ids.get(id(obj))
        if name is None:
            name = self._ids[id(obj)] = f"{prefix}{len(self.consts)}"
            self.consts[name] = obj
        return name


def _subtrie(fields: set[str]) -> dict:
    """The trie (event.FieldPlan's node shape) restricted to `fields`."""
    out: dict = {}
    for f in sorted(fields):
        node = out
        parts = f.split(".")
        for i, part in enumerate(parts):
            child = node.get(part)
            if child is None:
                child = node[part] = [None, {}]
            if i == len(parts) - 1:
                child[0] = f
            node = child[1]
    return out


def _index_code(em: _Emitter, var: str, scalar: bool, vmap: dict | None, tag: str | None) -> None:
    """Candidate lookups for lowered value(s) `var` of one field (engine.candidates' rules)."""
    if vmap is None and tag is None:
        return
    if not scalar:
        em(f"for z in {var}:")
        em.depth += 1
        var = "z"
    if vmap is not None:
        em(f"h = {em.const('V', vmap)}.get({var})")
        em("if h:")
        em("    cands.update(h)")
    if tag is not None:
        em(f"hay.append({tag!r})")
        em(f"hay.append({var}.replace('\\x00', ' ') if '\\x00' in {var} else {var})")
    if not scalar:
        em.depth -= 1


def _level(em: _Emitter, node: dict, var: str, level: int, index: dict, tags: dict) -> None:
    if not node:
        em("pass")
        return
    # A dotted key can only reach a field through a child that has children of its own
    # (`"process.name"` needs `process` to be an inner node here): a level of leaves
    # needs no check for dotted keys.
    checked = any(children for _, children in node.values())
    if checked:
        em(f"if PLAIN({var}) or LEARN({var}):")
        em.depth += 1
    for key, (path, children) in node.items():
        x, c = f"x{level}", f"c{level}"
        em(f"if {key!r} in {var}:")
        em.depth += 1
        em(f"{x} = {var}[{key!r}]")
        em(f"{c} = {x}.__class__")
        if path is None:
            em(f"if {c} is dict:")
            em.depth += 1
            _level(em, children, x, level + 1, index, tags)
            em.depth -= 1
            em(f"elif {c} is list and {x} and {x}[0].__class__ is dict:")
            em(f"    LISTWALK({x}, {em.const('T', children)}, flat)")
            em("    slow = True")
        else:
            p, vmap, tag = repr(path), index.get(path), tags.get(path)
            em(f"if {c} is str:")
            em.depth += 1
            em(f"flat[{p}] = {x}")
            em(f"y = low[{p}] = {x}.lower()")
            _index_code(em, "y", True, vmap, tag)
            em.depth -= 1
            if children:
                em(f"elif {c} is dict:")
                em.depth += 1
                _level(em, children, x, level + 1, index, tags)
                em.depth -= 1
            em(f"elif {c} is list:")
            em.depth += 1
            em(f"if {x} and {x}[0].__class__ is dict:")
            if children:
                em(f"    LISTWALK({x}, {em.const('T', children)}, flat)")
                em("    slow = True")
            else:
                em("    pass")
            em("else:")
            em.depth += 1
            em(f"flat[{p}] = {x}")
            # ECS lists are mostly one string (event.category: [web]): no call for those
            em(f"y = low[{p}] = [{x}[0].lower()] if len({x}) == 1 and {x}[0].__class__ is str else LOWLIST({x})")
            _index_code(em, "y", False, vmap, tag)
            em.depth -= 2
            em(f"elif {x} is None:")
            em(f"    flat[{p}] = None")
            em(f"elif {c} is not dict:")
            em.depth += 1
            em(f"flat[{p}] = {x}")
            em(f"y = low[{p}] = str({x}) if {c} is int else LOWER({x})")
            _index_code(em, "y", True, vmap, tag)
            em.depth -= 1
        em.depth -= 1
    if checked:
        em.depth -= 1
        em("else:")
        em(f"    WALK({var}, {em.const('T', node)}, flat)")
        em("    slow = True")


def _namespace(plain: set[str]) -> dict[str, Any]:
    def learn(d: dict) -> bool:
        for k in d:
            if k.__class__ is not str or "." in k:
                return False
        if len(plain) < PLAIN_CAP:
            plain.update(d)
        return True
    return {"PLAIN": plain.issuperset, "LEARN": learn, "M": object(), "WALK": _walk, "LISTWALK": list_walk,
            "LOWLIST": lower_list, "LOWER": _lower}


def compile_stage1(fields: set[str], index: dict[str, dict], tags: dict[str, str], plain: set[str],
                   set_match: Callable[[bytes], Any], set_rules: list, cased_sets: list,
                   always: list[int]) -> Callable[[dict], tuple]:
    """doc -> (flat, low, candidate rule numbers, slow) for `fields`.

    The substring Set scan, the case-sensitive Sets and the always-candidates are part of
    the generated function (engine.candidates' rules); with `slow` set the candidates are
    left to the caller's reference lookup.
    """
    em = _Emitter()
    em.lines.append("def stage1(d0):")
    for line in ("flat = {}", "low = {}", "cands = set()", "hay = []", "slow = False"):
        em(line)
    _level(em, _subtrie(fields), "d0", 1, index, tags)
    em("if slow:")
    em("    return flat, low, cands, True")
    em("if hay:")
    em("    idx = SETMATCH(''.join(hay).encode('utf-8', 'replace'))")
    em("    if idx:")
    em("        for i in idx:")
    em("            cands.update(SETRULES[i])")
    if cased_sets:
        em("for aset in CASED:")
        em("    v = flat.get(aset.field)")
        em("    if v is not None:")
        em("        aset.hits(v, cands)")
    if always:
        em("cands.update(ALWAYS)")
    em("return flat, low, cands, False")
    em.consts.update(SETMATCH=set_match, SETRULES=set_rules, CASED=list(cased_sets), ALWAYS=list(always))
    return _exec(em, plain, "stage1")


def compile_stage2(fields: set[str], plain: set[str]) -> Callable[[dict, dict, dict], bool]:
    """(doc, flat, low) -> slow: adds `fields` to the views in place."""
    em = _Emitter()
    em.lines.append("def stage2(d0, flat, low):")
    em("slow = False")
    _level(em, _subtrie(fields), "d0", 1, {}, {})
    em("return slow")
    return _exec(em, plain, "stage2")


def _exec(em: _Emitter, plain: set[str], name: str) -> Callable:
    ns = _namespace(plain) | em.consts
    src = "\n".join(em.lines) + "\n"
    exec(compile(src, f"<logwarden.rules.fastpath {name}>", "exec"), ns)  # noqa: S102 - our own generated code
    fn = ns[name]
    fn.source = src  # for debugging: print(engine.stage1.source)
    return fn
