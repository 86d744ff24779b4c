"""Issue 18, case 1: no message makes a worker spend more than a bounded time, and a request
that is not ready by its deadline is answered at once instead of queueing forever.

Before: `{"text": ".," * 10000}` took 80.5 s and an ordinary request sent 0.5 s later waited
80 s (spaCy's affix search is quadratic in the length of one token)."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pettriage.api.main import create_app
from pettriage.classifier.features import prepare
from pettriage.classifier.normalize import MAX_RUN, normalize

from ..servers import CHANNEL, classify, settings_for

PATHOLOGICAL = {
    "punctuation": ".," * 10_000,
    "emoji": "😀" * 20_000,
    "one word": "абв" * 6_666,
    "mixed scripts": "aбγ中😀!" * 3_333,
    "quotes and brackets": "«(»)" * 5_000,
}
SECONDS_PER_MESSAGE = 2.0  # measured ≤ 0.25 s on a quiet core; generous for a shared machine


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_texts_are_tokenized_in_bounded_time(text):
    prepare(["разогрев"])  # spaCy and pymorphy3 loaded
    started = time.perf_counter()
    [item] = prepare([text])
    assert time.perf_counter() - started < SECONDS_PER_MESSAGE
    assert all(len(piece) <= MAX_RUN for piece in item.text.split())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.sampled_from(".,;:!?-—()«»\"'…😀🔥🐶"), min_size=1, max_size=3000),
            st.text(min_size=1, max_size=2000),
            st.just("а" * 20_000),
        ),
        min_size=1,
        max_size=4,
    ).map("".join)
)
def test_no_run_of_non_space_longer_than_the_bound_reaches_the_tokenizer(text):
    normalized = normalize(text[:20_000])
    assert all(len(piece) <= MAX_RUN for piece in normalized.split())
    started = time.perf_counter()
    prepare([text[:20_000]])
    assert time.perf_counter() - started < SECONDS_PER_MESSAGE


def test_an_ordinary_request_does_not_wait_behind_a_pathological_one(sqlite_client):
    slow: dict = {}

    def send_pathological() -> None:
        slow["response"] = classify(sqlite_client, PATHOLOGICAL["punctuation"])

    thread = threading.Thread(target=send_pathological)
    thread.start()
    time.sleep(0.5)
    started = time.perf_counter()
    ordinary = classify(sqlite_client, "ситтер не пришёл, верните деньги")
    waited = time.perf_counter() - started
    thread.join(30)
    assert ordinary.status_code == 200 and waited < 5, waited
    assert slow["response"].status_code == 200


def test_a_request_not_ready_by_its_deadline_gets_a_clear_503(home, tmp_path):
    app = create_app(
        settings_for(home, f"sqlite:///{tmp_path / 'd.db'}", request_timeout_seconds=0.5)
    )
    with TestClient(app, client=("127.0.0.1", 1)) as client:
        batcher = client.app.state.service.batcher
        work, release, ran = batcher.work, threading.Event(), []

        def held(requests):
            ran.append([r.message_id for r in requests])
            release.wait(10)
            return work(requests)

        batcher.work = held
        first = threading.Thread(target=classify, args=(client, "кот голодный"))
        first.start()
        while not ran:
            time.sleep(0.01)
        late = client.post(
            "/v1/classify",
            headers=CHANNEL,
            json={"text": "спасибо", "channel": "chat", "message_id": "late-1"},
        )
        assert late.status_code == 503 and late.headers["retry-after"] == "1"
        assert "not ready within 0.5 s" in late.json()["detail"]
        release.set()
        first.join(10)
        batcher.work = work
        assert classify(client, "ещё один", message_id="after").status_code == 200
        assert not any("late-1" in batch for batch in ran)  # dropped unrun: nobody waited
