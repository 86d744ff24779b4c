"""The mailbox connector: `complaints mailbox` reads the new e-mails of IMAP folders, classifies
each in this process (the service's database, champion and stored predictions) and marks it on
the server with keywords (`triage_done`, `triage_<category>`, `triage_<urgency>`, `triage_hard`,
`triage_review`; `triage_error` for an e-mail that cannot be read) or moves it to a folder.

Exactly once. Each folder is read in UID order, and for each message: classify (stored under
the e-mail's key), mark, then save the UID in `mailbox_state` (`store.mailbox`). A crash after
the classification was stored and before the UID was saved leaves the message to the next start,
which classifies it again: `TriageService.classify_email` knows the e-mail by its Message-ID (or,
without one, its bytes), answers with the stored decision and stores nothing (`replayed`), and
the marks are set again (a keyword set twice is set once). So each e-mail is stored once and
marked at least once, whatever moment the process dies at. A UID names a message only under its
folder's UIDVALIDITY: when the server changes it, the folder is read again from the start, on the
same argument.

The server away (refused, reset, silent for `imap_timeout_seconds`, a dropped connection) and a
database that does not store are waited out: waits double from one second to
`imap_backoff_max_seconds`, each taken between half and all of it. A login the server refuses,
a folder that does not exist or a certificate that is not trusted stop the connector with a
message saying what to fix: trying again would not change them, and repeating a wrong password
can lock the account.

Longer than 300 lines because it is one connector: the order of classify, mark and save, the
IMAP calls that order needs, and the waits around them are read together or misread.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import re
import signal
import ssl
import time
from dataclasses import dataclass

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools.errors import (
    ImapToolsError,
    MailboxFlagError,
    MailboxFolderSelectError,
    MailboxLoginError,
)
from sqlalchemy.exc import SQLAlchemyError

from pettriage.classifier.labels import URGENCIES
from pettriage.config import Settings
from pettriage.store import mailbox as positions
from pettriage.store.mailbox import Position

from .email_intake import EmailError
from .idempotency import KeyReused
from .service import NoModel, Overdue, TextTooLong, TriageService
from .webhooks import backoff

log = logging.getLogger("mailbox")

DONE, ERROR = "triage_done", "triage_error"
MOVE_KEYS = (*URGENCIES, "hard", "done", "error")  # the keys of `imap_move_to`
FIRST_WAIT = 1.0  # seconds before the first retry; doubled up to imap_backoff_max_seconds
LOOPBACK = {"127.0.0.1", "::1", "localhost"}  # where plain IMAP sends no password abroad


class Stop(RuntimeError):
    """What trying again would not change: the message says what to fix."""


class NotStored(Exception):
    """A classification the database did not store: the message is tried again later."""


# Waited out: the network or the server (OSError covers refused and reset connections, timeouts
# and TLS failures; IMAP4.abort a dropped connection; IMAP4.error and ImapToolsError a command
# the server refused), the database, an overloaded classifier.
RETRY = (OSError, imaplib.IMAP4.error, ImapToolsError, SQLAlchemyError, NotStored, Overdue)


def keyword(label: str) -> str:
    """The keyword of a label: an IMAP atom (RFC 3501) of ASCII letters, digits and `_`."""
    return "triage_" + re.sub(r"[^A-Za-z0-9_]", "_", label)


@dataclass(frozen=True)
class Marks:
    keywords: tuple[str, ...]
    folder: str | None = None  # where the message is moved; None: it stays


def marks_for(answer: dict | None, settings: Settings) -> Marks:
    """The marks of a classified e-mail, or of one that could not be read (None)."""
    moves = settings.imap_move_to
    if answer is None:
        keywords, folder = [ERROR], moves.get("error")
    else:
        urgency, hard = answer["urgency"], answer["is_hard"]
        keywords = [DONE, keyword(answer["category"]), keyword(urgency)]
        keywords += [keyword("hard")] * hard + [keyword("review")] * answer["needs_review"]
        folder = moves.get(urgency) or (moves.get("hard") if hard else None) or moves.get("done")
    return Marks(tuple(keywords) if settings.imap_keywords else (), folder)


class RawMessage(MailMessage):
    """A fetched message that keeps its bytes as the server sent them: an e-mail without a
    Message-ID is known by those bytes, which serialising the parsed message again can alter."""

    def __init__(self, fetch_data: list):
        super().__init__(fetch_data)
        self.raw: bytes = self._get_message_data_parts(fetch_data)[0]


def check(settings: Settings) -> None:
    """ValueError saying what to set when the settings cannot make a connector."""
    missing = [
        f"COMPLAINTS_IMAP_{name.upper()}"
        for name in ("host", "user", "password")
        if not getattr(settings, f"imap_{name}")
    ]
    if missing:
        raise ValueError(
            f"the mailbox connector needs {', '.join(missing)} (README, 'Mailbox connector')"
        )
    moves = settings.imap_move_to
    unknown = sorted(set(moves) - set(MOVE_KEYS))
    if unknown:
        raise ValueError(
            f"COMPLAINTS_IMAP_MOVE_TO: expected keys among {', '.join(MOVE_KEYS)}, got {unknown}"
        )
    # A message moved into a folder that is read would come back under a new UID.
    looping = sorted(set(moves.values()) & set(settings.imap_folders))
    if looping:
        raise ValueError(
            f"COMPLAINTS_IMAP_MOVE_TO moves messages into {looping}, which "
            "COMPLAINTS_IMAP_FOLDERS reads too: move them to folders that are not read"
        )


class Connector:
    """Reads `settings.imap_folders` until `stop` is set, or through once with `once`."""

    def __init__(self, settings: Settings, service: TriageService, stop: asyncio.Event):
        check(settings)
        self.settings = settings
        self.service = service
        self.stop = stop
        self.port = settings.imap_port or (993 if settings.imap_security == "ssl" else 143)
        self.server = f"{settings.imap_host}:{self.port}"
        self.failures = 0  # in a row: the waits grow with them

    async def run(self, once: bool = False) -> None:
        if self.service.champion.model is None:
            raise Stop(str(NoModel()))
        if self.settings.imap_security == "plain" and self.settings.imap_host not in LOOPBACK:
            log.warning("%s: plain IMAP, the password travels unencrypted", self.server)
        while not self.stop.is_set():
            try:
                await self._visit(once)
                break
            except RETRY as error:
                self.failures += 1
                wait = backoff(self.failures, FIRST_WAIT, self.settings.imap_backoff_max_seconds)
                log.warning("%s: %s; trying again in %.1f s", self.server, _why(error), wait)
                await self._sleep(wait)
        log.info("stopped")

    async def _visit(self, once: bool) -> None:
        box = await asyncio.to_thread(self._connect)
        try:
            while not self.stop.is_set():
                for folder in self.settings.imap_folders:
                    await self._read(box, folder)
                    if self.stop.is_set():
                        return
                self.failures = 0  # a whole round went through
                if once:
                    return
                await self._until_news(box)
        finally:
            await asyncio.to_thread(_logout, box)

    async def _until_news(self, box: MailBox) -> None:
        """Wait for the next round: with one folder on a server that has IDLE, until the server
        says something changed (a critical e-mail is read within a second, not a poll interval
        later) or `imap_poll_seconds` pass; otherwise the poll interval."""
        seconds = self.settings.imap_poll_seconds
        capabilities = getattr(box.client, "capabilities", ())
        if len(self.settings.imap_folders) == 1 and "IDLE" in capabilities:
            await asyncio.to_thread(self._idle, box, seconds)
        else:
            await self._sleep(seconds)

    def _idle(self, box: MailBox, seconds: float) -> None:
        """IDLE for up to `seconds`, listening a second at a time so that a stop is heard."""
        deadline = time.monotonic() + seconds
        box.idle.start()
        try:
            while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if box.idle.poll(timeout=min(1.0, left)):
                    break
        except BaseException:
            with contextlib.suppress(Exception):  # the connection is likely gone already
                box.idle.stop()
            raise
        box.idle.stop()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    # -- the server (these run in a thread: imaplib blocks) ----------------------------------
    def _connect(self) -> MailBox:
        s = self.settings
        timeout = s.imap_timeout_seconds
        try:
            if s.imap_security == "ssl":
                context = _tls_context(s.imap_ca_file)
                box = MailBox(s.imap_host, self.port, timeout=timeout, ssl_context=context)
            elif s.imap_security == "starttls":
                context = _tls_context(s.imap_ca_file)
                box = MailBoxStartTls(s.imap_host, self.port, timeout=timeout, ssl_context=context)
            else:
                box = MailBoxUnencrypted(s.imap_host, self.port, timeout=timeout)
        except ssl.SSLCertVerificationError as error:
            raise Stop(
                f"{self.server}: the server's certificate is not trusted ({error.verify_message}); "
                "check COMPLAINTS_IMAP_HOST, or give its CA in COMPLAINTS_IMAP_CA_FILE"
            ) from error
        box.email_message_class = RawMessage
        try:
            box.login(s.imap_user, s.imap_password.get_secret_value(), initial_folder=None)
        except MailboxLoginError as error:
            _logout(box)
            said = _said(error)
            if "[UNAVAILABLE]" in said:  # RFC 5530: the server cannot check passwords just now
                raise
            raise Stop(
                f"{self.server} refused the login of {s.imap_user!r} ({said}); check "
                "COMPLAINTS_IMAP_USER and COMPLAINTS_IMAP_PASSWORD. Not trying again: a wrong "
                "password stays wrong, and repeating it can lock the account"
            ) from error
        log.info("%s: logged in as %s (%s)", self.server, s.imap_user, s.imap_security)
        try:
            # imaplib keeps the capabilities announced before login, and servers (Dovecot) name
            # MOVE only after it; without MOVE, imap-tools moves by COPY, \Deleted and EXPUNGE,
            # which also expunges what others marked \Deleted.
            _, said = box.client.capability()
            box.client.capabilities = tuple(said[-1].decode().upper().split())
            for folder in sorted(set(s.imap_move_to.values())):
                if not box.folder.exists(folder):
                    box.folder.create(folder)
                    log.info("%s: created the folder %s", self.server, folder)
        except BaseException:
            _logout(box)
            raise
        return box

    def _select(self, box: MailBox, folder: str) -> int:
        """Select `folder`; its UIDVALIDITY."""
        try:
            box.folder.set(folder)
        except MailboxFolderSelectError as error:
            if box.folder.exists(folder):
                raise
            found = ", ".join(f.name for f in box.folder.list()) or "none"
            raise Stop(
                f"{self.server}: no folder {folder!r} in the mailbox of "
                f"{self.settings.imap_user!r} (there are: {found}); check COMPLAINTS_IMAP_FOLDERS"
            ) from error
        answers = box.client.untagged_responses
        permanent = b" ".join(answers.get("PERMANENTFLAGS", [b"\\*"]))
        if self.settings.imap_keywords and b"\\*" not in permanent:
            log.warning("%s: the server keeps no keywords here; the marks will be lost", folder)
        if answers.get("UIDVALIDITY"):
            return int(answers["UIDVALIDITY"][-1])
        return box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"]

    @staticmethod
    def _uids_after(box: MailBox, last: int) -> list[int]:
        # `UID n:*` always includes the highest UID, also when it is below n.
        return sorted(uid for uid in map(int, box.uids(f"UID {last + 1}:*")) if uid > last)

    @staticmethod
    def _fetch(box: MailBox, uid: int) -> RawMessage | None:
        found = list(box.fetch(uid_list=[str(uid)], mark_seen=False))
        return found[0] if found else None

    @staticmethod
    def _mark(box: MailBox, uid: int, marks: Marks) -> None:
        if marks.keywords:
            # Not imap-tools' `flag()`: it EXPUNGEs after each STORE, which would delete the
            # messages that someone else marked \Deleted and meant to keep a while.
            result = box.client.uid(
                "STORE", str(uid), "+FLAGS.SILENT", f"({' '.join(marks.keywords)})"
            )
            if result[0] != "OK":
                raise MailboxFlagError(result, "OK")
        if marks.folder:
            box.move(str(uid), marks.folder)

    # -- one folder, one message -------------------------------------------------------------
    async def _read(self, box: MailBox, folder: str) -> None:
        name = f"{self.settings.imap_user}@{self.settings.imap_host}/{folder}"
        uidvalidity = await asyncio.to_thread(self._select, box, folder)
        saved = await asyncio.to_thread(self._position, name)
        if saved is None or saved.uidvalidity != uidvalidity:
            if saved is None:
                log.info("%s: first visit (UIDVALIDITY %d), reading it all", folder, uidvalidity)
            else:
                log.warning(
                    "%s: UIDVALIDITY changed from %d to %d, so the saved UID %d names nothing any "
                    "more; reading the folder again from the start (e-mails classified before "
                    "are known by their Message-ID or bytes and not stored again)",
                    folder,
                    saved.uidvalidity,
                    uidvalidity,
                    saved.last_uid,
                )
            saved = Position(uidvalidity, 0)
            await asyncio.to_thread(self._save, name, saved)
        uids = await asyncio.to_thread(self._uids_after, box, saved.last_uid)
        if uids:
            log.info("%s: %d new message(s), UID %d to %d", folder, len(uids), uids[0], uids[-1])
        for uid in uids:
            if self.stop.is_set():
                log.info("%s: stopping; the next start goes on after UID %d", folder, uid - 1)
                return
            message = await asyncio.to_thread(self._fetch, box, uid)
            if message is None:
                log.info("%s UID %d: gone before it was read (expunged); skipped", folder, uid)
            else:
                marks = await self._classify(folder, uid, message.raw)
                await asyncio.to_thread(self._mark, box, uid, marks)
            await asyncio.to_thread(self._save, name, Position(uidvalidity, uid))

    async def _classify(self, folder: str, uid: int, raw: bytes) -> Marks:
        try:
            result = await self.service.classify_email(raw)
        except (EmailError, TextTooLong, KeyReused) as error:
            log.warning("%s UID %d: not classified, marked %s: %s", folder, uid, ERROR, error)
            return marks_for(None, self.settings)
        except NoModel as error:
            raise Stop(str(error)) from error
        except RETRY:
            raise
        except Exception:  # a bug on one odd e-mail must not hold up the ones behind it
            log.exception("%s UID %d: could not be read; marked %s", folder, uid, ERROR)
            return marks_for(None, self.settings)
        answer = result.answer
        if not answer["stored"]:
            raise NotStored(f"the classification of UID {uid} in {folder} was not stored")
        log.info(
            "%s UID %d: %s %s, urgency %s%s",
            folder,
            uid,
            "already classified:" if result.replayed else "classified",
            answer["category"],
            answer["urgency"],
            ", hard" if answer["is_hard"] else "",
        )
        return marks_for(answer, self.settings)

    # -- the database ------------------------------------------------------------------------
    def _position(self, name: str) -> Position | None:
        with self.service.sessions() as session:
            return positions.position(session, name)

    def _save(self, name: str, where: Position) -> None:
        with self.service.sessions() as session:
            positions.save_position(session, name, where)


def _said(error: MailboxLoginError) -> str:
    """What the server answered, as text (never the command: it holds the password)."""
    parts = error.command_result[1] or []
    return " ".join(p.decode(errors="replace") for p in parts if isinstance(p, bytes)).strip()


def _why(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the server down?)"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, imaplib.IMAP4.abort):
        return f"the connection was lost ({error})"
    if isinstance(error, SQLAlchemyError):
        return f"the database did not answer ({type(error).__name__})"
    return f"{type(error).__name__}: {error}"


def _tls_context(ca_file) -> ssl.SSLContext:
    """The system's trusted certificates, and the configured CA's besides."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as error:
            raise Stop(
                f"COMPLAINTS_IMAP_CA_FILE {str(ca_file)!r} cannot be read as a PEM certificate "
                f"({error})"
            ) from error
    return context


def _logout(box: MailBox) -> None:
    with contextlib.suppress(Exception):  # the connection may be gone already
        box.logout()


async def serve(settings: Settings, once: bool = False) -> None:
    """`complaints mailbox`: the service in this process and the connector, until SIGTERM or
    SIGINT (the message in hand is finished first) or, with `once`, one round of the folders."""
    check(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stopping, stop, signum)
    service = TriageService.start(settings)
    try:
        await Connector(settings, service, stop).run(once)
    finally:
        await service.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _stopping(stop: asyncio.Event, signum: int) -> None:
    log.info("%s: finishing the message in hand, then stopping", signal.Signals(signum).name)
    stop.set()
