"""Messages not about the service, and decisions that follow the category head (issue 13).

The real look-alikes in `../shared/external/` are read here, never copied: telecom and bank
complaint tweets must not page anyone or open a hard case; news of past pet incidents must not
page anyone either (the guide: a retold past event is not critical).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pettriage.classifier.labels import CATEGORIES
from pettriage.classifier.records import Message

from .conftest import CROSSCHECK, FIGURES, REPO

EXTERNAL = REPO.parent / "shared" / "external"
TWEETS = EXTERNAL / "sentirueval2016_telecom_bank_complaint_tweets.jsonl"
NEWS = EXTERNAL / "pet_incident_news_excerpts.jsonl"


def _texts(path) -> list[str]:
    assert path.exists(), f"{path} is missing: CI runs with ../shared beside the checkout"
    return [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def tweets(model):
    texts = _texts(TWEETS)
    assert len(texts) > 1000
    return model.map(Message(t) for t in texts)


def test_bank_and_telecom_tweets_are_not_hard_cases(tweets):
    hard = sum(d.is_hard for d in tweets) / len(tweets)
    assert hard <= 0.03, f"{hard:.1%} of the tweets called hard cases"


def test_bank_and_telecom_tweets_fire_no_safety_rule(tweets):
    assert [d.override.rule for d in tweets if d.safety_fired] == []


def test_bank_and_telecom_tweets_never_page(tweets):
    """Issue 13's goal: no `death` and no `critical`. Before `about_another_business`, four
    tweets broke it: news of a bank client dying, and a joke about a dead turtle."""
    deaths = [d for d in tweets if d.category == "death"]
    critical = [d for d in tweets if d.urgency == "critical"]
    FIGURES.append(
        f"tweets ({len(tweets)}): hard {sum(d.is_hard for d in tweets) / len(tweets):.1%}, "
        f"death {len(deaths)}, critical {len(critical)}, "
        f"not about us {sum(d.in_domain is False for d in tweets) / len(tweets):.1%}"
    )
    assert deaths == [] and critical == [], [d.id for d in deaths + critical]


def test_many_tweets_are_read_as_not_about_the_service(tweets):
    outside = sum(d.in_domain is False for d in tweets) / len(tweets)
    assert outside >= 0.35, f"only {outside:.1%} read as not about the service"


def test_news_of_past_incidents_pages_few(model):
    """The goal (issue 12) is at most one; today's bound, as a ratchet."""
    decisions = model.map(Message(t) for t in _texts(NEWS))
    critical = [d for d in decisions if d.urgency == "critical"]
    FIGURES.append(f"news excerpts ({len(decisions)}): critical {len(critical)}")
    assert len(critical) <= 3, [(d.category, d.override and d.override.rule) for d in critical]


def test_the_models_critical_on_a_story_told_later_stands_as_high(model):
    """News retold after the fact that the model alone calls critical: `high`, a hard case,
    sent to review with the words that date it (issue 12)."""
    decisions = model.map(Message(t) for t in _texts(NEWS))
    stood_down = [d for d in decisions if any("told later" in r for r in d.review_reasons)]
    assert stood_down, "no news excerpt was read as told later"
    for d in stood_down:
        assert d.urgency == "high" and d.is_hard and d.needs_review and not d.safety_fired
        assert d.probabilities["urgency"]["critical"] > 0  # the model's own view is kept


def test_a_message_about_the_service_is_in_domain(model):
    decision = model("ситтер не пришла, собака весь день одна, верните деньги")
    assert decision.in_domain is True and decision.is_hard


def test_an_answer_without_review_follows_the_category_head(model):
    """Unless a safety rule raised it or it is not about the service, an answer that does not go
    to review carries the category head's own first choice: a confident is_hard head never
    slips in a hard category the category head ranks below `other`."""
    records = [json.loads(line) for line in CROSSCHECK.read_text("utf-8").splitlines() if line]
    texts = (
        [r["text"] for r in records]
        + _texts(TWEETS)[:600]
        + ["кот чихает второй день после визита, это нормально?"]
    )
    checked = 0
    for decision in model.map(Message(t) for t in texts):
        if decision.needs_review or decision.safety_fired or decision.in_domain is False:
            continue
        p = decision.probabilities["category"]
        assert decision.category == max(CATEGORIES, key=p.__getitem__), decision
        checked += 1
    assert checked >= 200


def test_the_sneezing_cat_is_not_a_silent_hard_case(model):
    decision = model("кот чихает второй день после визита, это нормально?")
    p = decision.probabilities["category"]
    top = max(CATEGORIES, key=p.__getitem__)
    assert decision.needs_review or decision.category == top
    if decision.is_hard and not decision.needs_review:
        assert p[decision.category] > p["other"]
    assert np.isclose(sum(p.values()), 1.0, atol=1e-3)


@pytest.mark.parametrize(
    ("text", "ours"),
    [
        ("Клиент умер в очереди в Сбербанке", False),
        ("МТС опять списал деньги за тариф, отзыв напишу везде", False),
        ("Клиентка недовольна, ситтер опоздал", True),
        ("Клиент просит перенести заказ на пятницу", True),
        ("кошка не ест второй день", True),
        ("Выгульщик оставил дверь открытой, звоню оператору", True),
    ],
)
def test_a_shared_word_is_ours_only_without_another_business(text, ours):
    from pettriage.classifier.domain import mentions_service
    from pettriage.classifier.lemmatize import analyze

    assert mentions_service(analyze(text)) is ours


@pytest.mark.parametrize(
    ("text", "elsewhere"),
    [
        ("В отделении ВТБ сегодня умер пенсионер, пока ждал своей очереди", True),
        ("Мой хомяк и то быстрее грузит страницы, чем домашний интернет от Билайна", True),
        ("Тинькофф заблокировал карту, а кредит платить завтра", True),
        # a pet with the service's work or people is ours, whatever else is named
        ("Собаку не выгуляли, а мне ещё кредит платить за эту подписку!", False),
        ("Ситтер не пришла, дозвониться не могу, МТС опять не ловит", False),
        # a jar is not a bank; the service's own tariffs and operators are not another business
        ("Исполнитель разбил банку с кормом и не убрал", False),
        ("кошке дали корм из синей банки, хотя в карточке другой", False),
        ("почему вечерний тариф дороже? оператор не смог объяснить", False),
    ],
)
def test_a_message_about_another_business_is_read_as_such(text, elsewhere):
    from pettriage.classifier.domain import about_another_business
    from pettriage.classifier.features import prepare

    assert about_another_business(prepare([text])[0].tokens) is elsewhere


def test_a_death_at_a_bank_is_not_a_hard_case_of_ours(model):
    decision = model("В отделении ВТБ сегодня умер пенсионер, пока ждал своей очереди")
    assert decision.in_domain is False
    assert (decision.category, decision.is_hard) == ("other", False)
    assert decision.urgency in {"normal", "low"}


def test_a_pet_dying_while_the_owner_queued_at_a_bank_still_pages(model):
    """The gate leaves a safety rule its say: a pet dying now, with the sitter there, pages."""
    decision = model("Пока я стояла в очереди в Сбербанке, ситтер написала: кот не дышит!")
    assert decision.in_domain is True and decision.urgency == "critical"


def test_the_models_critical_stands_as_high_where_the_rules_read_a_joke_or_an_idiom(model):
    """Words the model reads as a death or a collapse, which the rules read as an idiom or after a
    vet's all-clear (`SafetyRules.dismissed`): `high`, for review, never a phone call."""
    texts = [
        "Кот весь вечер лежит как мёртвый, утомился от игр с ситтером",
        "Кот объелся и лежал пластом, ветеринар посмотрел, сказал просто переел",
    ]
    decisions = model.map(Message(t) for t in texts)
    for d in decisions:
        assert d.urgency != "critical" and not d.safety_fired, d.review_reasons
    # the model itself would have paged on the first: the stand-down is what keeps it quiet
    first = decisions[0]
    assert first.probabilities["urgency"]["critical"] >= 0.5, first.probabilities["urgency"]
    assert first.needs_review and any("safety rules read" in r for r in first.review_reasons)
