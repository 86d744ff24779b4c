"""The words that make a message about this service (`data/domain_words.yaml`).

The in_domain head learns "not about us" from the corpus's off-topic messages, which are few and
by one writer; alone, it read most bank and phone-operator tweets as ours. The guide's own test is
plainer — a message with nothing about pets, visits, executors or the service is not a hard case
of this service — so whether a message has any of these words is a feature column
(`FeatureBuilder.domain_weight`) that every head learns from. It is a feature, not a gate: a
one-star review with no such word («грубиян, не рекомендую») is still ours. The one gate is
narrower (`about_another_business`): a message that names a bank or an operator and nothing of
the service's work or people is read as not about us, whatever the head says.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from .data import load_yaml, read
from .lemmatize import Token

UNSURE = 0.3  # an answer "not about us" with at least this in_domain probability goes to review
# The review reason of a message read as not about us against its in_domain head
ANOTHER_BUSINESS = "names another business and nothing of the service's work"


@cache
def _groups() -> dict[str, frozenset[str]]:
    return {name: frozenset(words) for name, words in load_yaml(read("domain_words.yaml")).items()}


OWN = ("pets", "care", "service")  # words no other business uses so
WORK = ("care", "service")  # the service's own work and people: visits, walks, feeding, sitters


def mentions_service(tokens: Sequence[Token]) -> bool:
    """A word of the service's own, or a word it shares (a client, an order, a review) in a
    message that names no other business: «клиент умер в очереди в Сбербанке» is not ours."""
    groups = _groups()
    if any(any_word(tokens, groups[name]) for name in OWN):
        return True
    return any_word(tokens, groups["shared"]) and not names_other_business(tokens)


def names_other_business(tokens: Sequence[Token], words: frozenset[str] | None = None) -> bool:
    """Whether the message names a bank, a phone operator or what they sell (`words`, by
    default the whole `other_business` list). A form that is also an everyday word's («разбил
    банку», «корм в синей банке»: a jar) does not count."""
    groups = _groups()
    words = groups["other_business"] if words is None else words
    return any(
        (t.lemma in words or t.text in words) and t.text not in groups["also_everyday"]
        for t in tokens
    )


def about_another_business(tokens: Sequence[Token]) -> bool:
    """Names another business and nothing of the service's work or people: about that business,
    whatever else it says («черепаха мертва, и то живее, чем интернет от МТС»; «житель умер в
    очереди в Сбербанке»). The guide's test — nothing about visits, executors or the service —
    read strictly; a pet word alone does not make a complaint about an operator ours. The model
    reads such a message as not about the service, whatever its in_domain head says."""
    groups = _groups()
    return names_other_business(tokens, _only_theirs()) and not any(
        any_word(tokens, groups[name]) for name in WORK
    )


@cache
def _only_theirs() -> frozenset[str]:
    """The other businesses' words this service does not use too: once, not per message."""
    groups = _groups()
    return groups["other_business"] - groups["also_ours"]


def any_word(tokens: Sequence[Token], words: frozenset[str] | set[str]) -> bool:
    """Whether any token is one of `words`, by its lemma or as written."""
    return any(t.lemma in words or t.text in words for t in tokens)
