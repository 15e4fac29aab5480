"""Sorting and deep paging, shared by both backends: the sort spec and the search-after cursor.

`sort=field:asc|desc` orders hits by one field; hits with equal values are ordered by
@timestamp (newest first), and a time sort breaks its ties by `event.id`, as an
Elasticsearch `sort` with a tiebreaker does. The answer to a time-sorted search carries
`next`, an opaque cursor of the last hit's sort values; passing it back as `search_after`
returns the page after it, however deep, without the cost of `offset` (which has to collect
every hit before the page). The cursor names the sort and the backend's own sort values:
the embedded index keeps @timestamp to the second (its date fast field's precision), a
cluster to the millisecond, so each backend reads only cursors it wrote.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import orjson

from logwarden.sinks.query import fields

__all__ = ["BadParameter", "Sort", "parse_sort", "encode_cursor", "decode_cursor", "TIME_SORT", "MAX_WINDOW"]

MAX_WINDOW = 10_000          # offset + limit for a field sort (Elasticsearch's max_result_window)
FIELD_NAME = re.compile(r"^[A-Za-z_@][A-Za-z0-9_.@\-]*$")   # the query grammar's field names


class BadParameter(ValueError):
    """A request parameter the client must fix (HTTP 400 with this message)."""


@dataclass(frozen=True, slots=True)
class Sort:
    field: str = fields.TIMESTAMP
    order: str = "desc"

    @property
    def by_time(self) -> bool:
        return self.field == fields.TIMESTAMP

    @property
    def desc(self) -> bool:
        return self.order == "desc"


TIME_SORT = Sort()


def parse_sort(text: str | None) -> Sort:
    """`field`, `field:asc` or `field:desc` (default desc, as Discover's newest-first)."""
    if not text:
        return TIME_SORT
    name, _, order = text.rpartition(":") if text.endswith((":asc", ":desc")) else (text, "", "desc")
    if not FIELD_NAME.match(name):
        raise BadParameter(f"sort: expected FIELD, FIELD:asc or FIELD:desc (e.g. http.response.status_code:desc), got {text!r}")
    kind = fields.kind(name)
    if kind == "text" or name in fields.NOT_INDEXED:
        raise BadParameter(f"sort: {name} is a full-text field; sort by a keyword, numeric, date or IP field")
    if kind == "date" and name != fields.TIMESTAMP:
        raise BadParameter(f"sort: only @timestamp among the date fields can be sorted by (got {name})")
    return Sort(name, order)


def encode_cursor(backend: str, sort: Sort, values: list[Any]) -> str:
    raw = orjson.dumps({"b": backend, "f": sort.field, "o": sort.order, "v": values})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, backend: str, sort: Sort) -> list[Any]:
    """The sort values in a `next` cursor; BadParameter when it is not one for this search."""
    try:
        body = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        ok = isinstance(body, dict) and isinstance(body.get("v"), list)
    except (ValueError, orjson.JSONDecodeError):
        ok = False
    if not ok:
        raise BadParameter("search_after: not a cursor; pass the `next` value of the previous answer unchanged")
    if body.get("b") != backend or body.get("f") != sort.field or body.get("o") != sort.order:
        raise BadParameter(f"search_after: the cursor belongs to another search (sort {body.get('f')}:{body.get('o')} "
                           f"on {body.get('b')}); pass the same sort as the search that returned it")
    return body["v"]
