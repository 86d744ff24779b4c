"""Single classifications run in micro-batches: the same answers, every one stored, a failure
only where it happened."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from pettriage.api.batcher import Batcher
from pettriage.api.main import create_app

from .servers import CHANNEL, ROUTER, classify, settings_for


# -- the batcher alone --------------------------------------------------------------------------
def run_held(work, calls_before_release: int, items: list, max_size: int = 64) -> list:
    """Submit items[0], hold its batch until the others are waiting, then release; the results
    (or exceptions) in the order of `items`."""
    release = threading.Event()
    started = threading.Event()

    def held(batch):
        started.set()
        if not release.is_set():
            release.wait(5)
        return work(batch)

    async def main():
        batcher = Batcher(held, max_size=max_size)
        first = asyncio.create_task(batcher(items[0]))
        while not started.is_set():
            await asyncio.sleep(0.005)
        rest = [asyncio.create_task(batcher(i)) for i in items[1:]]
        while batcher.waiting < calls_before_release:
            await asyncio.sleep(0.005)
        release.set()
        results = await asyncio.gather(first, *rest, return_exceptions=True)
        await batcher.close()
        return results

    return asyncio.run(main())


def test_items_waiting_together_run_as_one_batch_in_order():
    batches = []

    def times_ten(batch):
        batches.append(list(batch))
        return [i * 10 for i in batch]

    assert run_held(times_ten, 5, [0, 1, 2, 3, 4, 5]) == [0, 10, 20, 30, 40, 50]
    assert batches == [[0], [1, 2, 3, 4, 5]]


def test_batches_are_at_most_max_size():
    batches = []

    def same(batch):
        batches.append(list(batch))
        return batch

    assert run_held(same, 5, [0, 1, 2, 3, 4, 5], max_size=2) == [0, 1, 2, 3, 4, 5]
    assert batches == [[0], [1, 2], [3, 4], [5]]


def test_a_bad_item_fails_alone():
    def inverse(batch):
        return [1 / i for i in batch]

    results = run_held(inverse, 3, [1, 2, 0, 4])
    assert results[0] == 1 and results[1] == 0.5 and results[3] == 0.25
    assert isinstance(results[2], ZeroDivisionError)


def test_a_caller_that_goes_away_leaves_the_others_answered():
    done = []

    async def main():
        release = threading.Event()

        def work(batch):
            release.wait(5)
            done.extend(batch)
            return batch

        batcher = Batcher(work)
        first = asyncio.create_task(batcher("a"))
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(batcher("b"))
        kept = asyncio.create_task(batcher("c"))
        await asyncio.sleep(0.05)
        gone.cancel()
        release.set()
        answers = await asyncio.gather(first, kept)
        await batcher.close()
        return answers

    assert asyncio.run(main()) == ["a", "c"]
    # Its batch had not started: nobody waits for it, so it is not run (under overload, the
    # requests past their deadline are the ones dropped, not the ones behind them).
    assert done == ["a", "c"]


def test_a_caller_that_goes_away_while_its_batch_runs_gets_its_work_done():
    done = []

    async def main():
        started, release = threading.Event(), threading.Event()

        def work(batch):
            started.set()
            release.wait(5)
            done.extend(batch)
            return batch

        batcher = Batcher(work)
        gone = asyncio.create_task(batcher("a"))
        while not started.is_set():
            await asyncio.sleep(0.01)
        gone.cancel()
        release.set()
        answer = await batcher("b")
        await batcher.close()
        return answer

    assert asyncio.run(main()) == "b"
    assert done == ["a", "b"]  # it was already running: done (and stored) all the same


# -- through the app ----------------------------------------------------------------------------
def hold_batches(client) -> tuple[threading.Event, list[int]]:
    """Hold the first batch of /v1/classify until released; record the size of every batch."""
    batcher = client.app.state.service.batcher
    work, release, sizes = batcher.work, threading.Event(), []

    def held(requests):
        sizes.append(len(requests))
        release.wait(10)
        return work(requests)

    batcher.work = held
    return release, sizes


def concurrently(client, bodies: list[dict], release: threading.Event, sizes: list[int]):
    """Post the first body, then the others while the first one's batch is held."""
    responses: list = [None] * len(bodies)

    def post(i: int) -> None:
        responses[i] = client.post("/v1/classify", headers=CHANNEL, json=bodies[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    threads[0].start()
    batcher = client.app.state.service.batcher
    deadline = time.monotonic() + 10
    while not sizes and time.monotonic() < deadline:
        time.sleep(0.01)
    for t in threads[1:]:
        t.start()
    while batcher.waiting < len(bodies) - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join()
    return responses


TEXTS = [
    "я у клиента, собака не дышит!!",
    "ситтер опоздал на два часа, верните деньги",
    "можно перенести прогулку на пятницу?",
    "ситтер разбила вазу, требую компенсацию",
    "спасибо, всё прошло отлично",
    "кот проглотил иголку с ниткой, что делать",
]


def test_concurrent_singles_answer_as_the_batch_endpoint_and_are_all_stored(sqlite_client):
    release, sizes = hold_batches(sqlite_client)
    bodies = [{"text": t, "channel": "chat", "message_id": f"s-{i}"} for i, t in enumerate(TEXTS)]
    responses = concurrently(sqlite_client, bodies, release, sizes)
    assert sizes == [1, len(TEXTS) - 1]
    assert [r.status_code for r in responses] == [200] * len(TEXTS)
    singles = [r.json() for r in responses]
    batch = sqlite_client.post(
        "/v1/classify/batch",
        headers=CHANNEL,
        json={"messages": [b | {"message_id": f"b-{i}"} for i, b in enumerate(bodies)]},
    ).json()["results"]
    for single, one, i in zip(singles, batch, range(len(TEXTS)), strict=True):
        assert single["message_id"] == f"s-{i}" and single["stored"] is True
        assert _without_ids(single) == _without_ids(one)
        stored = sqlite_client.get(f"/v1/predictions/s-{i}", headers=ROUTER).json()
        assert stored["latest"]["text"] == TEXTS[i]
        assert stored["latest"]["decision"]["category"] == single["category"]


def _without_ids(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in {"id", "message_id"}}


def test_a_batch_that_cannot_be_stored_answers_every_request_unstored_and_counts_them(
    home, tmp_path
):
    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'gone.db'}"))
    with TestClient(app, client=("127.0.0.1", 1)) as client:
        client.app.state.service.engine.dispose()
        (tmp_path / "gone.db").unlink()
        (tmp_path / "gone.db").mkdir()  # a directory where the file was: every connect fails
        before = _metric(client.get("/metrics").text, "complaints_store_failures_total")
        release, sizes = hold_batches(client)
        bodies = [{"text": t, "channel": "chat"} for t in TEXTS[:4]]
        responses = concurrently(client, bodies, release, sizes)
        assert sizes == [1, 3]
        assert [r.status_code for r in responses] == [200] * 4
        assert [r.json()["stored"] for r in responses] == [False] * 4
        after = _metric(client.get("/metrics").text, "complaints_store_failures_total")
        assert after == before + 4


def _metric(text: str, name: str, default: float | None = None) -> float:
    values = (float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))
    return next(values) if default is None else next(values, default)


def test_a_message_that_breaks_the_model_fails_alone(home, tmp_path):
    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'test.db'}"))
    with TestClient(app, client=("127.0.0.1", 1), raise_server_exceptions=False) as client:
        model = client.app.state.service.champion.model
        map_ = model.map

        def fragile(messages):
            messages = list(messages)
            if any(m.text == "сломай модель" for m in messages):
                raise RuntimeError("the model broke")
            return map_(messages)

        model.map = fragile
        release, sizes = hold_batches(client)
        bodies = [{"text": t, "channel": "chat"} for t in [TEXTS[0], "сломай модель", TEXTS[1]]]
        responses = concurrently(client, bodies, release, sizes)
        assert sizes == [1, 2, 1, 1]  # the batch of two failed, then each was tried alone
        assert [r.status_code for r in responses] == [200, 500, 200]
        assert responses[2].json()["stored"] is True


def test_metadata_orjson_refuses_is_stored_all_the_same(sqlite_client):
    big = 2**70  # beyond 64 bits: orjson refuses it, the standard encoder takes it
    response = classify(sqlite_client, "кот голодный", message_id="big-1", metadata={"n": big})
    assert response.status_code == 200 and response.json()["stored"] is True
    stored = sqlite_client.get("/v1/predictions/big-1", headers=ROUTER).json()
    assert stored["latest"]["metadata"] == {"n": big}


@pytest.fixture
def no_model_home(tmp_path):
    (tmp_path / "models").mkdir()
    return tmp_path


def test_without_a_model_classify_is_503(no_model_home):
    app = create_app(settings_for(no_model_home, f"sqlite:///{no_model_home / 'test.db'}"))
    with TestClient(app, client=("127.0.0.1", 1)) as client:
        response = classify(client, "кот голодный")
        assert response.status_code == 503 and "no model loaded" in response.json()["detail"]


# -- what the route refuses, and how ------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, {"text": "кот голодный", "channel": "chat"}, 401),
        ({"X-API-Key": "k-router"}, {"text": "кот голодный", "channel": "chat"}, 403),
        (CHANNEL, {"text": "кот голодный", "channel": "pigeon"}, 422),
        (CHANNEL, {"text": "   ", "channel": "chat"}, 422),
        (CHANNEL | {"content-type": "text/plain"}, {"text": "кот", "channel": "chat"}, 422),
    ],
)
def test_bad_classify_requests_are_refused_clearly(sqlite_client, headers, body, status):
    response = sqlite_client.post(
        "/v1/classify",
        headers={"content-type": "application/json"} | headers,
        content=json.dumps(body).encode(),
    )
    assert response.status_code == status, response.text


def test_settling_the_heap_again_frees_what_the_last_freeze_kept():
    """Each model load freezes what is alive; a model a reload replaced, if it held a cycle,
    was never looked at by the collector again: it stayed in memory."""
    import gc
    import weakref

    from pettriage.api.service import _settle_heap

    class Node:
        pass

    node = Node()
    node.itself = node  # a cycle: only the collector frees it
    alive = weakref.ref(node)
    try:
        _settle_heap()
        del node
        _settle_heap(replaced=True)  # a reload
        assert alive() is None
    finally:
        gc.unfreeze()
