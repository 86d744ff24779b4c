"""The service's commands of `complaints`: mailbox.

The connector's imports (the service, imap-tools) stay inside the command, so that the other
commands do not pay for them.
"""

from __future__ import annotations

import logging

from pettriage.classifier.commands import Commands
from pettriage.config import Settings


def add_commands(cli: Commands, settings: Settings) -> None:
    mailbox = cli.command(
        "mailbox", "classify the new e-mails of an IMAP mailbox and mark them (COMPLAINTS_IMAP_*)"
    )
    mailbox.add_argument("--once", action="store_true", help="read every folder once, then exit")
    mailbox.set_defaults(handler=lambda args: cmd_mailbox(args, settings))


def cmd_mailbox(args, settings: Settings) -> int:
    import asyncio

    from . import logs
    from .mailbox import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logs.install()
    asyncio.run(serve(settings, once=args.once))
    return 0
