"""Two people per change, claiming, and full-text search (issue 15).

- `feedback.status`: a correction is `proposed` until a second person `confirmed` or `rejected`
  it (`reviewer`, `reviewed_at`, `review_comment`); a confirmation of the labels shown needs no
  second person and is `confirmed` at once. Corrections stored before this migration were made
  under the one-person rule: they become `proposed`, so none reaches training unseen by a second
  person. `undoes` names the row an undo (verdict `undo`) takes back.
- `claims`: who works on which item until when (a lease; a stale one is simply overwritten).
- full-text search over prediction texts: SQLite FTS5 (an external-content index kept by
  triggers), PostgreSQL a GIN index over `to_tsvector('russian', text)`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

FORGET = (
    "INSERT INTO predictions_fts(predictions_fts, rowid, text) VALUES ('delete', old.id, old.text);"
)
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE predictions_fts USING fts5("
    "text, content='predictions', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER predictions_fts_insert AFTER INSERT ON predictions BEGIN "
    "INSERT INTO predictions_fts(rowid, text) VALUES (new.id, new.text); END",
    f"CREATE TRIGGER predictions_fts_delete AFTER DELETE ON predictions BEGIN {FORGET} END",
    "CREATE TRIGGER predictions_fts_update AFTER UPDATE OF text ON predictions BEGIN "
    f"{FORGET} INSERT INTO predictions_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO predictions_fts(predictions_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    with op.batch_alter_table("feedback") as table:
        table.add_column(
            sa.Column("status", sa.String(12), nullable=False, server_default="proposed")
        )
        table.add_column(sa.Column("reviewer", sa.String(100)))
        table.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True)))
        table.add_column(sa.Column("review_comment", sa.Text()))
        table.add_column(sa.Column("undoes", sa.BigInteger().with_variant(sa.Integer(), "sqlite")))
    op.execute("UPDATE feedback SET status = 'confirmed' WHERE verdict = 'confirm'")
    op.create_index("ix_feedback_status", "feedback", ["status"])
    op.create_index("ix_feedback_undoes", "feedback", ["undoes"], unique=True)
    op.create_index("ix_feedback_annotator", "feedback", ["annotator"])
    op.create_table(
        "claims",
        sa.Column("target", sa.String(20), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("annotator", sa.String(100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(
            "CREATE INDEX ix_predictions_text_fts ON predictions "
            "USING gin (to_tsvector('russian', text))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER predictions_fts_{trigger}")
        op.execute("DROP TABLE predictions_fts")
    else:
        op.execute("DROP INDEX ix_predictions_text_fts")
    op.drop_table("claims")
    for index in ("ix_feedback_annotator", "ix_feedback_undoes", "ix_feedback_status"):
        op.drop_index(index, "feedback")
    with op.batch_alter_table("feedback") as table:
        for column in ("undoes", "review_comment", "reviewed_at", "reviewer", "status"):
            table.drop_column(column)
