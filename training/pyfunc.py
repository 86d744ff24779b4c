"""The MLflow pyfunc wrapper around our own artifact, so the registry serves a list of texts.

`mlflow.pyfunc.load_model("models:/complaint-classifier@champion").predict(["текст", …])`
returns one decision dict per text. Our own npz of plain arrays and its sidecar are the
artifacts (a few MB); loading them runs no code. Here the file is checked against its sidecar's
SHA-256 only: the service checks the registry's (`registry.expected_sha256`).
"""

from __future__ import annotations

import mlflow.pyfunc


class ComplaintPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from pettriage.classifier.artifact import load
        from pettriage.classifier.safety import SafetyRules

        self.model, self.meta = load(context.artifacts["model"], SafetyRules.load())

    def predict(self, context, model_input, params=None) -> list[dict]:
        from pettriage.classifier.records import Message

        texts = _texts(model_input)
        return [d.as_dict() for d in self.model.map(Message(text=t) for t in texts)]


def _texts(model_input) -> list[str]:
    """A list of strings, or a DataFrame/dict with a `text` column."""
    if hasattr(model_input, "columns"):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return [str(t) for t in model_input[column]]
    if isinstance(model_input, dict):
        return [str(t) for t in model_input["text"]]
    return [str(t) for t in model_input]
