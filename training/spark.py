"""Spark as `complaints rescore` uses it: a quiet session that runs this very Python, and an
input read as numbered lines.

The session logs errors only, has no UI, keeps its scratch space where it is told, and on a
local master binds to loopback. Nothing here imports pyspark at import time, so that the
commands that do not use Spark never pay for it.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .partition import MESSAGE_COLUMNS

# Spark's own log: errors only. Spark's own loggers are named too, or Spark says that it set
# the level. Its JVM prints one line of its own at start (incubator modules).
LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.spark.name = org.apache.spark
logger.spark.level = error
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = error
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
"""


@contextmanager
def spark_session(master: str, scratch: Path) -> Iterator[tuple[object, bool]]:
    """(session, whether it is ours): the session already active in this process, which must
    run on `master`, or a new one, quiet, without its UI, its scratch space in `scratch`."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise RuntimeError(
            "complaints rescore needs pyspark: pip install -e '.[spark]' (make install)"
        ) from error
    with warnings.catch_warnings():
        # PySpark 4.3 warns that it does not yet support pandas 3; what is used here works.
        warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
        active = SparkSession.getActiveSession()
        if active is not None:
            running = active.sparkContext.master
            if running != master:
                raise RuntimeError(f"this process already runs Spark on {running}, not {master}")
            yield active, False
            return
        session = _start(master, scratch, SparkSession.builder)
        try:
            yield session, True
        finally:
            session.stop()


def _start(master: str, scratch: Path, builder):
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise RuntimeError("Spark needs Java 17 or later and there is no `java`: run `make java`")
    # Spark starts its workers with these; they must be this interpreter, with our packages.
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    (scratch / "tmp").mkdir(parents=True, exist_ok=True)
    log4j = scratch / "log4j2.properties"
    log4j.write_text(LOG4J)
    # The JVM only moves batches between Python and files here: with its quick compiler alone
    # (C1) Spark starts and runs a small job in about two thirds of the time, and 20,000
    # messages take no longer (measured on two cores).
    java = (
        f"-Dlog4j2.configurationFile={log4j.as_uri()} -Djava.io.tmpdir={scratch / 'tmp'} "
        "-XX:TieredStopAtLevel=1"
    )
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.local.dir": str(scratch / "local"),
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        "spark.driver.extraJavaOptions": java,
        "spark.executor.extraJavaOptions": java,
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.sql.session.timeZone": "UTC",
    }
    if master.startswith("local"):
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    builder = builder.master(master).appName("complaints-rescore")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def numbered_input(spark, source: Path, kind: str):
    """The input as (number, raw line) or (number, message columns as strings), numbered from
    1 in the file's order."""
    from pyspark.sql import functions as F

    if kind == "jsonl":
        # Raw bytes, split at "\n" only: the lines `complaints classify` reads.
        rows = spark.read.option("lineSep", "\n").text(str(source))
        rows = rows.select(F.col("value").cast("binary").alias("raw"))
    else:
        table = spark.read.parquet(str(source))
        if "text" not in table.columns:
            raise ValueError(
                f"{source} has no 'text' column (it has: {', '.join(table.columns)}); "
                f"expected {', '.join(MESSAGE_COLUMNS)}, 'text' required"
            )
        rows = table.select(*(_as_string(table, name) for name in MESSAGE_COLUMNS))
    return _with_numbers(rows)


def _with_numbers(rows):
    """`rows` with a `number` column, 1, 2, … in reading order: RDD.zipWithIndex done in the
    JVM (one small job counts each partition's rows), so no line passes through Python twice.
    A row's place in its partition is the lower 33 bits of `monotonically_increasing_id`."""
    from pyspark.sql import functions as F

    rows = rows.withColumn("_part", F.spark_partition_id())
    rows = rows.withColumn("_place", F.monotonically_increasing_id().bitwiseAND((1 << 33) - 1))
    counts = dict(rows.groupBy("_part").count().collect())
    offsets, total = [], 0
    for part in range(rows.rdd.getNumPartitions()):
        offsets.append(total)
        total += counts.get(part, 0)
    offset = F.element_at(F.array(*(F.lit(o) for o in offsets)), F.col("_part") + 1)
    number = (offset + F.col("_place") + 1).cast("bigint").alias("number")
    return rows.select(number, *(c for c in rows.columns if not c.startswith("_")))


def _as_string(table, name: str):
    """A Parquet column as the text a JSONL line would hold: times in ISO 8601, with their
    zone when they have one (the session's zone is UTC)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType, TimestampType

    if name not in table.columns:
        return F.lit(None).cast("string").alias(name)
    kind = table.schema[name].dataType
    if isinstance(kind, TimestampType):
        return F.date_format(name, "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX").alias(name)
    if isinstance(kind, TimestampNTZType):
        return F.date_format(name, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS").alias(name)
    return F.col(name).cast("string").alias(name)
