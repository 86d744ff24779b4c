"""(6) Phone numbers and e-mail addresses never reach the logs: not in a log call's arguments,
not percent-encoded in a URL path or query string, not in a traceback or the SQL parameters of
a failed INSERT; and masking never breaks a formatter (uvicorn's access log unpacks its five
arguments)."""

from __future__ import annotations

import io
import logging
import re

import httpx
import pytest
from sqlalchemy import create_engine, text
from uvicorn.logging import AccessFormatter

from pettriage.api import logs
from pettriage.api.launcher import LiveServer

from ..servers import CHANNEL, ROUTER, server_env

PHONE = "+79161234567"
DIGITS = "9161234567"  # no run of these digits may be printed, in any spelling of the number
EMAIL = "irina.test@example.invalid"


def shows_a_contact(output: str) -> bool:
    return DIGITS in re.sub(r"\D", "", output) or "irina" in output or "example.invalid" in output


# (what, format, args): each is logged through a real logger and a real formatter.
CASES = [
    ("an argument", "call %s", (PHONE,)),
    ("spaced and dashed", "call %s now", ("+7 916 123-45-67",)),
    ("an e-mail argument", "write to %s", (EMAIL,)),
    ("percent-encoded path", "GET %s", ("/v1/predictions/%2B79161234567",)),
    ("percent-encoded e-mail", "GET %s", ("/v1/predictions/irina.test%40example.invalid",)),
    ("query string", "GET %s", ("/v1/predictions?q=%2B7%20916%20123-45-67&limit=5",)),
    ("plus as a space", "GET %s", ("/v1/predictions?q=8+916+123+45+67",)),
    ("dict arguments", "%(who)s wrote %(count)d times", ({"who": EMAIL, "count": 3},)),
    ("in the message itself", f"call {PHONE} or {EMAIL}", ()),
    ("an exception as argument", "failed (%s)", (ValueError(f"duplicate key {PHONE}"),)),
]


@pytest.fixture
def captured():
    """A real logger with a real handler; the masking installed the way the service does."""
    logs.install()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("api")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, out
    logger.removeHandler(handler)


@pytest.mark.parametrize(("what", "fmt", "args"), CASES, ids=[c[0] for c in CASES])
def test_arguments_are_masked_in_place(captured, what, fmt, args):
    logger, out = captured
    logger.info(fmt, *args)
    printed = out.getvalue()
    assert printed.startswith("INFO "), printed
    assert not shows_a_contact(printed), f"{what}: {printed!r}"
    assert "phonetoken" in printed or "emailtoken" in printed


def test_arguments_keep_their_shape(captured):
    logger, out = captured
    logger.info("%s sent %d messages, %.1f%% urgent", PHONE, 12, 25.0)
    assert out.getvalue() == "INFO  phonetoken  sent 12 messages, 25.0% urgent\n"


def test_tracebacks_and_stacks_are_masked(captured):
    logger, out = captured
    try:
        raise RuntimeError(f"INSERT failed [parameters: ('{PHONE}', '{EMAIL}')]")
    except RuntimeError:
        logger.exception("could not store")
    logger.warning("where from", stack_info=True)  # the stack shows this line: +79161234567
    printed = out.getvalue()
    assert "could not store" in printed and "RuntimeError: INSERT failed" in printed
    assert "Stack (most recent call last)" in printed
    assert not shows_a_contact(printed), printed


def test_uvicorn_access_log_stays_formattable(captured, capsys):
    """uvicorn's AccessFormatter unpacks (client, method, path, version, status) from the
    record's arguments: collapsing them into the message printed `--- Logging error ---` with
    the unmasked path in the report."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        for path in (
            f"/v1/predictions/{PHONE}",
            f"/v1/predictions/{EMAIL}",
            "/v1/x?q=%2B79161234567",
        ):
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 404)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    printed, errors = out.getvalue(), capsys.readouterr().err
    assert "Logging error" not in errors, errors
    assert printed.count('"GET /v1/') == 3 and printed.count(" 404") == 3, printed
    assert not shows_a_contact(printed + errors), printed + errors


# -- a real uvicorn: its access log, and an INSERT that fails, on SQLite and PostgreSQL ---------
def _sqlalchemy_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def test_live_server_log_holds_no_contact(home, database_url, tmp_path):
    log = tmp_path / "server.log"
    server = LiveServer(server_env(home, database_url), log=log).start()
    try:
        by_path = httpx.get(f"{server.url}/v1/predictions/{PHONE}", headers=ROUTER)
        assert by_path.status_code == 404
        by_email = httpx.get(f"{server.url}/v1/predictions/{EMAIL}", headers=ROUTER)
        assert by_email.status_code == 404
        by_query = httpx.get(f"{server.url}/v1/predictions?q=%2B79161234567", headers=ROUTER)
        assert by_query.status_code == 200
        # the table goes away under the running service: storing fails, the answer still comes
        engine = create_engine(_sqlalchemy_url(database_url))
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE predictions RENAME TO predictions_gone"))
        engine.dispose()
        answer = httpx.post(
            f"{server.url}/v1/classify",
            headers=CHANNEL,
            json={
                "message_id": PHONE,  # an allowed id, logged when storing fails
                "channel": "chat",
                "text": f"ситтер не пришла, перезвоните {PHONE} или +7 916 123-45-67, {EMAIL}",
            },
        )
        assert answer.status_code == 200 and answer.json()["stored"] is False
    finally:
        server.stop()
    printed = log.read_text("utf-8", errors="replace")
    assert "could not store" in printed, printed[-3000:]
    assert "[parameters:" not in printed  # no error's text carries a statement's values
    assert "Logging error" not in printed, printed[-3000:]
    assert printed.count("phonetoken") >= 2 and "emailtoken" in printed  # the access lines
    assert not shows_a_contact(printed), printed[-3000:]
