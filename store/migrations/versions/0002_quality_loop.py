"""The quality loop: review priority on predictions, corrections, and the audit list.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("predictions") as table:
        table.add_column(
            sa.Column("review_priority", sa.Float(), nullable=False, server_default="0")
        )
        table.add_column(sa.Column("review_reason", sa.String(40)))
    op.create_index("ix_predictions_review_priority", "predictions", ["review_priority"])

    op.create_table(
        "feedback",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("prediction_id", ID),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("labels", sa.JSON()),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("annotator", sa.String(100), nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_message_id", "feedback", ["message_id"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])

    op.create_table(
        "audit_items",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(20)),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("head", sa.String(20), nullable=False),
        sa.Column("given", sa.String(40), nullable=False),
        sa.Column("suggested", sa.String(40), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("given_probability", sa.Float(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_audit_items_record_id", "audit_items", ["record_id"])


def downgrade() -> None:
    op.drop_table("audit_items")
    op.drop_table("feedback")
    op.drop_index("ix_predictions_review_priority", "predictions")
    with op.batch_alter_table("predictions") as table:
        table.drop_column("review_reason")
        table.drop_column("review_priority")
