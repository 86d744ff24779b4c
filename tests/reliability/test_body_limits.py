"""(7) Every request body has a byte limit, enforced while it is read: a declared length above
it is answered 413 at once, a chunked body is cut with 413 as soon as it passes it, so the
memory is never spent and nothing is stored."""

from __future__ import annotations

import json
import re
import socket
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from pettriage.api.launcher import LiveServer
from pettriage.api.main import create_app

from ..servers import CHANNEL, QUALITY, ROUTER, server_env, settings_for

MB = 1024 * 1024
SMALL = {"max_json_bytes": 2_000, "max_batch_bytes": 50_000, "max_email_bytes": 10_000}


def json_of_size(body: dict, size: int) -> bytes:
    """`body` as JSON, padded with trailing spaces (which JSON allows) to exactly `size` bytes."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def email_of_size(size: int) -> bytes:
    message = EmailMessage()
    message["From"] = "Ирина <client@example.invalid>"
    message["Subject"] = "собака"
    message.set_content("Выгульщик не пришёл, собака весь день дома.", charset="utf-8")
    raw = message.as_bytes()
    assert len(raw) <= size
    return raw + b"\n" * (size - len(raw))


ONE = {"text": "кот голодный весь день", "channel": "chat"}
JSON = {"content-type": "application/json"}
RFC822 = {"content-type": "message/rfc822"}
# (route, headers, a body of n bytes, its limit in SMALL)
ROUTES = [
    ("/v1/classify", CHANNEL | JSON, lambda n: json_of_size(ONE, n), "max_json_bytes"),
    (
        "/v1/feedback",
        QUALITY | JSON,
        lambda n: json_of_size({"message_id": "none-such", "annotator": "a"}, n),
        "max_json_bytes",
    ),
    (
        "/v1/classify/batch",
        CHANNEL | JSON,
        lambda n: json_of_size({"messages": [ONE] * 40}, n),
        "max_batch_bytes",
    ),
    ("/v1/classify/email", CHANNEL | RFC822, email_of_size, "max_email_bytes"),
]


@pytest.fixture
def small_limits(home, tmp_path):
    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'limits.db'}", **SMALL))
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield client


@pytest.mark.parametrize(("route", "headers", "body", "limit"), ROUTES, ids=[r[0] for r in ROUTES])
def test_each_route_has_its_limit(small_limits, route, headers, body, limit):
    n = SMALL[limit]
    at_limit = small_limits.post(route, content=body(n), headers=headers)
    assert at_limit.status_code != 413, at_limit.text
    over = small_limits.post(route, content=body(n + 1), headers=headers)
    assert over.status_code == 413, over.text
    assert f"the body is over the limit of {n} bytes for {route}" in over.json()["detail"]


def test_an_email_form_counts_the_whole_upload(small_limits):
    fits = small_limits.post(
        "/v1/classify/email", files={"file": ("a.eml", email_of_size(5_000))}, headers=CHANNEL
    )
    assert fits.status_code == 200, fits.text
    over = small_limits.post(
        "/v1/classify/email", files={"file": ("a.eml", email_of_size(10_000))}, headers=CHANNEL
    )
    assert over.status_code == 413 and "limit of 10000 bytes" in over.json()["detail"]


def test_an_oversized_message_is_not_stored(client):
    """The default JSON limit (1 MB), on SQLite and PostgreSQL: a 50 MB body used to be stored.
    The bodies are padded with the spaces JSON allows, so only their size can refuse them."""
    big = json_of_size(ONE | {"message_id": "big-body"}, 2 * MB)
    refused = client.post("/v1/classify", content=big, headers=CHANNEL | JSON)
    assert refused.status_code == 413
    assert "over the limit of 1048576 bytes" in refused.json()["detail"]
    assert client.get("/v1/predictions/big-body", headers=ROUTER).status_code == 404
    fits = json_of_size(ONE | {"message_id": "fits"}, MB)
    stored = client.post("/v1/classify", content=fits, headers=CHANNEL | JSON)
    assert stored.status_code == 200 and stored.json()["stored"] is True
    assert client.get("/v1/predictions/fits", headers=ROUTER).status_code == 200


# -- over real HTTP: a live uvicorn, a declared length and a 60 MB chunked body -----------------
def _status(pid: int, field: str) -> int:
    """A field of /proc/<pid>/status, in bytes."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) * 1024


@pytest.fixture(scope="module")
def live(trained, settings, tmp_path_factory):
    db = tmp_path_factory.mktemp("limits") / "live.db"
    server = LiveServer(server_env(settings.home, f"sqlite:///{db}")).start()
    yield server
    server.stop()


@pytest.mark.parametrize("route", ["/v1/classify", "/v1/classify/batch", "/v1/classify/email"])
def test_a_declared_length_over_the_limit_is_answered_before_the_body(live, route):
    head = (
        f"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: k-channel\r\n"
        "Content-Type: application/json\r\nContent-Length: 62914560\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as connection:
        connection.sendall(head.encode())  # and not one byte of the body
        answer = b""
        while chunk := connection.recv(65536):  # the 413 closes the connection
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "over the limit of" in answer


@pytest.mark.parametrize(
    ("route", "content_type"),
    [("/v1/classify/email", "message/rfc822"), ("/v1/classify", "application/json")],
)
def test_a_chunked_body_is_cut_while_it_is_read(live, route, content_type):
    total, chunk = 60 * MB, b"x" * (64 * 1024)
    sent = 0

    def body():
        nonlocal sent
        while sent < total:
            sent += len(chunk)
            yield chunk

    pid = live.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak RSS starts again from here
    before = _status(pid, "VmRSS")
    answer = httpx.post(
        f"{live.url}{route}",
        content=body(),  # no length: Transfer-Encoding: chunked
        headers=CHANNEL | {"content-type": content_type},
        timeout=60,
    )
    grew = _status(pid, "VmHWM") - before
    assert answer.status_code == 413, answer.text[:300]
    assert sent < total, "the 413 came only after the client had sent everything"
    assert grew < 20 * MB, f"the worker's peak RSS grew by {grew / MB:.0f} MB"
    assert "over the limit of" in answer.json()["detail"]
