"""The mailbox connector against a real IMAP server (tests/imap.py: a Dovecot of the test's own on
loopback): each e-mail classified and stored once across a SIGTERM, a SIGKILL and a crash between
storing and marking; marks on every message; UIDVALIDITY changes; moves to Cyrillic folders;
the server away; a wrong password."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from queue import Empty, Queue

import pytest
from sqlalchemy import create_engine, text

from pettriage.api.email_intake import EmailError, parse
from pettriage.api.launcher import free_port
from pettriage.api.mailbox import Connector, Marks, RawMessage, check, keyword, marks_for
from pettriage.cli import main
from pettriage.config import Settings
from pettriage.store.db import make_engine, make_sessions
from pettriage.store.mailbox import Position, position

from .imap import DOVECOT, PASSWORD, USER, Dovecot, emails, fill
from .servers import server_env, settings_for

DONE_LINE = re.compile(r"UID (\d+): (classified|already classified|not classified)")


# -- tables: marks, waits and settings ---------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("critical_lateness", "triage_critical_lateness"),
        ("hard", "triage_hard"),
        ("urgent (см.)", "triage_urgent______"),  # only ASCII atom characters survive
        ("a b]c%d*e\\f", "triage_a_b_c_d_e_f"),
    ],
)
def test_keywords_are_imap_atoms(label, expected):
    assert keyword(label) == expected


ANSWER = {"category": "death", "urgency": "critical", "is_hard": True, "needs_review": False}
ROUTINE = {"category": "other", "urgency": "low", "is_hard": False, "needs_review": True}
HIGH = ANSWER | {"category": "theft", "urgency": "high"}  # hard, and no folder for "high"
DONE = Marks((), "Разобрано")
MOVES = {"critical": "Срочно", "hard": "Сложные", "error": "Не разобрано"}


@pytest.mark.parametrize(
    ("answer", "settings", "expected"),
    [
        (ANSWER, {}, Marks(("triage_done", "triage_death", "triage_critical", "triage_hard"))),
        (ROUTINE, {}, Marks(("triage_done", "triage_other", "triage_low", "triage_review"))),
        (None, {}, Marks(("triage_error",))),
        (ANSWER, {"imap_move_to": MOVES, "imap_keywords": False}, Marks((), "Срочно")),
        (HIGH, {"imap_move_to": MOVES, "imap_keywords": False}, Marks((), "Сложные")),
        (ROUTINE, {"imap_move_to": MOVES, "imap_keywords": False}, Marks(())),
        (ROUTINE, {"imap_move_to": {"done": "Разобрано"}, "imap_keywords": False}, DONE),
        (None, {"imap_move_to": MOVES, "imap_keywords": False}, Marks((), "Не разобрано")),
    ],
)
def test_marks(answer, settings, expected):
    assert marks_for(answer, Settings(**settings)) == expected


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "needs COMPLAINTS_IMAP_HOST, COMPLAINTS_IMAP_USER, COMPLAINTS_IMAP_PASSWORD"),
        ({"imap_move_to": {"urgent": "X"}}, "expected keys among critical, high"),
        ({"imap_move_to": {"done": "INBOX"}}, "which COMPLAINTS_IMAP_FOLDERS reads too"),
    ],
)
def test_settings_that_make_no_connector_say_what_to_set(settings, problem):
    login = {"imap_host": "h", "imap_user": "u", "imap_password": "p"} if settings else {}
    with pytest.raises(ValueError, match=re.escape(problem)):
        check(Settings(**login, **settings))


def test_the_password_is_never_shown():
    settings = Settings(imap_password="s3cret-value")
    assert "s3cret-value" not in repr(settings) and "s3cret-value" not in str(settings)


# -- a real server -------------------------------------------------------------------------------
@pytest.fixture
def dovecot():
    if not DOVECOT.exists():
        pytest.fail(f"no Dovecot at {DOVECOT}: run `make imap` (Debian's dovecot-imapd)")
    server = Dovecot(free_port()).start()
    yield server
    server.remove()


def imap_settings(server: Dovecot, **extra) -> dict:
    return {
        "imap_host": "127.0.0.1",
        "imap_port": server.port,
        "imap_security": "plain",
        "imap_user": USER,
        "imap_password": PASSWORD,
        "imap_poll_seconds": 0.2,
        "imap_timeout_seconds": 5,
        "imap_backoff_max_seconds": 1,
        **extra,
    }


def imap_env(server: Dovecot, **extra) -> dict[str, str]:
    return {f"COMPLAINTS_{k.upper()}": str(v) for k, v in imap_settings(server, **extra).items()}


def run_once(home, db: str, server: Dovecot, **extra) -> int:
    """`complaints mailbox --once` in this process."""
    return main(["mailbox", "--once"], settings_for(home, db, **imap_settings(server, **extra)))


class Process:
    """`complaints mailbox` in a process of its own, its log read line by line."""

    def __init__(self, home, db: str, env: dict[str, str], *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pettriage.cli", "mailbox", *args],
            env=os.environ | server_env(home, db, **env),
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: Queue[str] = Queue()
        self.log: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line)

    def _take(self, timeout: float) -> None:
        self.log.append(self.lines.get(timeout=timeout))

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while sum(bool(re.search(pattern, line)) for line in self.log) < count:
            try:
                self._take(max(0.01, deadline - time.monotonic()))
            except Empty:
                self.process.kill()
                raise AssertionError(f"no {count} × {pattern!r} in:\n{''.join(self.log)}") from None

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        self.reader.join(10)
        while not self.lines.empty():
            self._take(0)
        return code

    @property
    def uids(self) -> list[int]:
        """The UIDs it was done with, in order."""
        return [int(m[1]) for line in self.log if (m := DONE_LINE.search(line))]

    @property
    def classified(self) -> int:
        """How many e-mails it classified and stored."""
        return sum(m[2] == "classified" for line in self.log if (m := DONE_LINE.search(line)))


def stored(db: str) -> dict[str, int]:
    """Idempotency key → how many predictions are stored under it."""
    engine = create_engine(db)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT idempotency_key, count(*) FROM predictions GROUP BY idempotency_key")
        )
        counts = dict(rows.all())
    engine.dispose()
    return counts


def saved_position(db: str, server: Dovecot, folder: str = "INBOX"):
    engine = make_engine(db)
    with make_sessions(engine)() as session:
        where = position(session, f"{USER}@127.0.0.1/{folder}")
    engine.dispose()
    return where


def on_server(server: Dovecot, folder: str = "INBOX") -> tuple[int, list[tuple[int, str, set]]]:
    """The folder's UIDVALIDITY and (UID, the e-mail's key or "" when it cannot be read, its
    keywords) of each message."""
    with server.connect() as box:
        box.email_message_class = RawMessage
        uidvalidity = box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"]
        box.folder.set(folder)
        found = []
        for message in box.fetch(mark_seen=False, bulk=50):
            try:
                key = parse(message.raw).key
            except EmailError:
                key = ""
            found.append((int(message.uid), key, set(message.flags)))
    return uidvalidity, found


def predictions(db: str) -> dict[str, tuple]:
    engine = create_engine(db)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT idempotency_key, category, urgency, is_hard FROM predictions")
        ).all()
    engine.dispose()
    return {key: (category, urgency, bool(hard)) for key, category, urgency, hard in rows}


def assert_marked(db: str, server: Dovecot, folder: str = "INBOX") -> None:
    decided = predictions(db)
    _, messages = on_server(server, folder)
    for uid, key, flags in messages:
        if not key:
            assert "triage_error" in flags, uid
            continue
        category, urgency, hard = decided[key]
        assert {"triage_done", keyword(category), keyword(urgency)} <= flags, (uid, flags)
        assert ("triage_hard" in flags) == hard, (uid, flags)


def test_each_email_once_across_sigterm_sigkill_and_restart(home, dovecot, tmp_path, caplog):
    raws, distinct = emails(200)
    fill(dovecot, raws)
    db = f"sqlite:///{tmp_path / 'mail.db'}"
    env = imap_env(dovecot)

    # SIGTERM: the message in hand is finished, and the saved UID is the last one done.
    first = Process(home, db, env)
    first.wait_for(DONE_LINE.pattern, count=30)
    first.process.send_signal(signal.SIGTERM)
    assert first.finish() == 0, "".join(first.log)
    assert "SIGTERM: finishing the message in hand" in "".join(first.log)
    assert saved_position(db, dovecot).last_uid == max(first.uids)
    assert sum(stored(db).values()) == first.classified

    # SIGKILL somewhere in the middle: whatever was in hand is left half-done.
    second = Process(home, db, env)
    second.wait_for(DONE_LINE.pattern, count=40)
    second.process.kill()
    second.finish()
    assert first.classified + 35 <= sum(stored(db).values()) < distinct, "not killed mid-way"
    assert min(second.uids) == max(first.uids) + 1  # on from where the first one stopped

    caplog.set_level(logging.INFO, logger="mailbox")
    assert run_once(home, db, dovecot) == 0

    counts = stored(db)
    assert len(counts) == distinct and set(counts.values()) == {1}
    assert counts["email:c0010.14@mail.example.ru"] == 1  # delivered twice, stored once
    uidvalidity, messages = on_server(dovecot)
    assert len(messages) == 200
    assert_marked(db, dovecot)
    assert saved_position(db, dovecot) == Position(uidvalidity, 200)
    assert "UID 101: not classified, marked triage_error: expected a text/plain" in caplog.text


class Crash(BaseException):
    """The process dying: nothing catches it."""


def test_crash_between_storing_and_marking_then_uidvalidity_change(
    home, dovecot, tmp_path, caplog, monkeypatch
):
    caplog.set_level(logging.INFO, logger="mailbox")
    raws, _ = emails(12, seed=3)  # 10 e-mails, one of them twice, one scan
    fill(dovecot, raws)
    db = f"sqlite:///{tmp_path / 'mail.db'}"
    marked = []
    mark = Connector._mark

    def mark_then_die(box, uid, marks):
        if len(marked) == 3:
            raise Crash
        mark(box, uid, marks)
        marked.append(uid)

    monkeypatch.setattr(Connector, "_mark", staticmethod(mark_then_die))
    with pytest.raises(Crash):
        run_once(home, db, dovecot)
    assert sum(stored(db).values()) == 4  # the fourth was stored, then the process died
    assert saved_position(db, dovecot).last_uid == 3
    monkeypatch.undo()

    assert run_once(home, db, dovecot) == 0
    assert "UID 4: already classified" in caplog.text  # the stored answer, nothing new
    counts = stored(db)
    assert len(counts) == 10 and set(counts.values()) == {1}
    assert_marked(db, dovecot)

    # The server renumbers the folder: read again from the start, nothing stored twice.
    before = saved_position(db, dovecot)
    dovecot.set_uidvalidity("INBOX", before.uidvalidity + 1000)
    fill(dovecot, emails(3, seed=4)[0][:1])
    caplog.clear()
    assert run_once(home, db, dovecot) == 0
    assert f"UIDVALIDITY changed from {before.uidvalidity} to {before.uidvalidity + 1000}" in (
        caplog.text
    )
    assert caplog.text.count("already classified") == 11  # ten e-mails, one of them twice
    assert len(stored(db)) == 11 and set(stored(db).values()) == {1}
    assert saved_position(db, dovecot) == Position(before.uidvalidity + 1000, 13)


KEPT = (
    "From: olga@example.ru\r\nSubject: Payment\r\nMessage-ID: <kept@example.ru>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nПодскажите, можно ли оплатить картой?\r\n"
).encode()


def test_moves_to_cyrillic_folders(home, dovecot, tmp_path):
    raws, _ = emails(24, seed=5)
    fill(dovecot, raws, "Жалобы")
    with dovecot.connect() as box:  # someone deleted it and has not expunged yet: it must stay
        box.append(KEPT, "Жалобы", flag_set=["\\Deleted"])
    db = f"sqlite:///{tmp_path / 'mail.db'}"
    moves = {"critical": "Срочно", "error": "Не разобрано"}
    assert run_once(home, db, dovecot, imap_folders=["Жалобы"], imap_move_to=moves) == 0

    decided = predictions(db)
    critical = {key for key, (_, urgency, _) in decided.items() if urgency == "critical"}
    assert critical, "the e-mails should hold a critical one"
    _, urgent = on_server(dovecot, "Срочно")
    _, rest = on_server(dovecot, "Жалобы")
    _, unread = on_server(dovecot, "Не разобрано")
    assert {key for _, key, _ in urgent} == critical
    assert not critical & {key for _, key, _ in rest}
    assert "email:kept@example.ru" in {key for _, key, _ in rest}  # moved by MOVE, no EXPUNGE
    assert [key for _, key, _ in unread] == [""]  # the scan
    assert len(urgent) + len(rest) + len(unread) == 25
    assert_marked(db, dovecot, "Срочно")
    with dovecot.connect() as box:  # the names travel in IMAP's modified UTF-7
        listing = b" ".join(box.client.list()[1])
    assert b"&BCEEQAQ+BEcEPQQ+-" in listing  # Срочно


def test_waits_for_the_server_then_reads(home, dovecot, tmp_path):
    raws, distinct = emails(8, seed=6)
    fill(dovecot, raws)
    dovecot.stop()
    db = f"sqlite:///{tmp_path / 'mail.db'}"
    connector = Process(home, db, imap_env(dovecot), "--once")
    connector.wait_for("connection refused .*; trying again in", count=3)
    dovecot.start()
    assert connector.finish() == 0, "".join(connector.log)
    waits = [float(w) for w in re.findall(r"trying again in ([\d.]+) s", "".join(connector.log))]
    assert len(waits) >= 3 and all(0.5 <= w <= 1 for w in waits)  # jittered, capped at 1 s
    assert len(stored(db)) == distinct
    assert_marked(db, dovecot)


def test_a_wrong_password_stops_with_a_clear_error(home, dovecot, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="mailbox")
    db = f"sqlite:///{tmp_path / 'mail.db'}"
    started = time.monotonic()
    assert run_once(home, db, dovecot, imap_password="Wr0ng-pa55word") == 1
    assert time.monotonic() - started < 30  # no retries
    error = capsys.readouterr().err
    assert f"refused the login of '{USER}'" in error and "[AUTHENTICATIONFAILED]" in error
    assert "check COMPLAINTS_IMAP_USER and COMPLAINTS_IMAP_PASSWORD" in error
    assert "trying again" not in caplog.text
    assert "Wr0ng-pa55word" not in error + caplog.text


# -- TLS: IMAPS and STARTTLS, with a company's own CA -------------------------------------------
@pytest.fixture
def tls_dovecot():
    if not DOVECOT.exists():
        pytest.fail(f"no Dovecot at {DOVECOT}: run `make imap` (Debian's dovecot-imapd)")
    server = Dovecot(free_port(), tls_port=free_port()).start()
    yield server
    server.remove()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_reads_over_tls_trusting_the_configured_ca(home, tls_dovecot, tmp_path, security):
    raws, distinct = emails(6, seed=7)
    fill(tls_dovecot, raws)
    db = f"sqlite:///{tmp_path / 'mail.db'}"
    port = tls_dovecot.tls_port if security == "ssl" else tls_dovecot.port
    code = run_once(
        home,
        db,
        tls_dovecot,
        imap_security=security,
        imap_port=port,
        imap_ca_file=str(tls_dovecot.certificate),
    )
    assert code == 0
    assert len(stored(db)) == distinct
    assert_marked(db, tls_dovecot)


def test_an_untrusted_certificate_stops_with_what_to_set(home, tls_dovecot, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'mail.db'}"
    settings = {"imap_security": "ssl", "imap_port": tls_dovecot.tls_port}
    assert run_once(home, db, tls_dovecot, **settings) == 1
    error = capsys.readouterr().err
    assert "certificate is not trusted" in error and "COMPLAINTS_IMAP_CA_FILE" in error
    missing = str(tmp_path / "no-such-ca.pem")
    assert run_once(home, db, tls_dovecot, **settings, imap_ca_file=missing) == 1
    assert "cannot be read as a PEM certificate" in capsys.readouterr().err


def test_a_new_email_is_read_at_once_while_idle(home, dovecot, tmp_path):
    """With one folder, the connector IDLEs: an e-mail arriving is read within seconds, not at
    the next poll (here two minutes away), and a SIGTERM is heard while it waits."""
    raws, _ = emails(3, seed=8)
    fill(dovecot, raws)
    db = f"sqlite:///{tmp_path / 'mail.db'}"
    waiting = Process(home, db, imap_env(dovecot, imap_poll_seconds=120))
    try:
        waiting.wait_for(DONE_LINE.pattern, count=3)
        time.sleep(1.5)  # in IDLE by now
        arrived = time.monotonic()
        fill(dovecot, [KEPT])
        waiting.wait_for(DONE_LINE.pattern, count=4, timeout=20)
        assert time.monotonic() - arrived < 10
        asked = time.monotonic()
        waiting.process.send_signal(signal.SIGTERM)
        assert waiting.finish(timeout=20) == 0
        assert time.monotonic() - asked < 10
    finally:
        if waiting.process.poll() is None:
            waiting.process.kill()
    assert stored(db)["email:kept@example.ru"] == 1
