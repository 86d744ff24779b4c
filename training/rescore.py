"""Re-scoring an archive on Spark: `complaints rescore --input IN --output OUT.parquet`.

The registry's champion (or `--model-uri`) answers every message of a JSONL or Parquet file,
and the answers go to a Parquet folder, one row per message in the input's order: its id and
every field of `complaints classify`'s JSON line, equal to it field by field
(`tests/test_rescore.py`). The Spark session and the reading are `spark.py`'s; what runs on the
executors is `partition.py`.

- **`mapInArrow` over the pyfunc model**, not `mlflow.pyfunc.spark_udf`. A partition hands the
  model whole messages (`id`, `text`, `channel`, `received_at`: the channel is a feature and
  dates are read against `received_at`, so the text alone would answer differently from the
  CLI) through the wrapper's own `predict`, since MLflow's keeps only the signature's `text`;
  the model is loaded at most once per partition (once per Python worker, which Spark reuses).
  A `spark_udf` returns one Spark type per call, converted from the model's output by MLflow's
  own rules: our maps of maps and structs would be at the mercy of that conversion, and a line
  the CLI refuses could not come back as the reason instead of an answer. `mapInPandas` is the
  same with a pandas DataFrame on the way out, and PySpark 4.3 converts its nested columns
  value by value in Python (0.9 s for 5,000 answers, against 0.08 s for
  `pyarrow.RecordBatch.from_pylist` of the same dicts); it also warns that it does not support
  pandas 3 yet, and failed here on a pandas 3 string column that Arrow held in chunks.
- **Lines are validated as the CLI does** (`classifier.jsonl.parse_line`, on each line's raw
  bytes): a line that is not UTF-8 or not JSON, an empty text, an unknown channel are reported as
  `IN:LINE: what is wrong` and left out, and a line without an id gets `line-N`. So JSONL is
  read as numbered raw lines, not with Spark's JSON reader. Parquet rows are numbered in reading
  order (`row-N` for a missing id); timestamps with a zone are read as ISO 8601.
- **Column types an analyst can query** (`partition.ANSWER_SCHEMA`): scalars as columns; the
  per-head parts as maps keyed by head (`probabilities['category']['theft']`,
  `heads['urgency'].alternatives[0].label`, `explanation['category'][0].lemma`), since heads and
  label sets belong to the model version and a map needs no schema change when they do;
  `safety` as a struct (`safety.fired`, `safety.rule`, `safety.when.kind`). JSON strings would
  have been simpler to write and no one could filter on them without parsing. `answer_of` turns
  a row back into the CLI's dict.
- The model is downloaded once, on the driver, checked against the SHA-256 the registry recorded
  for its version, and shipped to the executors with `addFile`. Spark's workers run this very
  Python (`sys.executable`, so a cluster's executors need the same venv at the same path) and
  reach no network: the model comes from the driver, and a local master binds to loopback.
  Spark's scratch space is a folder beside the output, removed at the end.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from pettriage.classifier import artifact
from pettriage.config import Settings

from .partition import ANSWER_SCHEMA, Problems, score_partition
from .registry import RegistryRefusal, champion_version, client, expected_sha256
from .spark import numbered_input, spark_session
from .tracking import REGISTERED_MODEL, configure

KINDS = {".jsonl": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True)
class Rescored:
    """What a re-scoring did; `seconds` runs from reading the input to the written output."""

    count: int
    seconds: float
    master: str
    model_uri: str
    model_version: str
    output: Path
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line or row, problem)
    start_seconds: float = 0.0  # starting Spark, when this run started it

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        started = f"; Spark started in {self.start_seconds:.1f} s" if self.start_seconds else ""
        return (
            f"rescored {self.count} messages in {self.seconds:.1f} s: {self.rate:.0f} messages/s "
            f"on {self.master}, model v{self.model_version} ({self.model_uri}) → {self.output}"
            f"{started}"
        )


def rescore(
    settings: Settings,
    source: Path,
    output: Path,
    master: str = "local[*]",
    model_uri: str | None = None,
    overwrite: bool = False,
) -> Rescored:
    """Answer every message of `source` with the model and write the answers to `output`. Runs
    on the Spark session already active in this process if there is one (on `master`), else on
    one of its own, stopped at the end."""
    from .jobs import quiet_mlflow

    kind = input_kind(source)
    check_output(output, overwrite)
    quiet_mlflow()
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".rescore-", dir=output.parent)).resolve()
    try:
        uri, version = resolve_model(settings, model_uri)
        model_dir = fetch_model(uri, version, scratch / f"{scratch.name}-model")
        meta = artifact.read_metadata(model_dir / "artifacts" / "model.npz")
        started = time.perf_counter()
        with spark_session(master, scratch) as (spark, own):
            start_seconds = time.perf_counter() - started if own else 0.0
            began = time.perf_counter()
            count, invalid = _run(spark, source.resolve(), kind, model_dir, output.resolve())
            seconds = time.perf_counter() - began
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    model_version = str(meta.get("model_version", version))
    return Rescored(count, seconds, master, uri, model_version, output, invalid, start_seconds)


def input_kind(source: Path) -> str:
    if not source.exists():
        raise FileNotFoundError(f"no input at {source}")
    kind = KINDS.get(source.suffix.lower())
    if kind is None:
        raise ValueError(
            f"cannot tell how to read {source}: expected a name ending in "
            f"{' or '.join(KINDS)}, got {source.suffix or 'no suffix'!r}"
        )
    return kind


def check_output(output: Path, overwrite: bool) -> None:
    """Only an earlier output is replaced, and only when asked: Spark's overwrite deletes the
    whole folder."""
    if not output.exists():
        return
    if not overwrite:
        raise ValueError(f"{output} exists; remove it or pass --overwrite")
    ours = re.compile(r"(part-.*\.parquet|_SUCCESS|\..*\.crc)")
    if not output.is_dir() or any(not ours.fullmatch(p.name) for p in output.iterdir()):
        raise ValueError(
            f"{output} is not the Parquet folder of an earlier rescore; it is left alone: "
            "name another --output"
        )


# -- the model -----------------------------------------------------------------------------------
def resolve_model(settings: Settings, model_uri: str | None) -> tuple[str, str | None]:
    """The URI to load, and the registered version it names (None for a run or a path)."""
    configure(settings)
    mlflow_client = client()
    if model_uri is None:
        version = champion_version(mlflow_client)
        if version is None:
            raise RegistryRefusal(
                "the registry has no champion yet; train one with `complaints train`, "
                "or name a model with --model-uri"
            )
        return f"models:/{REGISTERED_MODEL}/{version}", version
    named = re.fullmatch(rf"models:/{REGISTERED_MODEL}(?:/(\d+)|@([\w-]+))", model_uri)
    if named is None:
        return model_uri, None
    version = named[1] or str(
        mlflow_client.get_model_version_by_alias(REGISTERED_MODEL, named[2]).version
    )
    return f"models:/{REGISTERED_MODEL}/{version}", version


def fetch_model(uri: str, version: str | None, target: Path) -> Path:
    """The pyfunc model's folder on this disk; a registered version's model file must have the
    SHA-256 the registry recorded for it."""
    import mlflow

    target.mkdir(parents=True)
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(target)))
    npz = local / "artifacts" / "model.npz"
    if not (local / "MLmodel").exists() or not npz.exists():
        raise ValueError(
            f"{uri} is not a complaint-classifier pyfunc model (no MLmodel, model.npz)"
        )
    if version is not None:
        artifact.verify(npz, expected_sha256(client(), version))
    return local


def _run(spark, source: Path, kind: str, model_dir: Path, output: Path):
    """(answers written, [(line, problem)]) for one input on a session: one pass, from the
    input to the Parquet folder."""
    from functools import partial

    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import DataType

    spark.sparkContext.addFile(str(model_dir), recursive=True)
    numbered = numbered_input(spark, source, kind)
    # At least two partitions a core, each a range of lines, so that the cores share the work
    # and the output keeps the input's order.
    wanted = 2 * spark.sparkContext.defaultParallelism
    if numbered.rdd.getNumPartitions() < wanted:
        numbered = numbered.repartitionByRange(wanted, "number").sortWithinPartitions("number")
    schema = DataType.fromDDL(ANSWER_SCHEMA)
    problems = spark.sparkContext.accumulator([], Problems())
    score = partial(
        score_partition,
        model_name=model_dir.name,
        kind=kind,
        schema=to_arrow_schema(schema),
        problems=problems,
    )
    answers = numbered.mapInArrow(score, schema)
    answers.write.mode("overwrite").parquet(str(output))  # `check_output` allowed it
    count = spark.read.parquet(str(output)).count()  # from the files' footers
    return count, sorted(dict(problems.value).items())  # a task run twice reports twice


# -- reading the output --------------------------------------------------------------------------
def answer_of(row: dict) -> dict:
    """A row of the output as pyarrow reads it (`Table.to_pylist`) in the shape of the CLI's
    JSON line (`Decision.as_dict`): maps back to dicts, and the safety of a message no rule
    fired on back to `{"fired": False}`."""
    answer = dict(row)
    answer["probabilities"] = {head: dict(p) for head, p in _items(row["probabilities"])}
    answer["heads"] = dict(_items(row["heads"]))
    answer["explanation"] = dict(_items(row["explanation"]))
    if not row["safety"]["fired"]:
        answer["safety"] = {"fired": False}
    return answer


def _items(value) -> list:
    return list(value.items()) if isinstance(value, dict) else list(value)


def read_answers(path: Path) -> list[dict]:
    """Every answer of an output folder, in the CLI's shape, in the input's order."""
    import pyarrow.parquet as pq

    return [answer_of(row) for row in pq.read_table(path).to_pylist()]
