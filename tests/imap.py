"""A real IMAP server for the mailbox connector's tests: Debian's Dovecot (`make imap`), an
instance of the test's own (its own config, base_dir, passwd-file user and mail store in a
temporary directory, listening on a high loopback port), and e-mails to fill it with."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from imap_tools import MailBoxUnencrypted

DOVECOT = Path(os.environ.get("COMPLAINTS_DOVECOT", "/usr/sbin/dovecot"))
DOVEADM = DOVECOT.parent.parent / "bin" / "doveadm"
USER, PASSWORD = "complaints", "pw-for-tests-only"


class Dovecot:
    """`dovecot -c <its own config>`, started and stopped by the test. As root, mail is kept by
    `nobody` (Dovecot gives no mail access to root); otherwise by the user running the tests."""

    def __init__(self, port: int, tls_port: int | None = None):
        """With `tls_port`, the server also speaks IMAP over TLS there, and STARTTLS on `port`,
        with a self-signed certificate for 127.0.0.1 (`self.certificate`)."""
        self.port = port
        self.tls_port = tls_port
        self.root = Path(tempfile.mkdtemp(prefix="complaints-dovecot-"))
        self.root.chmod(0o711)  # the mail user walks through to its store, and sees nothing else
        self.config = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        mail = self.root / "mail"
        mail.mkdir()
        me = pwd.getpwuid(os.getuid())
        owner = pwd.getpwnam("nobody") if me.pw_uid == 0 else me
        os.chown(mail, owner.pw_uid, owner.pw_gid)
        passwd = self.root / "passwd"
        passwd.write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{owner.pw_uid}:{owner.pw_gid}::{mail}/{USER}::\n"
        )
        # Unprivileged, Dovecot runs every process as this user and cannot chroot.
        unprivileged = (
            ""
            if me.pw_uid == 0
            else UNPRIVILEGED.format(user=me.pw_name, group=grp.getgrgid(me.pw_gid).gr_name)
        )
        tls = ""
        if tls_port is not None:
            self.certificate, key = self.root / "cert.pem", self.root / "key.pem"
            openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
            subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
            files = ["-keyout", str(key), "-out", str(self.certificate)]
            subprocess.run(
                [*openssl, *subject, *files],
                check=True,
                capture_output=True,
            )
            tls = TLS.format(cert=self.certificate, key=key, tls_port=tls_port)
        self.config.write_text(
            CONFIG.format(root=self.root, port=port, passwd=passwd, mail=mail) + tls + unprivileged
        )

    def start(self, timeout: float = 20) -> Dovecot:
        # Not through a pipe: the daemon keeps it open, and reading it to its end never ends.
        with (self.root / "start.log").open("wb") as out:
            started = subprocess.run([str(DOVECOT), "-c", str(self.config)], stdout=out, stderr=out)
        if started.returncode:
            raise RuntimeError(f"dovecot did not start: {(self.root / 'start.log').read_text()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log.read_text()}")

    def stop(self, timeout: float = 20) -> None:
        pid_file = self.root / "run" / "master.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        subprocess.run([str(DOVECOT), "-c", str(self.config), "stop"], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot (pid {pid}) did not stop")

    def remove(self) -> None:
        """Kill the server and its processes at once (a graceful stop waits about 3 s for its
        clients; a server that is thrown away need not), then its files."""
        pid_file = self.root / "run" / "master.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(int(pid_file.read_text())), signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self) -> MailBoxUnencrypted:
        return MailBoxUnencrypted("127.0.0.1", self.port, timeout=10).login(USER, PASSWORD)

    def set_uidvalidity(self, folder: str, value: int) -> None:
        """What a server does after its store is rebuilt or restored: new UIDVALIDITY."""
        update = [str(DOVEADM), "-c", str(self.config), "mailbox", "update", "-u", USER]
        subprocess.run(
            [*update, "--uid-validity", str(value), folder],
            check=True,
            capture_output=True,
        )


CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
instance_name = complaints-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
# Plaintext logins are refused on the network by default, but Dovecot counts loopback as secure.
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = sdbox:{mail}/%u
passdb {{
  driver = passwd-file
  args = {passwd}
}}
userdb {{
  driver = passwd-file
  args = {passwd}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
TLS = """
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
service imap-login {{
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
"""
UNPRIVILEGED = """
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
service imap-login {{
  chroot =
}}
service anvil {{
  chroot =
}}
"""


# -- e-mails ------------------------------------------------------------------------------------
SENDERS = [
    ("Анна Смирнова", "anna.smirnova@example.ru"),
    ("Игорь Петров", "i.petrov@example.com"),
    ("Мария Кузнецова", "maria.k@example.org"),
    ("Олег", "oleg1987@example.net"),
    ("Екатерина Волкова", "kate.volkova@example.ru"),
    ("Дмитрий (ситтер)", "dmitry.sitter@example.com"),
    ("Светлана Орлова", "s.orlova@example.org"),
]
PETS = ["пёс", "кот", "щенок", "котёнок"]  # the verbs below are masculine
COMPLAINTS = [
    "Ситтер опоздал на {n} часа, {pet} весь день просидел без прогулки. Верните деньги за визит.",
    "Выгульщик так и не пришёл сегодня в {t}, {pet} терпел до вечера. Почему никто не предупредил?",
    "После визита ситтера пропали наушники и деньги из шкатулки в прихожей. Прошу разобраться.",
    "Ситтер разбил вазу в гостиной и ничего не сказал, я нашла осколки под диваном.",
    "Я просила не давать сухой корм, у питомца аллергия, но ситтер всё равно его насыпал.",
    "Срочно!!! {pet} проглотил носок на прогулке, ситтер не знает что делать, помогите!",
    "Отвратительный сервис, больше никогда не закажу. Ставлю одну звезду из пяти.",
    "Ситтер привёл в квартиру постороннего человека, соседи видели их в {t}.",
    "Я исполнитель, клиент не оставил ключи, стою под дверью уже {n} часа, собака лает.",
    "Ситтер третий раз подряд опаздывает и не отвечает на сообщения в чате.",
    "Подскажите, пожалуйста, можно ли оплатить передержку картой?",
    "После визита ситтера {pet} хромает на заднюю лапу, похоже придавили дверью.",
    "Собака не дышит, ситтер говорит что она упала с балкона!! Что делать?",
    "Ситтер не умеет обращаться с животными, {pet} весь вечер прятался под кроватью.",
    "Ситтер оставил окно открытым, {pet} чуть не выпал, хорошо что соседка заметила.",
    "Я исполнитель, собака клиента укусила меня за руку, кровь не останавливается.",
]
OPENINGS = ["", "Здравствуйте!", "Добрый день.", "Добрый вечер,"]
CLOSINGS = ["", "Жду ответа.", "Спасибо.", "Прошу перезвонить."]
QUOTE = (
    "\n\n{date}, Служба заботы <care@petsitters.example> пишет:\n"
    "> Здравствуйте! Как прошёл визит по заказу №{order}?\n> Оцените, пожалуйста, ситтера.\n"
)


def complaint(i: int, rng: random.Random) -> tuple[str, str]:
    """(subject, text) of the i-th e-mail: a short complaint, unique by its order number."""
    pet = rng.choice(PETS)
    body = rng.choice(COMPLAINTS).format(n=rng.randint(2, 4), t=f"{rng.randint(8, 21)}:00", pet=pet)
    order = 10_000 + i
    text = " ".join(
        part
        for part in (rng.choice(OPENINGS), body, f"Заказ {order}.", rng.choice(CLOSINGS))
        if part
    )
    subject = rng.choice([f"Жалоба по заказу №{order}", f"Заказ {order}", "Проблема с ситтером"])
    return subject, text


def emails(count: int, seed: int = 14) -> tuple[list[bytes], int]:
    """`count` raw e-mails and how many distinct ones they are: plain, HTML, multipart, replies,
    signatures, KOI8-R and windows-1251, a few without Message-ID, two copies of one (the second
    relayed once more), and one with no text at all (a scan)."""
    rng = random.Random(seed)
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    raws: list[bytes] = []
    for i in range(count - 2):
        name, address = SENDERS[i % len(SENDERS)]
        subject, text = complaint(i, rng)
        date = start + timedelta(minutes=7 * i)
        message = EmailMessage()
        message["From"] = f"{name} <{address}>"
        message["To"] = "complaints@petsitters.example"
        message["Date"] = format_datetime(date)
        if i % 50 != 7:  # four without a Message-ID: known by their bytes
            message["Message-ID"] = f"<c{i:04d}.{seed}@mail.example.ru>"
        kind = i % 8
        if kind == 0:
            message["Subject"] = "Re: " + subject
            message["In-Reply-To"] = f"<care{i}@petsitters.example>"
            when = format_datetime(date - timedelta(days=1))
            message.set_content(text + QUOTE.format(date=when, order=10_000 + i))
        elif kind == 1:
            message["Subject"] = subject
            message.set_content(
                f"<html><body><p>{text}</p><p>--<br>{name}</p></body></html>", "html"
            )
        elif kind == 2:
            message["Subject"] = subject
            message.set_content(text)
            message.add_alternative(f"<div dir='ltr'><b>{text}</b></div>", subtype="html")
        elif kind == 3:
            message["Subject"] = subject
            message.set_content(f"{text}\n\nС уважением,\n{name}\n+7 900 123-45-67\n")
        elif kind == 4:
            message["Subject"] = subject
            message.set_content(text, charset="koi8-r", cte="base64")
        elif kind == 5:
            message["Subject"] = subject
            message.set_content(text, charset="windows-1251", cte="quoted-printable")
        elif kind == 6:
            message["Subject"] = subject
            message.set_content(text + "\n\nОтправлено с iPhone\n")
        else:
            message["Subject"] = subject
            message.set_content(text)
        raws.append(message.as_bytes(policy=policy.SMTP))
    # The same e-mail once more, as a second relay delivers it: the same Message-ID and text.
    copy = raws[min(10, len(raws) - 1)]
    raws.insert(12, b"Received: from relay2.example.ru by mx.example.ru; " + DATE + b"\r\n" + copy)
    scan = EmailMessage()
    scan["From"], scan["Subject"] = "Скан <scan@example.ru>", "Скан договора"
    scan["Message-ID"] = f"<scan.{seed}@example.ru>"
    scan.set_content(b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="scan.pdf")
    raws.insert(100, scan.as_bytes(policy=policy.SMTP))
    return raws, count - 2


DATE = b"Tue, 01 Dec 2026 10:12:00 +0000"


def fill(server: Dovecot, raws: list[bytes], folder: str = "INBOX") -> None:
    with server.connect() as box:
        if not box.folder.exists(folder):
            box.folder.create(folder)
        for raw in raws:
            box.append(raw, folder)
