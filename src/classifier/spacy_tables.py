"""What `lemmatize` reads of spaCy's Russian tokenizer besides tokenizing: its special cases
(«г.», «руб.», «т.е.», emoticons) and the token pairs on which a special case can straddle two
spans. Both are kept in `data/spacy_ru_tokenizer.json`, so that a message made of plain words
(«Ситтер не пришла, собака не встаёт») is read without importing spaCy at all: its import and
`spacy.blank("ru")` were 0.6 s of a 1.7 s cold start. spaCy is imported at the first span that is
not plain.

The file holds the tables of one spaCy version; with another one installed they are computed
from it instead (slower to start, never different). `tests/test_lemmatize.py` checks the file
against the installed spaCy; `python -c "from pettriage.classifier import spacy_tables as t;
t.write()"` writes it again.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import metadata
from itertools import pairwise
from pathlib import Path

FILE = "spacy_ru_tokenizer.json"


@cache
def tokenizer():
    import spacy

    return spacy.blank("ru").tokenizer


def computed() -> dict:
    """The tables, from the installed spaCy."""
    from spacy.tokenizer import Tokenizer

    full = tokenizer()
    bare = Tokenizer(  # the affix rules alone: how spaCy splits a special case to match it
        full.vocab,
        rules={},
        prefix_search=full.prefix_search,
        suffix_search=full.suffix_search,
        infix_finditer=full.infix_finditer,
        token_match=full.token_match,
        url_match=full.url_match,
    )
    pairs = set()
    for case in full.rules:
        pairs.update(pairwise(t.text for t in bare(case)))
    return {
        "spacy": metadata.version("spacy"),
        "special_cases": sorted(full.rules),
        "straddling_pairs": sorted(list(pair) for pair in pairs),
    }


@cache
def tables() -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """(special cases, straddling pairs): from the file when it is the installed spaCy's."""
    from .data import read

    data = json.loads(read(FILE))
    if data["spacy"] != metadata.version("spacy"):
        data = computed()
    return frozenset(data["special_cases"]), frozenset(map(tuple, data["straddling_pairs"]))


def write(path: Path | None = None) -> None:
    """The file again, from the installed spaCy (by default the packaged one)."""
    path = path or Path(__file__).with_name("data") / FILE
    path.write_text(json.dumps(computed(), ensure_ascii=False, indent=0) + "\n", "utf-8")
