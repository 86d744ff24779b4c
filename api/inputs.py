"""What a request may carry into the database, checked before anything is written.

PostgreSQL holds no NUL character (U+0000) in text or JSON, and neither database can encode a
lone surrogate (half of a UTF-16 pair, U+D800–U+DFFF) as UTF-8. Such characters in a message are
replaced by U+FFFD, the Unicode replacement character, and the answer says so
(`input_warnings`): the complaint is still classified and stored, never refused for a broken
byte. `metadata` is the caller's own: its shape is limited (nesting depth, size) so that every
stored row can be read back and paged past; breaking a limit is a 422 naming it.
"""

from __future__ import annotations

import re
from typing import Any

from pettriage.store.jsonio import dumps

MAX_METADATA_DEPTH = 10  # levels of objects and arrays inside `metadata`
MAX_METADATA_BYTES = 16 * 1024  # as compact JSON
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class MetadataError(ValueError):
    """`metadata` breaks a limit; the text names it."""


def clean_text(text: str, field: str) -> tuple[str, list[str]]:
    """(the text with unstorable characters replaced, what was replaced)."""
    found = _UNSTORABLE.findall(text)
    if not found:
        return text, []
    nul = found.count("\x00")
    notes = []
    if nul:
        notes.append(f"{field}: {nul} NUL character(s) (U+0000) replaced by U+FFFD")
    if len(found) > nul:
        notes.append(f"{field}: {len(found) - nul} lone surrogate(s) replaced by U+FFFD")
    return _UNSTORABLE.sub(REPLACEMENT, text), notes


def clean_metadata(value: Any) -> tuple[Any, list[str]]:
    """(metadata with unstorable characters replaced in every key and string, what was
    replaced), or `MetadataError` when it is nested too deep or too large."""
    notes: list[str] = []

    def walk(item: Any, depth: int, where: str) -> Any:
        if isinstance(item, dict | list):
            if depth > MAX_METADATA_DEPTH:
                raise MetadataError(
                    f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels (at {where}); "
                    "send a flatter object"
                )
            if isinstance(item, list):
                return [walk(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(item)]
            cleaned = {}
            for key, v in item.items():
                new_key, key_notes = clean_text(str(key), f"{where} key")
                notes.extend(key_notes)
                cleaned[new_key] = walk(v, depth + 1, f"{where}.{new_key}")
            return cleaned
        if isinstance(item, str):
            text, text_notes = clean_text(item, where)
            notes.extend(text_notes)
            return text
        return item

    cleaned = walk(value, 1, "metadata")
    size = len(dumps(cleaned))
    if size > MAX_METADATA_BYTES:
        raise MetadataError(
            f"metadata is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES} bytes"
        )
    return cleaned, notes
