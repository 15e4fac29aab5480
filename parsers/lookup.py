"""Lookup tables: CSV or JSON files of key -> fields, for the `lookup` processor.

    table = LookupTable("assets.csv", key_column="host.name")
    table.get("web-1")        # -> {"host.owner": "shop", ...} | None

Keys come in three kinds, told apart by their text, so one file can mix them (a threat-intel
list of single addresses and whole networks, an inventory of `db-*` hosts and named ones):

  exact     `web-1`, `10.1.2.3`, `alice`     - equal to the event's value
  CIDR      `10.0.0.0/8`, `2001:db8::/32`   - an IP inside the network; the longest prefix wins
  wildcard  `db-*`, `*.corp.example`, `k?` - fnmatch (`*`, `?`, `[...]`); the first in file order wins

An exact key wins over a CIDR key, which wins over a wildcard. The file is read at start
and read again when it changes (its mtime or size, checked at most once per
`reload_seconds`); a file that no longer parses keeps the previous table and is reported
once, so a half-written file never empties the table. Answers are cached (LRU), dropped on
reload.

Formats, by file name: `.csv` (a header row; one column is the key, the others are the
fields, empty cells left out), `.json` (an object of key -> object of fields, or a list of
objects each holding the key column), `.jsonl`/`.ndjson` (one such object a line).
"""
from __future__ import annotations

import csv
import fnmatch
import ipaddress
import logging
import os
import re
import time
from functools import lru_cache
from typing import Any, Callable

import orjson

log = logging.getLogger("logwarden.parsers.lookup")

Record = dict[str, Any]
_WILD = re.compile(r"[*?\[]")


class TableError(ValueError):
    """The table file cannot be read as a table (the message says where)."""


def read_records(path: str, key_column: str) -> list[tuple[str, Record]]:
    """(key, fields) pairs of a CSV/JSON/JSONL file, in file order."""
    low = path.lower()
    with open(path, "rb") as fh:
        data = fh.read()
    rows: list[Any]
    if low.endswith(".csv"):
        reader = csv.DictReader(data.decode("utf-8-sig").splitlines())
        if reader.fieldnames is None or key_column not in reader.fieldnames:
            raise TableError(f"{path}: no {key_column!r} column in the header row")
        rows = [{k: v for k, v in r.items() if k is not None and v not in (None, "")} for r in reader]
    elif low.endswith((".jsonl", ".ndjson")):
        rows = [orjson.loads(line) for line in data.splitlines() if line.strip()]
    elif low.endswith(".json"):
        doc = orjson.loads(data)
        if isinstance(doc, dict):
            rows = [{**v, key_column: k} if isinstance(v, dict) else None for k, v in doc.items()]
        elif isinstance(doc, list):
            rows = doc
        else:
            raise TableError(f"{path}: a JSON table is an object of key -> fields, or a list of objects")
    else:
        raise TableError(f"{path}: a lookup table is a .csv, .json or .jsonl file")
    out: list[tuple[str, Record]] = []
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict) or r.get(key_column) in (None, ""):
            raise TableError(f"{path}: record {i} has no {key_column!r}")
        key = r[key_column]
        out.append((str(key), {k: v for k, v in r.items() if k != key_column}))
    return out


class _Compiled:
    """One version of a table: exact dict, CIDR networks by prefix length, wildcard list."""

    def __init__(self, records: list[tuple[str, Record]], case_sensitive: bool):
        self.fold = (lambda s: s) if case_sensitive else str.casefold
        self.exact: dict[str, Record] = {}
        self.nets: dict[int, list[tuple[int, dict[int, Record]]]] = {4: [], 6: []}
        self.wild: list[tuple[Callable[[str], Any], Record]] = []
        by_len: dict[tuple[int, int], dict[int, Record]] = {}
        for key, rec in records:
            if "/" in key:
                try:
                    net = ipaddress.ip_network(key, strict=False)
                except ValueError:
                    net = None
                if net is not None:
                    by_len.setdefault((net.version, net.prefixlen), {}).setdefault(int(net.network_address), rec)
                    continue
            if _WILD.search(key):
                rx = re.compile(fnmatch.translate(self.fold(key)), re.S)
                self.wild.append((rx.match, rec))
                continue
            self.exact.setdefault(self.fold(key), rec)
        for (version, plen), table in sorted(by_len.items(), key=lambda kv: -kv[0][1]):
            self.nets[version].append((plen, table))
        self.size = len(records)

    def get(self, value: str) -> Record | None:
        v = self.fold(value)
        rec = self.exact.get(v)
        if rec is not None:
            return rec
        if self.nets[4] or self.nets[6]:
            try:
                ip = ipaddress.ip_address(value)
            except ValueError:
                ip = None
            if ip is not None:
                n, bits = int(ip), ip.max_prefixlen
                for plen, table in self.nets[ip.version]:
                    rec = table.get(n >> (bits - plen) << (bits - plen))
                    if rec is not None:
                        return rec
        for match, rec in self.wild:
            if match(v):
                return rec
        return None


class LookupTable:
    """A table file kept current: `get(value)` answers from the newest version that parsed."""

    def __init__(self, path: str, key_column: str = "key", *, case_sensitive: bool = True,
                 reload_seconds: float = 1.0, cache_size: int = 16384, clock: Callable[[], float] = time.monotonic):
        self.path = path
        self.key_column = key_column
        self.case_sensitive = case_sensitive
        self.reload_seconds = reload_seconds
        self.cache_size = cache_size
        self.clock = clock
        self.reloads = 0
        self._stamp = self._stat()
        self._table = _Compiled(read_records(path, key_column), case_sensitive)  # a broken file fails the config
        self._next_check = clock() + reload_seconds
        self._bad_stamp: tuple[int, int] | None = None
        self._get = lru_cache(maxsize=cache_size)(self._table.get)

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _maybe_reload(self) -> None:
        stamp = self._stat()
        if stamp is None or stamp == self._stamp or stamp == self._bad_stamp:
            return  # a deleted file keeps the last table (a rename-over-write is in progress)
        try:
            table = _Compiled(read_records(self.path, self.key_column), self.case_sensitive)
        except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
            self._bad_stamp = stamp
            log.warning("lookup table not reloaded, keeping the previous one", extra={"path": self.path, "error": str(exc)})
            return
        self._stamp, self._bad_stamp = stamp, None
        self._table = table
        self._get = lru_cache(maxsize=self.cache_size)(table.get)
        self.reloads += 1
        log.info("lookup table reloaded", extra={"path": self.path, "records": table.size})

    def get(self, value: Any) -> Record | None:
        now = self.clock()
        if now >= self._next_check:
            self._next_check = now + self.reload_seconds
            self._maybe_reload()
        if value.__class__ is not str:
            if value.__class__ not in (int, float) or isinstance(value, bool):
                return None
            value = str(value)
        return self._get(value)
