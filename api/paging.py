"""Paging of the list endpoints: the cursor a caller sends in and the one the answer gives out
(predictions, webhook deliveries), and the `offset` of the quality team's lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Query

from pettriage.store import queries
from pettriage.store.tables import MAX_ROW_ID

from .errors import invalid

# How many items of a list to skip; bounded like a row id, which both databases can hold.
Offset = Annotated[int, Query(ge=0, le=MAX_ROW_ID)]


def after(cursor: str | None) -> int:
    """The row id a cursor stands for (0 without one); a 422 naming `cursor` for one that no
    answer gave."""
    try:
        return queries.decode_cursor(cursor) if cursor else 0
    except ValueError as error:
        raise invalid("cursor", str(error)) from error


def next_cursor(rows: Sequence, limit: int) -> str | None:
    """The cursor of the page after `rows`, or None when this page was the last."""
    return queries.encode_cursor(rows[-1].id) if len(rows) == limit else None
