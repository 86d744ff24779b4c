"""Who a phone-call note says called: a feature column for the reporter (issue 13)."""

import pytest

from pettriage.classifier.callers import named_caller
from pettriage.classifier.dataset import load_corpus
from pettriage.classifier.features import FeatureBuilder, prepare

from .conftest import CORPUS


@pytest.mark.parametrize(
    ("note", "side"),
    [
        ("Ситтер Арина спрашивает, можно ли взять два заказа в один день", "executor"),
        ("Выгульщица Рая звонила: собака клиента укусила её за руку", "executor"),
        ("Звонила клиентка: ситтер не пришёл, собака весь день одна", "client"),
        ("Звонок от клиентки, жалуется на исполнителя", "client"),
        ("Муж клиентки звонил, ругался, что кота не покормили", "client"),  # family: the client
        ("Кл. Наталья спрашивала про страховку", "client"),
        ("Позвонили, спросили цены на выгул, ответила", None),
        (
            "Звонок в 14:20, долго не могли понять о чём речь, связь плохая, потом "
            "оказалось что это ситтер",
            None,  # named too late to be the note's caller
        ),
    ],
)
def test_the_caller_is_the_first_person_a_note_names(note, side):
    assert named_caller(prepare([note])[0].tokens) == side


@pytest.fixture(scope="module")
def builder():
    records = load_corpus(CORPUS)[::9]
    return FeatureBuilder().fit(prepare([r["text"] for r in records]))


def test_only_a_call_note_gets_the_caller_columns(builder):
    text = "Ситтер Арина звонила: клиентка не оставила ключи"
    note, chat = prepare([text, text], ["call_note", "chat"])
    columns = slice(-2, None)
    assert builder.transform([note])[:, columns].toarray().tolist() == [[1.0, 0.0]]
    assert builder.transform([chat])[:, columns].toarray().tolist() == [[0.0, 0.0]]


def test_a_model_file_from_before_the_columns_reads_without_them(builder):
    state, arrays = builder.fitted_state()
    del state["params"]["caller_weight"]
    old = FeatureBuilder.from_fitted_state(state, arrays)
    item = prepare(["Ситтер Арина звонила"], ["call_note"])
    assert old.transform(item).shape[1] == builder.transform(item).shape[1] - 2
