"""The words that make a message about this service (`data/domain_words.yaml`).

The in_domain head learns "not about us" from the corpus's off-topic messages, which are few and
by one writer; alone, it read most bank and phone-operator tweets as ours. The guide's own test is
plainer — a message with nothing about pets, visits, executors or the service is not a hard case
of this service — so whether a message has any of these words is a feature column
(`FeatureBuilder.domain_weight`) that every head learns from. It is a feature, not a gate: a
one-star review with no such word («грубиян, не рекомендую») is still ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from .data import load_yaml, read
from .lemmatize import Token

UNSURE = 0.3  # an answer "not about us" with at least this in_domain probability goes to review


@cache
def _groups() -> dict[str, frozenset[str]]:
    return {name: frozenset(words) for name, words in load_yaml(read("domain_words.yaml")).items()}


OWN = ("pets", "care", "service")  # words no other business uses so


def mentions_service(tokens: Sequence[Token]) -> bool:
    """A word of the service's own, or a word it shares (a client, an order, a review) in a
    message that names no other business: «клиент умер в очереди в Сбербанке» is not ours."""
    groups = _groups()
    if any(any_word(tokens, groups[name]) for name in OWN):
        return True
    return any_word(tokens, groups["shared"]) and not any_word(tokens, groups["other_business"])


def any_word(tokens: Sequence[Token], words: frozenset[str] | set[str]) -> bool:
    """Whether any token is one of `words`, by its lemma or as written."""
    return any(t.lemma in words or t.text in words for t in tokens)
