"""Behavioural tests of the trained model: what a quality team expects whatever the weights."""

import gc

import numpy as np
import pytest

from pettriage.classifier.dataset import load_corpus
from pettriage.classifier.features import prepare
from pettriage.classifier.labels import HEAD_LABELS, URGENCIES
from pettriage.classifier.records import Message
from pettriage.classifier.safety import SafetyRules

from .conftest import CORPUS, DECISION_KEYS

RANK = {u: i for i, u in enumerate(URGENCIES)}  # 0 = critical


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("собака отравилась на прогулке, её рвёт", "собака не отравилась, всё хорошо, спасибо"),
        ("кота сбила машина, он лежит у дороги", "кота чуть не сбила машина, но всё обошлось"),
        ("выгульщик опоздал на два часа, я в ярости", "выгульщик опоздал, но ничего страшного"),
        ("у меня пропали деньги после визита ситтера", "деньги не пропали, нашла их в сумке"),
    ],
)
def test_negation_does_not_raise_urgency(model, text, negated):
    assert RANK[model(negated).urgency] >= RANK[model(text).urgency]


@pytest.mark.parametrize(
    ("clean", "typo"),
    [
        ("кошка отравилась, её рвёт", "кошка атравилась, её рвёт"),
        ("ситтер разбил вазу и не сказал", "ситер розбил вазу и не сказал"),
        (
            "выгульщик не пришёл, ждали весь вечер, верните деньги",
            "выгульщик не пришол ждали весь вечер верните деньги",
        ),
        (
            "пропало золотое кольцо после визита ситтера",
            "пропало золотое кольцо после визита ситера",
        ),
    ],
)
def test_typo_does_not_change_category(model, clean, typo):
    assert model(typo).category == model(clean).category


def test_batch_equals_single(model):
    texts = ["кот умер во время визита", "можно перенести прогулку?", "ситтер нагрубил мне"]
    batch = model.map([Message(t) for t in texts])
    assert [d.as_dict() for d in batch] == [model(t).as_dict() for t in texts]


def test_decision_shape(model):
    d = model("Выгульщик привёл чужого человека в квартиру, без моего разрешения!", "chat")
    out = d.as_dict()
    assert out.keys() >= DECISION_KEYS
    for head, labels in HEAD_LABELS.items():
        assert list(out["probabilities"][head]) == list(labels)
        assert sum(out["probabilities"][head].values()) == pytest.approx(1, abs=0.01)
        assert len(out["heads"][head]["alternatives"]) == min(2, len(labels) - 1)
    assert out["explanation"]["category"], "a decision names the words that drove it"
    assert all(w["weight"] > 0 for w in out["explanation"]["category"])


def test_safety_override_reports_the_model_beside_it(model):
    d = model("пишу из квартиры клиента: собака подавилась костью и задыхается!!", "chat")
    assert d.override is not None and d.override.rule == "breathing"
    assert d.urgency == "critical" and d.is_hard
    assert d.category in {"health_harm", "death"}
    assert d.probabilities["urgency"]["critical"] < 1.0  # the model's own numbers are kept


@pytest.mark.parametrize(
    ("text", "category", "reporter"),
    [
        ("меня укусила собака клиента, рука в крови", "health_harm", "executor"),
        (
            "в квартире клиента был посторонний мужчина, пока я кормила кота",
            "unauthorized_entry",
            "executor",
        ),
        ("Здравствуйте, хочу перенести прогулку со среды на четверг", "other", "client"),
    ],
)
def test_guide_examples(model, text, category, reporter):
    d = model(text)
    assert (d.category, d.reporter) == (category, reporter)


def test_hypothetical_question_is_not_critical(model):
    d = model("что делать, если собака съест шоколад?")
    assert d.urgency != "critical" and d.override is None


def test_one_product_for_all_heads_equals_each_heads_own(model):
    texts = ["кот умер во время визита", "можно перенести прогулку?", "ситтер нагрубил мне"]
    X = model.features.transform(prepare(texts))
    together = model.probabilities(X)
    for name, head in model.heads.items():
        np.testing.assert_array_equal(together[name], head.predict_proba(X))


def test_the_heads_weights_are_held_once(model):
    """After the first product each head's weights are a view of the stacked array, not a copy
    beside it (20 MB of a worker), and a model made from this one finds the same array."""
    stacked, bounds = model._stacked_weights()
    for head, (start, end) in zip(model.heads.values(), bounds, strict=True):
        assert head.weights_.base is stacked
        np.testing.assert_array_equal(head.weights_, stacked[:, start:end])
    assert model.with_version("copy")._stacked_weights()[0] is stacked
    # a head given new weights is stacked again, with them
    head = next(iter(model.heads.values()))
    own = np.array(head.weights_)
    head.weights_ = own
    again, _ = model._stacked_weights()
    assert again is not stacked and head.weights_.base is again
    np.testing.assert_array_equal(again, stacked)


def test_batch_explanations_equal_one_row_at_a_time(model):
    texts = ["собака отравилась на прогулке, её рвёт", "выгульщик опоздал на два часа"]
    X = model.features.transform(prepare(texts))
    rows = model._explanations(X, "category", ["health_harm", "critical_lateness"])
    assert rows == [
        model.explain(X, 0, "category", "health_harm"),
        model.explain(X, 1, "category", "critical_lateness"),
    ]
    assert rows[0] and all(w["weight"] > 0 for row in rows for w in row)


def test_safety_check_decides_as_its_debug_view():
    """`check` judges only the rules a message has first words for; `explain` judges all."""
    rules = SafetyRules.load()
    texts = [r["text"] for r in load_corpus(CORPUS)[::3]] + [
        "кот не дышит",
        "кот не дышит, шучу",
        "у меня сердце остановилось, когда увидела счёт",
        "кот проглотил иголку",
    ]
    for item in prepare(texts):
        fired = next((v for v in rules.explain(item) if v.fired), None)
        override = rules.check(item)
        expected = (fired.rule, fired.matched) if fired else None
        assert ((override.rule, override.matched) if override else None) == expected, item.text


def test_a_batch_runs_without_the_cycle_collector_and_gives_it_back(model):
    """A batch of 300 messages makes far more than 700 objects, which would wake the collector
    dozens of times; paused, it runs at most once, when it is resumed with the batch's objects
    due, and it is on again afterwards (and off if it was off)."""
    batch = [Message(r["text"]) for r in load_corpus(CORPUS)[:300]]
    collections = []

    def count(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        assert gc.isenabled()
        model.map(batch)
        assert len(collections) <= 1 and gc.isenabled()
        gc.disable()
        model.map(batch[:5])
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.callbacks.remove(count)
