"""The pipeline's own speed figures: the command line on a file in one and in two processes,
the batch and one-message paths in-process, the cold start, and (with --callgrind) the
instructions each message costs.

    .venv/bin/python benchmarks/pipeline_bench.py [--model PATH] [--messages 10000] [--callgrind]
        [--markdown benchmarks/pipeline.md]

Messages are the texts of data/annotated and of ../shared/external (support messages, news
excerpts, restaurant reviews, bank tweets; read here and never stored in the repo), shuffled and
cycled to --messages, written to a temporary file. The model is a model file, by default the
champion of ./models (`make model`). Times are wall-clock on a shared two-core machine: read
them beside each other, not alone. Callgrind's instruction counts do not move with the
neighbours: a run classifies the messages twice (the first pass fills the caches, as a service's
traffic does) and a run without the second pass is subtracted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    *sorted((ROOT / "data" / "annotated").glob("*.jsonl")),
    *sorted((ROOT.parent / "shared" / "external").glob("*.jsonl")),
]
COMPLAINTS = Path(sys.executable).with_name("complaints")
COLD_TEXT = "Ситтер не пришла, собака весь день одна и не встаёт, что делать?"
STARTUP_LINES = 100  # a run this long stands for the start-up, subtracted from the long one


def messages(count: int) -> list[dict]:
    texts = [
        json.loads(line)["text"]
        for path in SOURCES
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]
    random.Random(0).shuffle(texts)
    cycled = (texts * (count // len(texts) + 1))[:count]
    return [{"id": f"m{i}", "text": text} for i, text in enumerate(cycled)]


def measured(command: list[str], cores: str | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak memory MB of the process and the children it waited for, stderr)."""
    if cores:
        command = ["taskset", "-c", cores, *command]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"{command} failed:\n{err}")
    return wall, usage.ru_maxrss / 1024, err


def inputs(folder: Path, rows: list[dict]) -> dict[int, Path]:
    """JSONL files of the first `STARTUP_LINES` messages and of all of them, by length."""
    files = {}
    for count in (STARTUP_LINES, len(rows)):
        files[count] = folder / f"in-{count}.jsonl"
        with files[count].open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[:count])
    return files


def cli_rate(model: Path, folder: Path, files: dict[int, Path], jobs: int) -> tuple[float, float]:
    """(messages/s beyond the start-up, peak MB) of `complaints classify --input`."""
    walls, peak = [], 0.0
    for source in files.values():
        command = [str(COMPLAINTS), "classify", "--input", str(source), "--model", str(model)]
        command += ["--output", str(folder / "out.jsonl"), "--jobs", str(jobs)]
        wall, peak, _ = measured(command, cores="0" if jobs == 1 else None)
        walls.append(wall)
    short, long = files
    return (long - short) / (walls[1] - walls[0]), peak


def in_process(model_path: Path, rows: list[dict]) -> dict:
    """Batch rates (caches empty, then full) and one-message latencies, on one core."""
    os.sched_setaffinity(0, {0})
    from pettriage.classifier import load_classifier
    from pettriage.classifier.records import Message

    model = load_classifier(model_path)
    batch = [Message(r["text"], id=r["id"]) for r in rows]
    rates = []
    for _ in range(2):
        started = time.perf_counter()
        for i in range(0, len(batch), 1_000):
            model.map(batch[i : i + 1_000])
        rates.append(len(batch) / (time.perf_counter() - started))
    single = []
    for message in batch[:1_000]:
        started = time.perf_counter()
        model.map([message])
        single.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(single, n=100)
    return {"cold": rates[0], "warm": rates[1], "p50": cuts[49], "p99": cuts[98]}


def cold_start(model: Path) -> tuple[float, float]:
    runs = [
        measured([str(COMPLAINTS), "classify", "--model", str(model), "--text", COLD_TEXT])
        for _ in range(3)
    ]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


CALLGRIND_SCRIPT = """
import sys
from pettriage.classifier import load_classifier
from pettriage.classifier.records import Message
model = load_classifier(sys.argv[1])
texts = [line for line in open(sys.argv[2], encoding="utf-8").read().split("\\x00") if line]
batch = [Message(t) for t in texts]
model.map(batch)
if sys.argv[3] == "batch":
    model.map(batch)
elif sys.argv[3] == "single":
    for m in batch:
        model.map([m])
"""


def instructions(model: Path, folder: Path, rows: list[dict], mode: str) -> int:
    texts = folder / "callgrind.txt"
    texts.write_text("\x00".join(r["text"] for r in rows), encoding="utf-8")
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, "-c", CALLGRIND_SCRIPT, str(model), str(texts), mode]
    _, _, err = measured(command)
    return int(re.search(r"Collected : (\d+)", err)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--callgrind", action="store_true", help="also count instructions")
    parser.add_argument("--callgrind-messages", type=int, default=300)
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    model = args.model
    if model.is_dir():  # the champion of a models folder
        from pettriage.classifier.artifact import champion_version, model_path

        model = model_path(model, champion_version(model))
    rows = messages(args.messages)
    print(f"{len(rows):,} messages, model {model}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = inputs(folder, rows)
        one, one_mb = cli_rate(model, folder, files, jobs=1)
        two, two_mb = cli_rate(model, folder, files, jobs=2)
        cold, cold_mb = cold_start(model)
        figures = [
            ("CLI, JSONL in → JSONL out, one core", f"{one:,.0f} msg/s, peak {one_mb:.0f} MB"),
            ("CLI, --jobs 2 (two cores)", f"{two:,.0f} msg/s, peak {two_mb:.0f} MB"),
            ("`complaints classify --text` cold, wall", f"{cold:.2f} s, peak {cold_mb:.0f} MB"),
        ]
        if args.callgrind:
            few = rows[: args.callgrind_messages]
            base = instructions(model, folder, few, "none")
            for mode in ("batch", "single"):
                per = (instructions(model, folder, few, mode) - base) / len(few)
                figures.append(
                    (f"instructions per message, {mode} (callgrind)", f"{per / 1e6:.2f} M")
                )
        inside = in_process(model, rows)
    figures[2:2] = [
        (
            "in-process batches of 1,000, one core: caches empty / full",
            f"{inside['cold']:,.0f} / {inside['warm']:,.0f} msg/s",
        ),
        ("one message in-process, p50 / p99", f"{inside['p50']:.2f} / {inside['p99']:.2f} ms"),
    ]
    table = "| figure | measured |\n|---|---|\n"
    table += "".join(f"| {name} | {value} |\n" for name, value in figures)
    print(table, end="")
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
