"""The API contract as an integrator meets it: a client generated from /openapi.json (by
openapi-python-client) calls the live service; the documented errors are the real ones; /docs and
/redoc work with no internet; every operation carries a Russian example."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pettriage.api.launcher import LiveServer

from .servers import server_env

CHANNEL, ROUTER = "k-channel", "k-router"
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


@pytest.fixture(scope="module")
def live(trained, settings, tmp_path_factory):
    where = tmp_path_factory.mktemp("contract")
    env = server_env(settings.home, f"sqlite:///{where / 'contract.db'}")
    server = LiveServer(env, workers=1, log=where / "server.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def generated(live, tmp_path_factory):
    """The client package generated from the live service's own schema."""
    where = tmp_path_factory.mktemp("client")
    spec = where / "openapi.json"
    spec.write_bytes(httpx.get(f"{live.url}/openapi.json").content)
    config = where / "config.yaml"
    config.write_text(
        "project_name_override: triage-client\npackage_name_override: triage_client\n"
        "post_hooks: []\n"
    )
    tool = Path(sys.executable).parent / "openapi-python-client"
    done = subprocess.run(
        [tool, "generate", "--path", spec, "--config", config, "--output-path", where / "out"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout  # a part of the schema it could not read
    sys.path.insert(0, str(where / "out"))
    try:
        yield importlib.import_module("triage_client")
    finally:
        sys.path.remove(str(where / "out"))


def test_a_generated_client_classifies_and_reads_back(live, generated):
    from triage_client.api.default import classify_v1_classify_post as classify
    from triage_client.api.default import predictions_v1_predictions_get as listing
    from triage_client.models import ClassifyRequest, ClassifyRequestChannel

    client = generated.AuthenticatedClient(
        base_url=live.url, token=CHANNEL, prefix="", auth_header_name="X-API-Key"
    )
    request = ClassifyRequest(
        text="я у клиента, собака не дышит!!",
        channel=ClassifyRequestChannel.CHAT,
        message_id="gen-client-1",
    )
    answer = classify.sync(client=client, body=request, idempotency_key="gc-1")
    # Enums, not strings: what a router switches on is typed.
    assert type(answer.urgency).__name__.endswith("Urgency") and answer.urgency.value == "critical"
    assert answer.actions[0].type_.value == "phone_senior_manager_now"
    assert answer.safety.fired is True

    again = classify.sync_detailed(client=client, body=request, idempotency_key="gc-1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"

    reader = generated.AuthenticatedClient(
        base_url=live.url, token=ROUTER, prefix="", auth_header_name="X-API-Key"
    )
    page = listing.sync(client=reader, channel=ClassifyRequestChannel.CHAT, urgency="critical")
    assert [p.message_id for p in page.items] == ["gen-client-1"]
    assert page.items[0].created_at.tzinfo is not None

    conflict = classify.sync_detailed(
        client=client,
        body=ClassifyRequest(text="другое", channel=ClassifyRequestChannel.CHAT),
        idempotency_key="gc-1",
    )
    assert conflict.status_code == 409 and "idempotency key" in conflict.parsed.detail


def test_documented_errors_are_the_errors_answered(live):
    schema = httpx.get(f"{live.url}/openapi.json").json()
    components = schema["components"]["schemas"]
    assert set(components["Invalid"]["properties"]) == {"detail"}
    operation = schema["paths"]["/v1/predictions"]["get"]
    assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Invalid"
    }
    for code in ("401", "403"):
        assert operation["responses"][code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    answers = {
        422: httpx.get(f"{live.url}/v1/predictions?chanel=chat", headers={"X-API-Key": ROUTER}),
        401: httpx.get(f"{live.url}/v1/predictions"),
        403: httpx.get(f"{live.url}/v1/predictions", headers={"X-API-Key": CHANNEL}),
        404: httpx.get(f"{live.url}/v1/predictions/nothing", headers={"X-API-Key": ROUTER}),
    }
    for code, answer in answers.items():
        assert answer.status_code == code
        detail = answer.json()["detail"]
        if code == 422:
            assert [set(p) for p in detail] == [{"field", "problem"}]
        else:
            assert isinstance(detail, str) and detail


def test_docs_work_offline(live):
    """The pages name only our own assets, and those are served."""
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{live.url}{page}").text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
        assert urls, html
        for url in urls:
            assert url.startswith("/"), f"{page} loads {url} from elsewhere"
            assert httpx.get(f"{live.url}{url}").status_code == 200, url


def test_every_operation_has_an_example_in_russian(live):
    """Every request body and answer has an example; where it carries a message's text or a
    person's words, they are in Russian as they arrive."""
    schema = httpx.get(f"{live.url}/openapi.json").json()
    components = schema["components"]["schemas"]

    def example(content: dict) -> str | None:
        media = content.get("application/json") or next(iter(content.values()), {})
        if "example" in media or "examples" in media:
            return str(media.get("example", media.get("examples")))
        ref = media.get("schema", {}).get("$ref", "")
        model = components.get(ref.rsplit("/", 1)[-1], {}) if ref else media.get("schema", {})
        return str(model["examples"]) if "examples" in model else None

    def wordy(text: str) -> bool:
        return any(f"'{key}'" in text for key in ("text", "note", "comment", "annotator"))

    missing = []
    for path, operations in schema["paths"].items():
        if path in ("/healthz", "/readyz", "/metrics"):
            continue
        for method, operation in operations.items():
            ok = next(c for c in operation["responses"] if c.startswith("2"))
            parts = {
                "request": operation.get("requestBody", {}).get("content"),
                "answer": operation["responses"][ok].get("content"),
            }
            for part, content in parts.items():
                if not content:
                    continue
                shown = example(content)
                if shown is None or (wordy(shown) and not CYRILLIC.search(shown)):
                    missing.append(f"{method.upper()} {path} {part}")
    assert not missing, missing
