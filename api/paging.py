"""Cursor paging of the list endpoints (predictions, webhook deliveries): the cursor a caller
sends in, the one the answer gives out."""

from __future__ import annotations

from collections.abc import Sequence

from pettriage.store import queries

from .errors import invalid


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
