"""Find the files a source names: globs evaluated again on every scan, minus exclusions.

Globs use Python's `glob` with `recursive=True` (`**` crosses directories), as Filebeat's
and Vector's do. `watch_roots` gives the directories a filesystem watcher must observe:
the longest glob-free prefix of each pattern, if it exists.
"""
from __future__ import annotations

import fnmatch
import glob
import os

from .config import FileSource

_MAGIC = set("*?[")


def matches(source: FileSource) -> list[str]:
    """Regular files matching the source's globs now, excluded ones removed, sorted."""
    found: set[str] = set()
    for pattern in source.paths:
        for path in glob.glob(os.path.expanduser(pattern), recursive=True):
            if any(fnmatch.fnmatch(path, ex) or fnmatch.fnmatch(os.path.basename(path), ex) for ex in source.exclude):
                continue
            if os.path.isfile(path):
                found.add(os.path.abspath(path))
    return sorted(found)


def watch_roots(patterns: list[str]) -> dict[str, bool]:
    """Directory -> recursive? for every pattern (the deepest existing glob-free directory)."""
    out: dict[str, bool] = {}
    for pattern in patterns:
        pattern = os.path.abspath(os.path.expanduser(pattern))
        parts = pattern.split(os.sep)
        fixed: list[str] = []
        for part in parts[:-1]:
            if _MAGIC & set(part):
                break
            fixed.append(part)
        root = os.sep.join(fixed) or os.sep
        recursive = len(fixed) < len(parts) - 1 or "**" in pattern
        if not os.path.isdir(root):
            continue  # not there yet: the periodic scan finds it; never watch a whole parent tree
        out[root] = out.get(root, False) or recursive
    return out
