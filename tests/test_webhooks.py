"""Webhooks: the outbox written with the predictions, claims that two workers never share, and
the real service pushing signed events to a real receiver on loopback — through a receiver that
is down, then failing, and through a service killed mid-delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from pettriage.api.launcher import LiveServer, free_port
from pettriage.api.webhooks import backoff, sign
from pettriage.store import outbox, queries
from pettriage.store.db import make_engine, make_sessions, migrate
from pettriage.store.tables import Prediction, WebhookDelivery

from .servers import ADMIN, CHANNEL, QUALITY, ROUTER, postgres_schema, server_env

HOOKS = "/v1/admin/webhooks"
SECRET = "s3cret-of-the-router-0123456789"
CRITICAL = "я у клиента, собака не дышит!! что делать"
ROUTINE = ["кот голодный, визит {}", "ситтер опоздал на час, верните деньги, визит {}"]


# -- what a receiver does (the README's recipe) ------------------------------------------------
def verify(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    """A receiver's check of `X-Triage-Signature`, as the README gives it."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        sent = int(fields["t"])
    except (KeyError, ValueError):
        return False
    mac = hmac.new(secret.encode(), f"{sent}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - sent) <= tolerance and hmac.compare_digest(mac, fields["v1"])


@pytest.mark.parametrize(
    ("secret", "body", "age", "valid"),
    [
        ("k", b'{"a":1}', 0, True),
        ("other", b'{"a":1}', 0, False),
        ("k", b'{"a":2}', 0, False),
        ("k", b'{"a":1}', 3600, False),  # replayed
        ("k", b'{"a":1}', None, False),
        ("k", b'{"a":1}', "", False),
    ],
    ids=["right", "wrong secret", "tampered", "old", "no time", "empty"],
)
def test_signature(secret, body, age, valid):
    """Signed when the test runs, not when it was collected (a full suite takes minutes)."""
    if age == "":
        header = ""
    elif age is None:
        header = "v1=abc"
    else:
        header = sign("k", b'{"a":1}', int(time.time()) - age)
    assert verify(secret, header, body) is valid


def test_signature_is_hmac_sha256_of_time_dot_body():
    mac = hmac.new(b"k", b"1700000000." + b"{}", hashlib.sha256).hexdigest()
    assert sign("k", b"{}", 1700000000) == f"t=1700000000,v1={mac}"


@pytest.mark.parametrize(
    ("attempts", "full"), [(1, 1), (2, 2), (3, 4), (10, 512), (11, 600), (29, 600), (500, 600)]
)
def test_backoff_doubles_to_the_cap_taking_half_to_all(attempts, full):
    waits = [backoff(attempts, 1.0, 600.0, random.Random(seed)) for seed in range(50)]
    assert all(full / 2 <= w <= full for w in waits)
    assert max(waits) - min(waits) > full / 4  # jittered, not one moment for every event


# -- the outbox on SQLite and PostgreSQL ---------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outbox.db'}"
        migrate(url, tmp_path)
        engine = make_engine(url)
        yield make_sessions(engine)
        engine.dispose()
        return
    with postgres_schema() as url:
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
        migrate(url, tmp_path)
        engine = make_engine(url)
        yield make_sessions(engine)
        engine.dispose()


def row(message_id: str, urgency="normal", is_hard=False, key: str | None = None) -> dict:
    return dict(
        message_id=message_id,
        channel="chat",
        text="кот голодный",
        is_hard=is_hard,
        category="other",
        urgency=urgency,
        reporter="client",
        needs_review=False,
        safety_fired=False,
        decision={"safety": {"fired": False}, "heads": {}},
        model_version="1",
        received_at=None,
        created_at=datetime.now(UTC),
        meta=None,
        review_priority=0.0,
        review_reason=None,
        idempotency_key=key,
        actions=[{"type": "acknowledge"}],
    )


def events(session) -> list[tuple[str, str, int]]:
    query = select(WebhookDelivery.message_id, WebhookDelivery.type, WebhookDelivery.webhook_id)
    return sorted(tuple(r) for r in session.execute(query.order_by(WebhookDelivery.id)))


def test_events_are_written_with_their_predictions_or_not_at_all(sessions):
    with sessions() as session:
        every = outbox.add_webhook(session, "http://127.0.0.1:9/all", ["decision"], SECRET).id
        critical = outbox.add_webhook(session, "http://127.0.0.1:9/c", ["critical"], SECRET).id
        both = outbox.add_webhook(session, "http://127.0.0.1:9/h", ["critical", "hard"], SECRET).id
        paused = outbox.add_webhook(session, "http://127.0.0.1:9/p", ["decision"], SECRET).id
        outbox.set_active(session, paused, False)
        queries.save(session, [row("m-1"), row("m-2", "critical", True, key="key:1")])
        assert events(session) == sorted(
            [
                ("m-1", "decision", every),
                ("m-2", "decision", every),
                ("m-2", "critical", critical),
                ("m-2", "critical", both),
                ("m-2", "hard", both),
            ]
        )
        # A twin under the same key is refused whole: no prediction, no event.
        with pytest.raises(IntegrityError):
            queries.save(session, [row("m-3"), row("m-2", "critical", True, key="key:1")])
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Prediction)) == 2
        assert len(events(session)) == 5
        body = json.loads(session.scalars(select(WebhookDelivery.body)).first())
        assert set(body) == {"event_id", "type", "created_at", "prediction"}
        assert body["prediction"]["message_id"] == "m-1"
        assert body["prediction"]["actions"] == [{"type": "acknowledge"}]
        assert "text" not in body["prediction"]


def test_two_claims_never_share_an_event_and_a_dead_claim_expires(sessions):
    with sessions() as session:
        outbox.add_webhook(session, "http://127.0.0.1:9/all", ["decision"], SECRET)
        queries.save(session, [row(f"m-{i}") for i in range(120)])
    taken: list[int] = []
    errors: list[Exception] = []

    def claimer() -> None:
        empty = 0
        while empty < 3:
            try:
                with sessions() as session:
                    got = outbox.claim(session, 7, timedelta(seconds=60))
            except Exception as error:  # a claim must never fail, not even when contended
                errors.append(error)
                return
            taken.extend(e.id for e in got)
            empty = 0 if got else empty + 1

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(taken) == len(set(taken)) == 120

    with sessions() as session:
        queries.save(session, [row("late")])
        [dead] = outbox.claim(session, 10, timedelta(seconds=-1))  # a worker that died at once
        [again] = outbox.claim(session, 10, timedelta(seconds=60))
        assert (again.event_id, again.body) == (dead.event_id, dead.body)
        assert outbox.claim(session, 10, timedelta(seconds=60)) == []
        outbox.attempt_failed(session, dead, 500, "HTTP 500", datetime.now(UTC))  # ignored
        outbox.delivered(session, again, 204)
        [log] = outbox.deliveries(session, outbox.DeliveryFilters(status="delivered"), 10)
        assert (log.event_id, log.attempts, log.last_status) == (again.event_id, 1, 204)


def test_failed_events_stay_in_the_log_and_can_be_sent_again(sessions):
    with sessions() as session:
        hook = outbox.add_webhook(session, "http://127.0.0.1:9/all", ["decision"], SECRET).id
        queries.save(session, [row("m-1"), row("m-2")])
        first, second = outbox.claim(session, 10, timedelta(seconds=60))
        outbox.attempt_failed(session, first, None, "ConnectError: refused", None)
        outbox.attempt_failed(session, second, 500, "HTTP 500", None)
        failed = outbox.DeliveryFilters(webhook_id=hook, status="failed")
        assert [e.last_error for e in outbox.deliveries(session, failed, 10)] == [
            "ConnectError: refused",
            "HTTP 500",
        ]
        assert outbox.claim(session, 10, timedelta(seconds=60)) == []
        assert outbox.redeliver(session, first.event_id).status == "pending"
        assert outbox.redeliver_failed(session, hook) == 1
        assert {e.event_id for e in outbox.claim(session, 10, timedelta(seconds=60))} == {
            first.event_id,
            second.event_id,
        }
        assert outbox.purge(session, datetime.now(UTC) + timedelta(days=1)) == 0  # pending stay
        assert outbox.delete_webhook(session, hook)
        assert outbox.deliveries(session, outbox.DeliveryFilters(), 10) == []


# -- a real receiver on loopback -----------------------------------------------------------------
class Receiver:
    """An HTTP server on a loopback port that checks each POST's signature with the secret of
    its path, records it, and answers `status`; while `holding`, it keeps requests open."""

    def __init__(self, secrets: dict[str, str]):
        self.secrets = secrets
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.status = 200
        self.holding = False
        self.release = threading.Event()
        self.got: list[dict] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                signature = self.headers.get("x-triage-signature", "")
                secret = receiver.secrets[self.path]
                seen = {
                    "path": self.path,
                    "event_id": self.headers.get("x-triage-event-id"),
                    "type": self.headers.get("x-triage-event"),
                    "body": body,
                    "valid": verify(secret, signature, body),
                    "valid_with_another_secret": verify(secret + "x", signature, body),
                    "held": receiver.holding,
                    "status": receiver.status,
                }
                with receiver.lock:
                    receiver.got.append(seen)
                if seen["held"]:
                    receiver.release.wait(30)
                try:
                    self.send_response(seen["status"])
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the service was killed while we held its request

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def seen(self, path: str | None = None) -> list[dict]:
        with self.lock:
            return [g for g in self.got if path is None or g["path"] == path]

    def delivered(self, path: str) -> set[str]:
        return {g["event_id"] for g in self.seen(path) if g["status"] == 200 and not g["held"]}


def eventually(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:g} s: {what}")


FAST = {  # short waits for the tests: poll, first wait and cap, a POST's bound, a lease
    "COMPLAINTS_WEBHOOK_POLL_SECONDS": "0.1",
    "COMPLAINTS_WEBHOOK_BACKOFF_SECONDS": "0.2",
    "COMPLAINTS_WEBHOOK_BACKOFF_MAX_SECONDS": "1",
    "COMPLAINTS_WEBHOOK_TIMEOUT_SECONDS": "2",
    "COMPLAINTS_WEBHOOK_LEASE_SECONDS": "3",
}


def subscribe(http: httpx.Client, url: str, events: list[str], secret=SECRET) -> int:
    answer = http.post(HOOKS, headers=ADMIN, json={"url": url, "events": events, "secret": secret})
    assert answer.status_code == 201, answer.text
    assert answer.json()["secret"] == secret
    return answer.json()["id"]


def log_of(http: httpx.Client, **params) -> list[dict]:
    """Every page of the delivery log, two at a time."""
    items, cursor = [], None
    while True:
        page = http.get(
            f"{HOOKS}/deliveries",
            headers=ROUTER,
            params={**params, "limit": 2} | ({"cursor": cursor} if cursor else {}),
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def delivered_log(http: httpx.Client, count: int, **params) -> list[dict] | None:
    """The log once it holds `count` events, all delivered."""
    log = log_of(http, **params)
    done = len(log) == count and all(e["status"] == "delivered" for e in log)
    return log if done else None


def attempted(http: httpx.Client, count: int, times: int, **params) -> list[dict] | None:
    """The log once it holds `count` events, each attempted at least `times` times."""
    log = log_of(http, **params)
    return log if len(log) == count and all(e["attempts"] >= times for e in log) else None


def test_subscriptions_are_the_admins_and_bad_ones_are_refused(home, tmp_path):
    server = LiveServer(server_env(home, f"sqlite:///{tmp_path / 'subs.db'}"))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            good = {"url": "https://router.example.com/triage", "events": ["critical"]}
            assert http.post(HOOKS, json=good).status_code == 401
            for key in (CHANNEL, ROUTER, QUALITY):
                assert http.post(HOOKS, headers=key, json=good).status_code == 403
                assert http.get(HOOKS, headers=key).status_code == 403
            assert http.get(f"{HOOKS}/deliveries", headers=QUALITY).status_code == 403
            assert http.get(f"{HOOKS}/deliveries", headers=ROUTER).status_code == 200
            bad = http.get(f"{HOOKS}/deliveries", headers=ROUTER, params={"cursor": "nope"})
            assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "cursor"

            created = http.post(HOOKS, headers=ADMIN, json=good)
            assert created.status_code == 201
            secret = created.json()["secret"]
            assert secret.startswith("whsec_") and len(secret) > 40
            [listed] = http.get(HOOKS, headers=ADMIN).json()["items"]
            assert listed["events"] == ["critical"] and "secret" not in listed
            assert secret not in http.get(HOOKS, headers=ADMIN).text
            hook = listed["id"]
            paused = http.patch(f"{HOOKS}/{hook}", headers=ADMIN, json={"active": False})
            assert paused.status_code == 200 and paused.json()["active"] is False
            assert http.delete(f"{HOOKS}/{hook}", headers=ROUTER).status_code == 403
            assert http.delete(f"{HOOKS}/{hook}", headers=ADMIN).status_code == 204
            assert http.delete(f"{HOOKS}/{hook}", headers=ADMIN).status_code == 404

            for body, field, words in [
                ({"url": "ftp://router.example.com/x", "events": ["hard"]}, "url", "http://"),
                ({"url": "router.example.com/x", "events": ["hard"]}, "url", "https://"),
                ({"url": "https:///nohost", "events": ["hard"]}, "url", "with a host"),
                ({"url": good["url"], "events": ["urgent"]}, "events.0", "'critical'"),
                ({"url": good["url"], "events": []}, "events", "at least 1"),
                ({"url": good["url"], "events": ["hard"], "secret": "short"}, "secret", "16"),
            ]:
                answer = http.post(HOOKS, headers=ADMIN, json=body)
                assert answer.status_code == 422, body
                [problem] = answer.json()["detail"]
                assert problem["field"] == field and words in problem["problem"], problem
    finally:
        server.stop()


def test_every_event_arrives_through_a_receiver_down_then_failing(home, tmp_path):
    other = "another-secret-0123456789"
    receiver = Receiver({"/all": SECRET, "/critical": other})
    env = server_env(home, f"sqlite:///{tmp_path / 'hooks.db'}", **FAST)
    server = LiveServer(env, workers=2, log=tmp_path / "server.log").start()
    try:
        with http_of(server) as http:
            every = subscribe(http, f"{receiver.url}/all", ["decision"])
            critical = subscribe(http, f"{receiver.url}/critical", ["critical"], other)
            # The receiver is not listening yet: connections are refused.
            messages = [
                {"message_id": f"w-{i}", "text": ROUTINE[i % 2].format(i), "channel": "chat"}
                for i in range(6)
            ] + [{"message_id": "w-critical", "text": CRITICAL, "channel": "chat"}]
            answers = http.post(
                "/v1/classify/batch", headers=CHANNEL, json={"messages": messages}
            ).json()["results"]
            assert all(a["stored"] for a in answers)
            once = {"message_id": "w-once", "text": ROUTINE[0].format(9), "channel": "chat"}
            key = CHANNEL | {"Idempotency-Key": "once-1"}
            assert http.post("/v1/classify", headers=key, json=once).status_code == 200
            replayed = http.post("/v1/classify", headers=key, json=once)
            assert replayed.headers["Idempotent-Replayed"] == "true"  # stores and sends nothing
            answers.append(replayed.json())
            sent = {a["message_id"] for a in answers}
            critical_ids = {a["message_id"] for a in answers if a["urgency"] == "critical"}
            assert "w-critical" in critical_ids

            refused = eventually(
                lambda: attempted(http, len(sent), 3, webhook_id=every), 10, "3 refused attempts"
            )
            assert all("ConnectError" in e["last_error"] for e in refused)
            assert all(e["status"] == "pending" and e["last_status"] is None for e in refused)
            receiver.status = 500
            receiver.start()
            eventually(lambda: len(receiver.seen("/all")) >= len(sent), 10, "500s answered")
            receiver.status = 200
            count = len(sent) + len(critical_ids)
            eventually(lambda: delivered_log(http, count), 20, "every event delivered")
            log = log_of(http, webhook_id=every, status="delivered")
            assert log_of(http, status="failed") == log_of(http, status="pending") == []
            to_critical = log_of(http, webhook_id=critical)

        assert sorted(e["message_id"] for e in log) == sorted(sent)  # one each, the replay none
        assert {e["event_id"] for e in log} == receiver.delivered("/all")
        # Retried with backoff: 2-3 s of failures are 3 to 12 attempts, not one a poll (20-30).
        assert all(3 <= e["attempts"] <= 12 for e in log), [e["attempts"] for e in log]
        assert all(e["last_status"] == 200 and e["next_attempt_at"] is None for e in log)
        assert all(g["valid"] and not g["valid_with_another_secret"] for g in receiver.seen())
        for g in receiver.seen():
            body = json.loads(g["body"])
            assert (body["event_id"], body["type"]) == (g["event_id"], g["type"])
        # Two workers claimed from one database, and no event was delivered twice.
        assert len(receiver.delivered("/all")) == sum(
            g["status"] == 200 for g in receiver.seen("/all")
        )

        assert {e["message_id"] for e in to_critical} == critical_ids
        bodies = [json.loads(g["body"]) for g in receiver.seen("/critical")]
        assert {b["type"] for b in bodies} == {"critical"}
        assert all(b["prediction"]["urgency"] == "critical" for b in bodies)
        first = bodies[0]["prediction"]
        assert first["actions"][0]["type"] == "phone_senior_manager_now"
        assert first["safety"]["fired"] and first["model_version"] == "1"
        assert first["message_id"] == "w-critical" and first["channel"] == "chat"
    finally:
        server.stop()
        receiver.stop()


def http_of(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


def test_a_service_killed_mid_delivery_loses_no_event(home, tmp_path):
    receiver = Receiver({"/all": SECRET})
    receiver.holding = True
    receiver.start()
    env = server_env(home, f"sqlite:///{tmp_path / 'killed.db'}", **FAST)
    server = LiveServer(env, log=tmp_path / "server.log").start()
    try:
        with http_of(server) as http:
            subscribe(http, f"{receiver.url}/all", ["decision"])
            messages = [
                {"message_id": f"k-{i}", "text": ROUTINE[i % 2].format(i), "channel": "chat"}
                for i in range(5)
            ]
            http.post("/v1/classify/batch", headers=CHANNEL, json={"messages": messages})
            eventually(lambda: len(receiver.seen()) == 5, 10, "five requests held open")
            server.process.send_signal(signal.SIGKILL)  # mid-delivery: nothing is recorded
            server.process.wait(10)
            receiver.holding = False
            receiver.release.set()

        server.start()
        with http_of(server) as http:
            messages = [{"message_id": "k-after", "text": ROUTINE[0].format(7), "channel": "chat"}]
            http.post("/v1/classify/batch", headers=CHANNEL, json={"messages": messages})
            log = eventually(lambda: delivered_log(http, 6), 20, "all delivered after a restart")
            metrics = http.get("/metrics").text
        assert 'complaints_webhook_deliveries_total{outcome="delivered"} 6.0' in metrics
        assert {e["event_id"] for e in log} == receiver.delivered("/all")
        by_id: dict[str, list[bytes]] = {}
        for g in receiver.seen():
            by_id.setdefault(g["event_id"], []).append(g["body"])
        # The five held ones came twice, each time with the same id and the same body.
        assert sorted(len(b) for b in by_id.values()) == [1, 2, 2, 2, 2, 2]
        assert all(len(set(bodies)) == 1 for bodies in by_id.values())
        assert all(g["valid"] for g in receiver.seen())
    finally:
        server.stop()
        receiver.stop()
