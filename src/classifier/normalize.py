"""Text normalization: small pure functions, each testable with a table.

The model sees the normalized text; the caller keeps the original for display and storage.
"""

from __future__ import annotations

import re
import unicodedata

URL_TOKEN = " urltoken "
EMAIL_TOKEN = " emailtoken "
PHONE_TOKEN = " phonetoken "

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Russian numbers in the forms people type: +7 900 000-12-34, 8(900)0001234, 89000001234.
_PHONE = re.compile(r"(?<!\w)(?:\+7|8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)")
# Four or more of the same letter ("ааааа", "!!!!!") say the same as three.
_REPEAT = re.compile(r"(\w|[!?.)(])\1{3,}")
_FOUR_SAME = re.compile(r"(.)\1\1\1", re.DOTALL)  # cheaper, and needed for a repeat
# Runs of spaces other than a single " " (which would be replaced by itself).
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_NEWLINES = re.compile(r"\s*\n\s*")
# Runs of non-space characters longer than this are cut into pieces of this length. spaCy's
# affix search is quadratic in the length of one token: 20,000 emoji took 40 s, «.,» × 10,000
# 80 s. Real words and joined phrases stay far below (33 characters at most in every text we
# hold: the corpus, the cross-check set, the external texts).
MAX_RUN = 64
_LONG_RUN = re.compile(rf"\S{{{MAX_RUN + 1},}}")
# Most messages hold no URL, e-mail, phone or repeat; a substring test says so far faster than
# the pattern's search, so each step first checks for what its pattern cannot match without.
_URL_MARKS = ("://", "ww", "wW", "Ww", "WW")  # «https?://» or «www.» in any case


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def lower(text: str) -> str:
    return text.lower()


def fold_yo(text: str) -> str:
    return text.replace("ё", "е")


def mask_urls(text: str) -> str:
    for mark in _URL_MARKS:
        if mark in text:
            return _URL.sub(URL_TOKEN, text)
    return text


def mask_emails(text: str) -> str:
    return _EMAIL.sub(EMAIL_TOKEN, text) if "@" in text else text


def mask_phones(text: str) -> str:
    return _PHONE.sub(PHONE_TOKEN, text) if "8" in text or "+7" in text else text


def fold_repeats(text: str) -> str:
    return _REPEAT.sub(r"\1\1\1", text) if _FOUR_SAME.search(text) else text


def split_long_runs(text: str) -> str:
    """A space after every `MAX_RUN` characters of a longer run of non-space characters."""
    if len(text) <= MAX_RUN:
        return text
    return _LONG_RUN.sub(
        lambda m: " ".join(m[0][i : i + MAX_RUN] for i in range(0, len(m[0]), MAX_RUN)), text
    )


def squeeze_spaces(text: str) -> str:
    """Runs of spaces become one space and runs of line breaks one break (they end sentences)."""
    text = _SPACES.sub(" ", text)
    return (_NEWLINES.sub("\n", text) if "\n" in text else text).strip()


# Order matters: URLs before e-mails (an URL may hold an @), both before phones.
STEPS = (
    nfkc,
    lower,
    fold_yo,
    mask_urls,
    mask_emails,
    mask_phones,
    fold_repeats,
    split_long_runs,
    squeeze_spaces,
)


def normalize(text: str) -> str:
    """NFKC, lower case, ё→е, URLs/e-mails/phones as placeholders, repeats folded, overlong runs
    cut, spaces squeezed.

    Emoji pass through untouched: the tokenizer keeps each as a token of its own.
    """
    for step in STEPS:
        text = step(text)
    return text
