"""Who a phone-call note says called (`data/callers.yaml`).

The guide's reporter is who contacts us. In a chat or an e-mail the writer's own voice says it;
in a call note support staff retell the call in the third person and name the caller first
(«Ситтер Арина спрашивает…», «Звонила клиентка: ситтер не пришёл»). Out of writer, the reporter
head misread 186 of the corpus's 1,428 call notes, and in 182 of them the first person the note
names was the caller. Which side that first person is on is a feature column (two, one per side;
`FeatureBuilder.caller_weight`), not a rule: a note may open with someone else.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from .data import load_yaml, read
from .lemmatize import Token

FIRST_WORDS = 12  # the caller is named among a note's first words
SIDES = ("executor", "client")


@cache
def _sides() -> dict[str, str]:
    words = load_yaml(read("callers.yaml"))
    return {word: side for side in SIDES for word in words[side]}


def named_caller(tokens: Sequence[Token]) -> str | None:
    """The side ("executor" or "client") of the first person a call note names, or None."""
    sides = _sides()
    for token in tokens[:FIRST_WORDS]:
        side = sides.get(token.lemma) or sides.get(token.text)
        if side:
            return side
    return None
