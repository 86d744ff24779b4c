"""What `complaints rescore` runs on Spark's executors: numbered input lines in, answers out.

Each partition arrives as Arrow record batches of numbered raw JSONL lines, or of numbered
Parquet rows (`MESSAGE_COLUMNS` as strings), and leaves as record batches of `ANSWER_SCHEMA`:
the answer of every message that passes the CLI's own validation. The others go to the driver
through an accumulator, as (line number, what is wrong). Importing this module costs nothing
(Spark's Python workers import it to unpickle the task); the heavy imports happen once per
worker process, in `_model`.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace

MESSAGE_COLUMNS = ("id", "text", "channel", "received_at")  # what a Parquet input may hold
# One row of the output: `Decision.as_dict()` in Spark's types, in its order.
ANSWER_SCHEMA = """
    id STRING, is_hard BOOLEAN, category STRING, urgency STRING, reporter STRING,
    probabilities MAP<STRING, MAP<STRING, DOUBLE>>,
    heads MAP<STRING, STRUCT<label: STRING, probability: DOUBLE,
                             alternatives: ARRAY<STRUCT<label: STRING, probability: DOUBLE>>>>,
    needs_review BOOLEAN, review_reasons ARRAY<STRING>,
    explanation MAP<STRING, ARRAY<STRUCT<lemma: STRING, weight: DOUBLE>>>,
    safety STRUCT<fired: BOOLEAN, rule: STRING, matched: ARRAY<STRING>, action: STRING,
                  category: STRING, when: STRUCT<kind: STRING, words: ARRAY<STRING>,
                  reason: STRING>>,
    model_version STRING, read_as STRING, in_domain BOOLEAN
"""
ANSWER_COLUMNS = tuple(re.findall(r"(?:^|,)\s*(\w+) [A-Z]", ANSWER_SCHEMA))
_models: dict[str, object] = {}  # model folder → pyfunc model, in this worker process


class Problems:
    """An accumulator's type (`SparkContext.accumulator([], Problems())`): the lines not
    classified, as (number, what is wrong), from every task."""

    def zero(self, value: list) -> list:
        return []

    def addInPlace(self, left: list, right: list) -> list:  # the name Spark calls
        left.extend(right)
        return left


def score_partition(batches, model_name: str, kind: str, schema, problems):
    """`mapInArrow`'s function: one partition's batches, each answered as a whole, as Arrow
    batches of `schema` (`ANSWER_SCHEMA` in Arrow's types); the lines refused are added to the
    accumulator `problems`."""
    import pyarrow as pa

    model = _model(model_name)
    for batch in batches:
        answers, refused = score_batch(model, batch, kind)
        if refused:
            problems.add(refused)
        yield pa.RecordBatch.from_pylist(answers, schema=schema)


def _model(model_name: str):
    """The pyfunc model `addFile` shipped, loaded at most once per partition: Spark reuses its
    Python workers, and each keeps the last model it loaded."""
    from pyspark import SparkFiles

    path = SparkFiles.get(model_name)
    if path not in _models:
        import mlflow.pyfunc

        _models.clear()

        # MLflow wishes for type hints on `predict` once in each worker, through a "once"
        # filter of its own: warnings are recorded here, and all others shown as usual.
        with warnings.catch_warnings(record=True) as caught:
            _models[path] = mlflow.pyfunc.load_model(path)
        for warning in caught:
            if "Add type hints" not in str(warning.message):
                warnings.showwarning(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
    return _models[path]


def score_batch(model, batch, kind: str) -> tuple[list[dict], list[tuple[int, str]]]:
    """(the answers, [(line number, what is wrong)]) for an Arrow batch of numbered lines."""
    from pettriage.classifier.records import InvalidInput, Message

    numbers = batch.column("number").to_pylist()
    if kind == "jsonl":
        raws = batch.column("raw").to_pylist()
        parsed = [parse_line(raw, n) for raw, n in zip(raws, numbers, strict=True)]
    else:
        rows = batch.select(list(MESSAGE_COLUMNS)).to_pylist()
        parsed = [parse_row(row, n) for row, n in zip(rows, numbers, strict=True)]
    messages = [m for m in parsed if isinstance(m, Message)]
    # The wrapper's own `predict`: MLflow's would drop every column but the signature's `text`.
    answers = model.unwrap_python_model().predict(None, pyfunc_input(messages)) if messages else []
    if answers and (unknown := answers[0].keys() - set(ANSWER_COLUMNS)):
        raise RuntimeError(f"the answer has fields ANSWER_SCHEMA lacks: {sorted(unknown)}")
    refused = [
        (number, str(item))
        for number, item in zip(numbers, parsed, strict=True)
        if isinstance(item, InvalidInput)
    ]
    return answers, refused


def parse_line(raw: bytes, number: int):
    """A JSONL line as `complaints classify` reads it; None for a blank line."""
    from pettriage.classifier.jsonl import parse_line

    return parse_line(raw, number) if raw.strip() else None


def parse_row(row: dict, number: int):
    """A Parquet row as `complaints classify` would read it as a JSONL line."""
    from pettriage.classifier.records import InvalidInput, message_from_dict

    try:
        message = message_from_dict({k: v for k, v in row.items() if v is not None})
    except InvalidInput as error:
        return error
    return message if message.id else replace(message, id=f"row-{number}")


def pyfunc_input(messages):
    """Messages as the pyfunc model reads them (`pyfunc.MESSAGE_FIELDS`)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "id": [m.id for m in messages],
            "text": [m.text for m in messages],
            "channel": [m.channel for m in messages],
            "received_at": [m.received_at.isoformat() if m.received_at else None for m in messages],
        },
        dtype=object,
    )
