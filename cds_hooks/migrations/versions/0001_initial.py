"""Initial schema: feedback, hash-chained audit log, JWT replay cache, review records and photos.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

A SQLite file written before migrations existed (`derm3r.sqlite3` with feedback, audit and
jti_cache) is adopted as it is: tables that exist are left alone, the missing ones are created.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    sqlite = bind.dialect.name == "sqlite"

    if "feedback" not in existing:
        op.create_table(
            "feedback",
            sa.Column("id", ID, primary_key=True, autoincrement=True),
            sa.Column("service_id", sa.Text, nullable=False),
            sa.Column("digest", sa.Text, nullable=False),
            sa.Column("item", sa.Text, nullable=False),
            sa.Column("received_at", sa.Double, nullable=False),
            sa.UniqueConstraint("service_id", "digest", name="feedback_service_digest"),
            sqlite_autoincrement=True,
        )
    if "audit" not in existing:
        op.create_table(
            "audit",
            sa.Column("id", ID, primary_key=True, autoincrement=True),
            sa.Column("ts", sa.Double, nullable=False),
            sa.Column("record", sa.Text, nullable=False),
            sa.Column("prev_hash", sa.Text, nullable=False),
            sa.Column("hash", sa.Text, nullable=False),
            sqlite_autoincrement=True,
        )
    # Append-only is enforced by the database itself, not only by the absence of an API.
    if sqlite:
        op.execute("CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit"
                   " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END")
        op.execute("CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit"
                   " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END")
    else:
        op.execute(
            "CREATE FUNCTION derm3r_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$"
        )
        op.execute("CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON audit"
                   " FOR EACH ROW EXECUTE FUNCTION derm3r_audit_append_only()")
        op.execute("CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
                   " FOR EACH STATEMENT EXECUTE FUNCTION derm3r_audit_append_only()")

    if "jti_cache" not in existing:
        op.create_table(
            "jti_cache",
            sa.Column("issuer", sa.Text, primary_key=True),
            sa.Column("jti", sa.Text, primary_key=True),
            sa.Column("expires_at", sa.Double, nullable=False),
            sqlite_with_rowid=False,
        )
        op.create_index("jti_cache_expires", "jti_cache", ["expires_at"])

    op.create_table(
        "review_record",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("patient_ref", sa.Text, nullable=False),
        sa.Column("fhir_server", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("review_record_expires", "review_record", ["expires_at"])
    # A rowid table in SQLite: large blobs belong in rowid tables, not in WITHOUT ROWID b-trees.
    op.create_table(
        "review_image",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    if not sqlite:
        # Photos are JPEG/PNG, already compressed: EXTERNAL keeps them out of line without
        # PostgreSQL's attempt to compress them again (measured ~60 ms of server CPU per 3-photo
        # hook with the default, bench/replicas.py).
        op.execute("ALTER TABLE review_image ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table(
        "review_photo_ref",
        sa.Column("record_id", sa.Text, sa.ForeignKey("review_record.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("content_type", sa.Text),
        sa.Column("sha256", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("review_photo_ref_sha256", "review_photo_ref", ["sha256"])
    op.create_table(
        "review_overlay",
        sa.Column("record_id", sa.Text, sa.ForeignKey("review_record.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    if not sqlite:
        op.execute("ALTER TABLE review_overlay ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    for table in ("review_overlay", "review_photo_ref", "review_image", "review_record", "jti_cache", "audit", "feedback"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS derm3r_audit_append_only()")
