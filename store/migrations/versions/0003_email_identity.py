"""Who sent a message and under which key: sender and subject of e-mails, an idempotency key
(an e-mail's Message-ID, a caller's Idempotency-Key header) that names one stored prediction,
and the actions answered, so that a repeated request gets the very answer it got first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as table:
        table.add_column(sa.Column("sender", sa.String(320)))
        table.add_column(sa.Column("subject", sa.Text()))
        table.add_column(sa.Column("idempotency_key", sa.String(300)))
        table.add_column(sa.Column("request_hash", sa.String(64)))
        table.add_column(sa.Column("actions", sa.JSON()))
    # Unique: two workers racing on one key store one row; NULLs (no key) never collide.
    op.create_index(
        "ix_predictions_idempotency_key", "predictions", ["idempotency_key"], unique=True
    )
    op.create_index("ix_predictions_received_at", "predictions", ["received_at"])
    op.create_index("ix_predictions_channel", "predictions", ["channel"])


def downgrade() -> None:
    op.drop_index("ix_predictions_channel", "predictions")
    op.drop_index("ix_predictions_received_at", "predictions")
    op.drop_index("ix_predictions_idempotency_key", "predictions")
    with op.batch_alter_table("predictions") as table:
        for column in ("actions", "request_hash", "idempotency_key", "subject", "sender"):
            table.drop_column(column)
