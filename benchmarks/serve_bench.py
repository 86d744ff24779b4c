"""Drive the real server on loopback and print throughput and latency percentiles.

    .venv/bin/python benchmarks/serve_bench.py [--seconds 10] [--rate 200] [--in-flight 16 64]
        [--workers 1 2] [--home DIR]

For 1 and 2 workers: an open-loop run at a fixed rate (is p99 within 20 ms at 200 requests/s?),
closed-loop runs with 16 and 64 requests in flight (how many requests/s at most?), and the
latency of one batch of 1,000 messages. Every run is bounded in count and time and talks to
127.0.0.1 only. Each closed-loop run also says how much CPU the server and this client spent
per request: on a shared machine the throughput moves with the neighbours, the CPU per request
much less. Messages are the real complaint tweets in ../shared/external (evaluation only, never
stored in the repo). Uses the champion in HOME/models (run `make model` first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from pettriage.api.launcher import LiveServer

ROOT = Path(__file__).resolve().parents[1]

EXTERNAL = (
    ROOT.parent / "shared" / "external" / ("sentirueval2016_telecom_bank_complaint_tweets.jsonl")
)
HEADERS = {"X-API-Key": "k-channel"}
KEYS = {"k-channel": "channel"}  # the one role the benchmark needs


def texts() -> list[str]:
    return [json.loads(line)["text"] for line in EXTERNAL.read_text("utf-8").splitlines()]


class Connection:
    """A bare keep-alive HTTP/1.1 connection: far less CPU per request than an HTTP library,
    so that on a two-core machine the load generator leaves the cores to the server."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> int:
        return (await self.exchange(request))[0]

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send one whole HTTP request; (status, body) of the answer."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        answer = await self.reader.readexactly(length)
        if b"connection: close" in head.lower():  # the server ends this connection: open anew
            self.writer.close()
            self.reader = self.writer = None
        return status, answer


def post_request(body: bytes, path: str = "/v1/classify", key: str = "k-channel") -> bytes:
    """One whole HTTP/1.1 POST of a JSON body."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def requests(corpus: list[str]) -> list[bytes]:
    return [
        post_request(json.dumps({"text": text, "channel": "chat"}, ensure_ascii=False).encode())
        for text in corpus
    ]


async def open_loop(port: int, corpus: list[bytes], rate: float, seconds: float) -> dict:
    """Send at a fixed rate whatever the answers do; latency includes queueing."""
    latencies, failures = [], 0
    idle = [Connection(port) for _ in range(64)]

    async def one(i: int) -> None:
        nonlocal failures
        connection = idle.pop() if idle else Connection(port)
        started = time.perf_counter()
        try:
            failures += await connection.post(corpus[i % len(corpus)]) != 200
            idle.append(connection)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            failures += 1
        latencies.append(time.perf_counter() - started)

    tasks, start = [], time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return summary(latencies, failures, time.perf_counter() - start)


async def closed_loop(port: int, corpus: list[bytes], concurrency: int, seconds: float) -> dict:
    """`concurrency` connections each sending the next request as soon as one is answered."""
    latencies, failures = [], 0
    deadline = time.perf_counter() + seconds
    server_before, client_before = cpu_seconds(SERVER_PIDS), time.process_time()

    async def worker(offset: int) -> None:
        nonlocal failures
        connection, i = Connection(port), offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                failures += await connection.post(corpus[i % len(corpus)]) != 200
            except (OSError, asyncio.IncompleteReadError, ValueError):
                failures += 1
                connection = Connection(port)
            latencies.append(time.perf_counter() - started)
            i += concurrency

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    result = summary(latencies, failures, time.perf_counter() - start)
    result["server_cpu_ms"] = 1000 * (cpu_seconds(SERVER_PIDS) - server_before) / len(latencies)
    result["client_cpu_ms"] = 1000 * (time.process_time() - client_before) / len(latencies)
    return result


SERVER_PIDS: list[int] = []  # the server's process; its workers are found as its children


def process_tree(pids: list[int]) -> list[int]:
    """These processes and all their children, from /proc (Linux); gone ones left out."""
    found = []
    for pid in pids:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        found += [pid, *process_tree([int(c) for c in children])]
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of these processes and their children."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in process_tree(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def peak_mb(pids: list[int]) -> float:
    """The largest peak resident memory (VmHWM) among these processes and their children: a
    serving worker's, the supervisor of several being smaller."""
    peak = 0.0
    for pid in process_tree(pids):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        peak = max(peak, int(found[1]) / 1024 if found else 0.0)
    return peak


def batch_latency(url: str, corpus: list[str], repeats: int = 3) -> float:
    body = {"messages": [{"text": t, "channel": "chat"} for t in corpus[:1000]]}
    timings = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for _ in range(repeats):
            started = time.perf_counter()
            assert http.post("/v1/classify/batch", headers=HEADERS, json=body).status_code == 200
            timings.append(time.perf_counter() - started)
    return min(timings)


def summary(latencies: list[float], failures: int, elapsed: float) -> dict:
    ms = np.array(latencies) * 1000
    return {
        "requests": len(ms),
        "failures": failures,
        "rps": len(ms) / elapsed,
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--home", type=Path, default=ROOT, help="where models/ is")
    args = parser.parse_args()
    corpus = texts()
    raw = requests(corpus)
    rows = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            # Metrics in a folder of their own: the collector reads every *.db file there.
            (Path(tmp) / "metrics").mkdir()
            env = {
                "COMPLAINTS_HOME": str(args.home),
                "COMPLAINTS_MODELS_DIR": str(args.home / "models"),
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
                "COMPLAINTS_API_KEYS": json.dumps(KEYS),
                "PROMETHEUS_MULTIPROC_DIR": str(Path(tmp) / "metrics"),
            }
            server = LiveServer(env, workers=workers).start()
            SERVER_PIDS[:] = [server.process.pid]
            try:
                # Warm up: every worker's word → lemma cache meets the corpus once.
                asyncio.run(closed_loop(server.port, raw, 8, 3 * workers))
                fixed = asyncio.run(open_loop(server.port, raw, args.rate, args.seconds))
                flat_out = [
                    asyncio.run(closed_loop(server.port, raw, n, args.seconds))
                    for n in args.in_flight
                ]
                batch = batch_latency(server.url, corpus)
                peak = peak_mb(SERVER_PIDS)
            finally:
                server.stop()
        rows.append((workers, fixed, flat_out, batch, peak))
    print(
        f"| workers | at {args.rate:.0f} req/s: p50 / p90 / p99 ms | failures | in flight | "
        "max req/s | p99 ms there | CPU ms per request: server / client | batch of 1,000 s | "
        "worker peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for workers, fixed, flat_out, batch, peak in rows:
        failures = fixed["failures"] + sum(f["failures"] for f in flat_out)
        for n, f in zip(args.in_flight, flat_out, strict=True):
            print(
                f"| {workers} | {fixed['p50']:.1f} / {fixed['p90']:.1f} / {fixed['p99']:.1f} | "
                f"{failures} | {n} | {f['rps']:.0f} | {f['p99']:.1f} | "
                f"{f['server_cpu_ms']:.2f} / {f['client_cpu_ms']:.2f} | {batch:.2f} | "
                f"{peak:.0f} |"
            )


if __name__ == "__main__":
    main()
