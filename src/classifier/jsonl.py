"""`complaints classify --input`: a JSONL file of messages in, one JSON answer a line out.

The file is read in chunks of `CHUNK_LINES` lines and each chunk's answers are written as soon as
they are ready, so memory stays flat however long the file is. With `jobs > 1` the chunks go to
worker processes forked from this one after the model is loaded and warmed up: they share its
arrays and caches instead of loading their own, and the answers come out in the input's order.
A worker parses its lines, classifies them and encodes the answers (orjson, a quarter of the
time with the standard encoder); this process only reads, reports bad lines and writes.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import orjson

from .records import InvalidInput, Message, message_from_dict

CHUNK_LINES = 1_000
# Chunks handed to the workers before the first one's answers are written: enough to keep every
# worker busy, few enough that a long file is never read whole.
AHEAD_PER_JOB = 4

Chunk = list[tuple[int, bytes]]  # (line number, raw line) of the lines that are not blank
# (the answers, encoded, one a line; [(line number, what is wrong)]; messages classified)
Answered = tuple[bytes, list[tuple[int, str]], int]


def parse_line(raw: bytes, number: int) -> Message | InvalidInput:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return InvalidInput(
            f"not UTF-8: byte 0x{raw[error.start]:02x} at byte {error.start + 1} of the line "
            f"({error.reason}); save the file as UTF-8"
        )
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        return InvalidInput(f"not valid JSON ({error.msg} at column {error.colno})")
    try:
        message = message_from_dict(data)
    except InvalidInput as error:
        return error
    # JSON may spell half of a surrogate pair (`"\ud83d"`): a string no UTF-8 output can hold.
    for field, value in (("id", message.id), ("text", message.text)):
        if problem := lone_surrogate(value):
            return InvalidInput(f"field '{field}' holds {problem}")
    return message if message.id else replace(message, id=f"line-{number}")


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def lone_surrogate(value: str | None) -> str | None:
    found = _SURROGATE.search(value) if value else None
    if found is None:
        return None
    return (
        f"a lone surrogate (\\u{ord(found[0]):04x} at character {found.start() + 1}); "
        "a character beyond U+FFFF is written as a pair, e.g. \\ud83d\\udc31"
    )


def chunks(path: Path, size: int = CHUNK_LINES) -> Iterator[Chunk]:
    """The file's lines that are not blank, numbered, `size` at a time. Lines are read as bytes
    and decoded one by one, so a line that is not UTF-8 is reported alone."""
    with path.open("rb") as handle:
        chunk: Chunk = []
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                chunk.append((number, raw))
                if len(chunk) == size:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk


def answer(model, chunk: Chunk) -> Answered:
    """One chunk parsed, classified and encoded."""
    messages, bad = [], []
    for number, raw in chunk:
        parsed = parse_line(raw, number)
        if isinstance(parsed, InvalidInput):
            bad.append((number, str(parsed)))
        else:
            messages.append(parsed)
    newline = orjson.OPT_APPEND_NEWLINE
    encoded = b"".join(orjson.dumps(d.as_dict(), option=newline) for d in model.map(messages))
    return encoded, bad, len(messages)


@dataclass(frozen=True)
class Run:
    lines: int  # lines that were not blank
    classified: int
    seconds: float
    jobs: int

    @property
    def refused(self) -> int:
        return self.lines - self.classified

    def summary(self) -> str:
        rate = self.classified / self.seconds if self.seconds else 0.0
        per = f", {rate / self.jobs:,.0f} per process" if self.jobs > 1 else ""
        return (
            f"{self.classified:,} of {self.lines:,} lines classified in {self.seconds:.2f} s: "
            f"{rate:,.0f} messages/s with {self.jobs} process{'es' * (self.jobs > 1)}{per}"
        )


def classify_file(
    model, source: Path, sink: BinaryIO, report: Callable[[int, str], None], jobs: int = 1
) -> Run:
    """Every line of `source` classified into `sink` in order; each bad line given to `report`
    (line number, what is wrong) and left out."""
    started = time.perf_counter()
    lines = classified = 0
    for encoded, bad, count in _answered(model, chunks(source), jobs):
        for number, problem in bad:
            report(number, problem)
        sink.write(encoded)
        lines += count + len(bad)
        classified += count
    return Run(lines, classified, time.perf_counter() - started, jobs)


def _answered(model, pending: Iterator[Chunk], jobs: int) -> Iterator[Answered]:
    if jobs == 1:
        yield from (answer(model, chunk) for chunk in pending)
        return
    model.warm_up()  # once here, not once per worker
    context = multiprocessing.get_context("fork")  # the workers inherit the loaded model
    with context.Pool(jobs, initializer=_adopt, initargs=(model,)) as pool:
        waiting: deque = deque()
        for chunk in pending:
            waiting.append(pool.apply_async(_answer_here, (chunk,)))
            if len(waiting) >= jobs * AHEAD_PER_JOB:
                yield waiting.popleft().get()
        while waiting:
            yield waiting.popleft().get()


_worker_model = None  # in a worker process: the model it inherited (`_adopt`)


def _adopt(model) -> None:
    global _worker_model
    _worker_model = model


def _answer_here(chunk: Chunk) -> Answered:
    return answer(_worker_model, chunk)
