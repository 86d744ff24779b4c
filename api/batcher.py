"""Micro-batching: the classifications waiting at one moment run as one batch, in one thread.

The model costs about 1.6 ms for one message but a fraction of that per message in a batch, and
one INSERT + COMMIT for many rows costs little more than for one. So each worker runs all its
classification work (single messages, `/batch` requests, e-mails) in one thread, one batch at a
time: while a batch runs, the requests that arrive queue up, and the next batch takes all of
them (up to `max_size` messages; a request's messages always stay together). Nothing waits for a
timer: a lone request runs at once, and batches grow only when requests arrive faster than they
are served. One thread also keeps the requests from fighting over the GIL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger("api")


class Batcher(Generic[Item, Result]):
    """`await batcher.submit(items)` runs `work([..., *items, ...])` in the batcher's thread and
    answers with those items' results. `work` maps a list to a list of results in the same
    order. `await batcher(item)` is one item."""

    def __init__(self, work: Callable[[list[Item]], Sequence[Result]], max_size: int = 64):
        self.work = work
        self.max_size = max_size
        self._waiting: list[tuple[list[Item], asyncio.Future]] = []
        self._draining: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batcher")

    @property
    def waiting(self) -> int:
        """How many items wait for the next batch."""
        return sum(len(items) for items, _ in self._waiting)

    async def __call__(self, item: Item) -> Result:
        return (await self.submit([item]))[0]

    async def submit(self, items: list[Item]) -> list[Result]:
        """The results of `items`, in order; the first item's error if any item failed."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((list(items), future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    def _next_batch(self) -> list[tuple[list[Item], asyncio.Future]]:
        """Whole requests from the front of the queue, up to `max_size` items (at least one
        request, however large). Requests whose caller stopped waiting (its deadline passed)
        are dropped unrun: nobody waits for their answer."""
        self._waiting = [(items, future) for items, future in self._waiting if not future.done()]
        taken, size = 0, 0
        for items, _ in self._waiting:
            if taken and size + len(items) > self.max_size:
                break
            taken, size = taken + 1, size + len(items)
        batch = self._waiting[:taken]
        del self._waiting[:taken]
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch = self._next_batch()
                if not batch:
                    continue
                flat = [item for items, _ in batch for item in items]
                try:
                    outcomes = await loop.run_in_executor(self._thread, self._run, flat)
                except BaseException as error:  # the thread is gone or the loop is stopping
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(RuntimeError(f"batch not run: {error!r}"))
                    raise
                at = 0
                for items, future in batch:
                    mine, at = outcomes[at : at + len(items)], at + len(items)
                    if future.done():  # the caller went away; its work was done all the same
                        continue
                    error = next((e for _, e in mine if e is not None), None)
                    if error is None:
                        future.set_result([result for result, _ in mine])
                    else:
                        future.set_exception(error)
        finally:
            self._draining = None

    def _run(self, items: list[Item]) -> list[tuple[Result | None, BaseException | None]]:
        """(result, None) or (None, error) per item. If the batch fails, each item is tried
        alone, so that one bad item fails alone instead of failing its neighbours."""
        try:
            results = self.work(items)
            return [(result, None) for result in results]
        except Exception as error:
            if len(items) == 1:
                return [(None, error)]
            log.warning("a batch of %d failed (%s); trying its items one by one", len(items), error)
        outcomes: list[tuple[Result | None, BaseException | None]] = []
        for item in items:
            try:
                outcomes.append((self.work([item])[0], None))
            except Exception as error:
                outcomes.append((None, error))
        return outcomes

    async def close(self) -> None:
        """Finish what is waiting, then stop the thread."""
        if self._draining is not None:
            await asyncio.shield(self._draining)
        self._thread.shutdown(wait=True)
