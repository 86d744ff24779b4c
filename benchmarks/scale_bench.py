"""Several hosts on one PostgreSQL store and one MLflow server: throughput, and how long a move
of the registry's `champion` takes to reach every worker of every host, under load.

    .venv/bin/python benchmarks/scale_bench.py [--hosts 2] [--workers 1] [--seconds 10]
        [--in-flight 32] [--poll 2]

Starts, on loopback: an MLflow server (backend store: a PostgreSQL database of its own on the
machine's server, artifacts served by it), trains two versions on the annotated corpus with
`complaints train` pointed at it (the second a registered twin, `--force`), then `--hosts`
service hosts of `--workers` workers each, their own homes (empty caches), one PostgreSQL store.
A closed-loop load with `--in-flight` requests spread over the hosts runs while the alias is
moved to v2 and back; prints requests/s, p50/p99, failures, and the seconds from each move to
the moment every worker answered with the new version. Messages are the complaint tweets in
../shared/external (never stored in the repo). Everything it made is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from mlflow import MlflowClient
from sqlalchemy import create_engine, text

from pettriage.api.launcher import LiveServer, free_port
from pettriage.training.tracking import CHAMPION_ALIAS, REGISTERED_MODEL

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = (
    ROOT.parent / "shared" / "external" / "sentirueval2016_telecom_bank_complaint_tweets.jsonl"
)
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
KEYS = {"k-channel": "channel"}
HEADERS = {"X-API-Key": "k-channel"}
BIN = Path(sys.executable).parent


def database(admin, name: str) -> str:
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    return f"{POSTGRES}/{name}"


def complaints(env: dict, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "complaints"), *args], env=os.environ | env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"complaints {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


async def load(urls: list[str], in_flight: int, stop: asyncio.Event, texts: list[str]):
    """Closed loop: `in_flight` clients, each on one host in turn; (latencies, failures)."""
    latencies, failures = [], []

    async def client(url: str) -> None:
        async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=30) as http:
            while not stop.is_set():
                body = {"text": random.choice(texts), "channel": "chat"}
                started = time.perf_counter()
                try:
                    r = await http.post("/v1/classify", json=body)
                    ok = r.status_code == 200
                except httpx.HTTPError as error:
                    ok, r = False, error
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures.append(getattr(r, "status_code", type(r).__name__))

    await asyncio.gather(*(client(urls[i % len(urls)]) for i in range(in_flight)))
    return latencies, failures


async def settled(urls: list[str], version: str, since: float) -> float:
    """Seconds from `since` until 20 answers in a row of every host's /v1/model name `version`."""
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as http:
        for url in urls:
            in_a_row = 0
            while in_a_row < 20:
                answer = (await http.get(f"{url}/v1/model")).json()
                in_a_row = in_a_row + 1 if answer.get("version") == version else 0
                await asyncio.sleep(0.01)
    return time.monotonic() - since


async def measure(urls, args, client, first, second, texts) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(load(urls, args.in_flight, stop, texts))
    await asyncio.sleep(args.seconds / 2)
    moves = []
    for version in (second, first):
        moved = time.monotonic()
        client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, version)
        moves.append(await settled(urls, version, moved))
    await asyncio.sleep(args.seconds / 2)
    stop.set()
    latencies, failures = await running
    elapsed = args.seconds + sum(moves)
    ms = np.array(latencies) * 1000
    print(
        f"{args.hosts} hosts × {args.workers} workers, {args.in_flight} in flight: "
        f"{len(latencies) / elapsed:,.0f} req/s, p50 {np.percentile(ms, 50):.1f} ms, "
        f"p99 {np.percentile(ms, 99):.1f} ms, {len(failures)} failed of "
        f"{len(latencies) + len(failures)}"
    )
    print(
        f"champion moved to v{second}: every worker serving it after {moves[0]:.1f} s; "
        f"back to v{first}: after {moves[1]:.1f} s (poll {args.poll:g} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--poll", type=float, default=2.0)
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in EXTERNAL.read_text("utf-8").splitlines()]
    admin = create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    suffix = uuid.uuid4().hex[:8]
    names = [f"bench_mlflow_{suffix}", f"bench_store_{suffix}"]
    processes, hosts = [], []
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as scratch:
        root = Path(scratch)
        try:
            backend, store = (database(admin, name) for name in names)
            port = free_port()
            log = (root / "mlflow.log").open("wb")
            server = subprocess.Popen(
                [str(BIN / "mlflow"), "server", "--backend-store-uri", backend,
                 "--artifacts-destination", str(root / "artifacts"), "--serve-artifacts",
                 "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                stdout=log, stderr=log, start_new_session=True,
                env=os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            )  # fmt: skip
            processes.append(server)
            url = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            trainer = {
                "COMPLAINTS_HOME": str(root / "trainer"),
                "MLFLOW_TRACKING_URI": url,
                "COMPLAINTS_DATA_DIR": str(ROOT / "data" / "annotated"),
                "COMPLAINTS_TEST_IDS": str(ROOT / "data" / "splits" / "test_ids.txt"),
                "COMPLAINTS_TRAIN_FOLDS": "2",
            }
            print("training two versions against the MLflow server…", file=sys.stderr)
            first = json.loads(complaints(trainer, "train"))["version"]
            second = json.loads(complaints(trainer, "train", "--force"))["version"]
            for i in range(args.hosts):
                home = root / f"host-{i}"
                env = {
                    "COMPLAINTS_HOME": str(home),
                    "DATABASE_URL": store.replace("postgresql+psycopg", "postgresql"),
                    "MLFLOW_TRACKING_URI": url,
                    "COMPLAINTS_REGISTRY_POLL_SECONDS": str(args.poll),
                    "COMPLAINTS_API_KEYS": json.dumps(KEYS),
                }
                home.mkdir()
                hosts.append(LiveServer(env, args.workers, log=home / "server.log").start(180))
            client = MlflowClient(url, url)
            asyncio.run(measure([h.url for h in hosts], args, client, first, second, texts))
        finally:
            for host in hosts:
                host.stop()
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            with admin.connect() as connection:
                for name in names:
                    connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


if __name__ == "__main__":
    main()
