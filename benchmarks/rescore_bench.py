"""Time `complaints rescore` on Spark local[1] and local[2] against `complaints classify`, and
check that their answers are the same, row by row.

    .venv/bin/python benchmarks/rescore_bench.py [--messages 20000] [--masters local[1] local[2]]
        [--home DIR]

The messages are built at run time by cycling the real texts of data/annotated (with their
channels and times) and of ../shared/external (evaluation only, never stored in the repo), each
with an id of its own. Each command runs as its own process, as a person would run it, on the
champion of HOME (run `make model` first); "wall" includes starting Python, loading the model
and, for rescore, starting Spark, which "job" leaves out. Prints a Markdown table; exits 1 when
any answer differs from the CLI's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pettriage.training.rescore import read_answers

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "annotated"
EXTERNAL = ROOT.parent / "shared" / "external"
COMPLAINTS = Path(sys.executable).with_name("complaints")
SUMMARY = re.compile(r"rescored (\d+) messages in ([\d.]+) s")


def messages(count: int) -> list[dict]:
    """`count` messages cycling through the corpus and the external texts, shuffled, each id
    unique."""
    real = []
    for path in sorted(CORPUS.glob("*.jsonl")) + sorted(EXTERNAL.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                real.append({k: r[k] for k in ("id", "text", "channel", "received_at") if k in r})
    random.Random(0).shuffle(real)
    return [
        real[i % len(real)] | {"id": f"bench-{i:05d}-{real[i % len(real)]['id']}"}
        for i in range(count)
    ]


def run(args: list[str], env: dict) -> tuple[float, str]:
    """(wall seconds, standard output) of one `complaints` command; stops the benchmark if it
    fails."""
    started = time.perf_counter()
    done = subprocess.run([str(COMPLAINTS), *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"complaints {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return wall, done.stdout


def differing(answers: list[dict], expected: dict[str, dict]) -> int:
    """Rows that differ from the CLI's answer in any field, or that either side lacks."""
    seen = {a["id"]: a for a in answers}
    return sum(seen.get(i) != expected.get(i) for i in seen.keys() | expected.keys())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--masters", nargs="+", default=["local[1]", "local[2]"])
    parser.add_argument("--home", type=Path, default=ROOT, help="where models/ and MLflow are")
    args = parser.parse_args()
    env = os.environ | {
        "COMPLAINTS_HOME": str(args.home),
        "COMPLAINTS_MODELS_DIR": str(args.home / "models"),
    }
    rows, failed = [], False
    with tempfile.TemporaryDirectory(prefix="rescore-bench-") as tmp:
        source = Path(tmp) / "archive.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for message in messages(args.messages):
                out.write(json.dumps(message, ensure_ascii=False) + "\n")
        cli_out = Path(tmp) / "cli.jsonl"
        wall, _ = run(["classify", "--input", str(source), "--output", str(cli_out)], env)
        expected = {}
        for line in cli_out.read_text("utf-8").splitlines():
            answer = json.loads(line)
            expected[answer["id"]] = answer
        rows.append(("`complaints classify` (one process)", len(expected), wall, None, 0))
        for master in args.masters:
            output = Path(tmp) / f"rescored-{master.strip('[]*').replace('[', '-')}.parquet"
            wall, printed = run(
                ["rescore", "--input", str(source), "--output", str(output), "--master", master],
                env,
            )
            found = SUMMARY.search(printed)
            count, job = int(found[1]), float(found[2])
            answers = read_answers(output)
            wrong = differing(answers, expected)
            failed |= wrong > 0 or count != len(expected)
            rows.append((f"`complaints rescore --master {master}`", count, wall, job, wrong))
    print(f"{args.messages} messages, {os.cpu_count()} cores\n")
    print(
        "| run | messages | wall s | messages/s (wall) | job s | messages/s (job) | rows "
        "differing from the CLI's |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, count, wall, job, wrong in rows:
        job_cells = f"{job:.1f} | {count / job:.0f}" if job else "— | —"
        print(f"| {name} | {count} | {wall:.1f} | {count / wall:.0f} | {job_cells} | {wrong} |")
    spark = {name: job for name, _, _, job, _ in rows if job}
    one, two = (spark.get(f"`complaints rescore --master {m}`") for m in ("local[1]", "local[2]"))
    if one and two:
        print(f"\nlocal[2] against local[1], the job alone: {one / two:.2f}× as fast")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
