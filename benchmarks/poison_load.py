"""Ordinary traffic with 1 % poisoned requests: is every ordinary request still answered within
its deadline, stored, and readable?

    .venv/bin/python benchmarks/poison_load.py [--rate 500] [--seconds 30] [--workers 2]
        [--poison-share 0.01] [--home DIR]

Starts the real server (2 workers, SQLite by default, or DATABASE_URL=… for PostgreSQL) and sends
an open loop of `POST /v1/classify` at a fixed rate for a fixed time. One request in a hundred is
poisoned, in turn: a NUL in the text, lone surrogates in text and metadata, metadata nested 300
deep, and pathological tokens (10,000 × «.,», 20,000 emoji, one 20,000-letter word, mixed
scripts). Afterwards every ordinary message is read back through `GET /v1/predictions/{id}`.
Prints the counts; bounded in time and count, loopback only. Uses the champion in HOME/models.
Ordinary texts are the real complaint tweets in ../shared/external (never stored in the repo).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from serve_bench import Connection, post_request  # this folder is on sys.path when run as a script

from pettriage.api.launcher import LiveServer

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = (
    ROOT.parent / "shared" / "external" / "sentirueval2016_telecom_bank_complaint_tweets.jsonl"
)
KEYS = {"k-channel": "channel", "k-router": "router"}
ROUTER = {"X-API-Key": "k-router"}
DEADLINE = 10.0  # the service's request_timeout_seconds


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


POISONS = {
    "nul in text": {"text": "кот\u0000 не ест, ситтер не пришёл", "channel": "chat"},
    "lone surrogates": {
        "text": "собака \udc8e не дышит?",
        "channel": "chat",
        "metadata": {"from\ud800": "x\udfff"},
    },
    "metadata 300 deep": {"text": "спасибо", "channel": "chat", "metadata": nested(300)},
    "10,000 × «.,»": {"text": ".," * 10_000, "channel": "chat"},
    "20,000 emoji": {"text": "😀" * 20_000, "channel": "chat"},
    "one 20,000-letter word": {"text": "абв" * 6_666, "channel": "chat"},
    "mixed scripts": {"text": "aбγ中😀!" * 3_333, "channel": "chat"},
}


def body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=True).encode()  # surrogates travel escaped


async def run(url: str, texts: list[str], rate: float, seconds: float, share: float) -> dict:
    ordinary: dict[str, tuple[int, float, bool]] = {}
    poisoned: Counter = Counter()
    every = max(1, round(1 / share))
    kinds = list(POISONS)
    port = int(url.rsplit(":", 1)[1])
    # Bare keep-alive connections (serve_bench's): an HTTP library's CPU per request would make
    # the load generator, not the server, the bottleneck on two cores.
    idle = [Connection(port) for _ in range(64)]
    failures: Counter = Counter()

    async def post(content: bytes) -> tuple[int, bytes]:
        connection = idle.pop() if idle else Connection(port)
        request, reused = post_request(content), connection.writer is not None
        try:
            try:
                answer = await connection.exchange(request)
            except asyncio.IncompleteReadError as error:
                # uvicorn closes a keep-alive connection idle for 5 s; a request written to it
                # is never read, so it is sent again on a new one (as HTTP clients do).
                if error.partial or not reused:
                    raise
                failures["stale keep-alive connection, sent again"] += 1
                connection = Connection(port)
                answer = await connection.exchange(request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            failures[type(error).__name__] += 1
            return 0, b""
        idle.append(connection)
        return answer

    async def send(i: int) -> None:
        if i % every == every - 1:
            kind = kinds[(i // every) % len(kinds)]
            status, _ = await post(body(POISONS[kind]))
            poisoned[(kind, status)] += 1
            return
        message_id = f"load-{i}"
        payload = {"text": texts[i % len(texts)], "channel": "chat", "message_id": message_id}
        started = time.perf_counter()
        status, answer = await post(body(payload))
        stored = status == 200 and json.loads(answer)["stored"]
        ordinary[message_id] = (status, time.perf_counter() - started, stored)

    tasks, start, total = [], time.perf_counter(), int(rate * seconds)
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start

    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        semaphore = asyncio.Semaphore(32)

        async def read(message_id: str) -> bool:
            async with semaphore:
                response = await client.get(f"/v1/predictions/{message_id}", headers=ROUTER)
                return response.status_code == 200

        results = await asyncio.gather(*(read(m) for m in ordinary))
        readable = sum(results)
    statuses = Counter(status for status, _, _ in ordinary.values())
    latencies = sorted(seconds for _, seconds, _ in ordinary.values())
    return {
        "sent per second": round(total / elapsed, 1),
        "ordinary sent": len(ordinary),
        "ordinary answered 200": statuses[200],
        "ordinary other statuses": {k: v for k, v in statuses.items() if k != 200},
        "ordinary within the deadline": sum(1 for s in latencies if s <= DEADLINE),
        "ordinary stored": sum(1 for _, _, stored in ordinary.values() if stored),
        "ordinary readable afterwards": readable,
        "ordinary latency p50 / p99 / max ms": [
            round(latencies[len(latencies) // 2] * 1000, 1),
            round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
            round(latencies[-1] * 1000, 1),
        ],
        "connection failures (kind: count)": dict(failures),
        "poisoned (kind, status): count": {f"{k} → {s}": n for (k, s), n in poisoned.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poison-share", type=float, default=0.01)
    parser.add_argument("--home", type=Path, default=ROOT, help="where models/ is")
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in EXTERNAL.read_text("utf-8").splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        # Metrics in a folder of their own: the collector reads every *.db file there.
        (Path(tmp) / "metrics").mkdir()
        env = {
            "COMPLAINTS_HOME": str(args.home),
            "COMPLAINTS_MODELS_DIR": str(args.home / "models"),
            "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{Path(tmp) / 'load.db'}"),
            "COMPLAINTS_API_KEYS": json.dumps(KEYS),
            "PROMETHEUS_MULTIPROC_DIR": str(Path(tmp) / "metrics"),
        }
        server = LiveServer(env, workers=args.workers).start()
        try:
            figures = asyncio.run(
                run(server.url, texts, args.rate, args.seconds, args.poison_share)
            )
        finally:
            server.stop()
    database = "PostgreSQL" if "postgresql" in env["DATABASE_URL"] else "SQLite"
    print(
        f"{args.workers} workers, {database}, {args.rate:g} req/s for {args.seconds:g} s, "
        f"{args.poison_share:.0%} poisoned"
    )
    for name, value in figures.items():
        print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
