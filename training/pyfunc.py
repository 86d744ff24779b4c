"""The MLflow pyfunc wrapper around our own artifact, so the registry serves a list of texts.

`mlflow.pyfunc.load_model("models:/complaint-classifier@champion").predict(["текст", …])`
returns one decision dict per text. The wrapper's own `predict` also takes the `id`, `channel`
and `received_at` (ISO 8601 with a zone) that `complaints classify` reads from a JSONL line, as
columns beside `text`, and then answers as the CLI does (the channel is a feature, and dates in
the text are read against `received_at`): `complaints rescore` calls it through
`unwrap_python_model()`, since MLflow's `predict` keeps only the columns the signature names,
and the signature has one unnamed string column so that a plain list of texts stays valid.
Our own npz of plain arrays and its sidecar are the artifacts (a few MB); loading them runs no
code. Here the file is checked against its sidecar's SHA-256 only: the service checks the
registry's (`registry.expected_sha256`).
"""

from __future__ import annotations

import mlflow.pyfunc

# The columns read besides `text`; absent ones, None and NaN (pandas' missing value) are None.
MESSAGE_FIELDS = ("id", "channel", "received_at")


def _signature():
    """Texts in (a `text` column, or a list of strings), one decision per text out: the
    scalars typed, the nested parts (probabilities, heads, explanation, safety) as objects."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, DataType, Map, Schema

    nested = ("probabilities", "heads", "explanation", "safety")
    return ModelSignature(
        # One string column, unnamed: a plain list of texts is valid, as is a `text` column.
        inputs=Schema([ColSpec(DataType.string)]),
        outputs=Schema(
            [
                ColSpec(DataType.string, "id", required=False),
                ColSpec(DataType.boolean, "is_hard"),
                ColSpec(DataType.string, "category"),
                ColSpec(DataType.string, "urgency"),
                ColSpec(DataType.string, "reporter"),
                ColSpec(Map(Map(DataType.double)), "probabilities"),
                *(ColSpec(AnyType(), name) for name in nested[1:]),
                ColSpec(DataType.boolean, "needs_review"),
                ColSpec(AnyType(), "review_reasons"),
                ColSpec(DataType.string, "model_version"),
                ColSpec(DataType.string, "read_as", required=False),
                ColSpec(DataType.boolean, "in_domain", required=False),
            ]
        ),
    )


SIGNATURE = _signature()


class ComplaintPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from pettriage.classifier.artifact import load
        from pettriage.classifier.safety import SafetyRules

        self.model, self.meta = load(context.artifacts["model"], SafetyRules.load())

    def predict(self, context, model_input, params=None) -> list[dict]:
        return [d.as_dict() for d in self.model.map(_messages(model_input))]


def _messages(model_input) -> list:
    """Messages from a list of strings, or from a DataFrame/dict with a `text` column (else its
    first column is the text) and, where present, the `MESSAGE_FIELDS` columns."""
    from pettriage.classifier.records import Message, parse_received_at

    if hasattr(model_input, "columns"):
        names = list(model_input.columns)
        if "text" not in names:
            return [Message(text=str(t)) for t in model_input[names[0]]]
        columns = {
            name: model_input[name].tolist() for name in ("text", *MESSAGE_FIELDS) if name in names
        }
    elif isinstance(model_input, dict):
        columns = {
            name: list(model_input[name])
            for name in ("text", *MESSAGE_FIELDS)
            if name in model_input
        }
    else:
        return [Message(text=str(t)) for t in model_input]
    texts = columns.pop("text")
    given = {name: [_present(v) for v in values] for name, values in columns.items()}
    none = [None] * len(texts)
    return [
        Message(
            text=str(text),
            channel=channel,
            id=None if message_id is None else str(message_id),
            received_at=parse_received_at(received_at),
        )
        for text, message_id, channel, received_at in zip(
            texts,
            given.get("id", none),
            given.get("channel", none),
            given.get("received_at", none),
            strict=True,
        )
    ]


def _present(value):
    """None for a missing value: None, or the NaN, NaT or NA that pandas put in a column's gap."""
    import pandas as pd

    return None if pd.api.types.is_scalar(value) and pd.isna(value) else value
