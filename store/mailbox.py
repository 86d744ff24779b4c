"""Where the mailbox connector stopped in each folder it reads (`api.mailbox`): the folder's
UIDVALIDITY and the last UID it classified and marked, one row of `mailbox_state` per folder.

A UID names a message only together with its folder's UIDVALIDITY: when the server changes the
UIDVALIDITY, the saved UID means nothing any more and the folder is read again from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from .tables import MailboxState


@dataclass(frozen=True)
class Position:
    uidvalidity: int
    last_uid: int  # 0: nothing done yet


def position(session: Session, mailbox: str) -> Position | None:
    """Where the connector stopped in `mailbox` (`user@host/folder`), or None on a first visit."""
    row = session.get(MailboxState, mailbox)
    return None if row is None else Position(row.uidvalidity, row.last_uid)


def save_position(session: Session, mailbox: str, where: Position) -> None:
    row = session.get(MailboxState, mailbox)
    now = datetime.now(UTC)
    if row is None:
        session.add(MailboxState(mailbox=mailbox, updated_at=now, **vars(where)))
    else:
        row.uidvalidity, row.last_uid, row.updated_at = where.uidvalidity, where.last_uid, now
    session.commit()
