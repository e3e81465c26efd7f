"""The schema as SQLAlchemy Core tables: what the stores query. The migrations in
`cds_hooks/migrations/versions` create it; a test keeps the two identical on both engines."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite makes an INTEGER PRIMARY KEY the rowid (AUTOINCREMENT: never reused, so ids keep arrival
# order); PostgreSQL gets a 64-bit identity column.
_ID = BigInteger().with_variant(Integer(), "sqlite")

feedback = Table(
    "feedback",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("service_id", Text, nullable=False),
    # SHA-256 of the item's canonical JSON: the same feedback re-sent (EHR retry, other replica)
    # hits the unique constraint and is stored once.
    Column("digest", Text, nullable=False),
    Column("item", Text, nullable=False),
    Column("received_at", Double, nullable=False),
    UniqueConstraint("service_id", "digest", name="feedback_service_digest"),
    sqlite_autoincrement=True,
)

audit = Table(
    "audit",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("ts", Double, nullable=False),
    Column("record", Text, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    sqlite_autoincrement=True,
)

jti_cache = Table(
    "jti_cache",
    metadata,
    Column("issuer", Text, primary_key=True),
    Column("jti", Text, primary_key=True),
    Column("expires_at", Double, nullable=False),
    Index("jti_cache_expires", "expires_at"),
    sqlite_with_rowid=False,
)

# Cards this service issued and the client that received them (JWT `iss`; '' with auth off):
# feedback is accepted only for a card issued to the client sending it (issue 12). Rows older than
# the retention (cds_hooks.storage) are purged when new cards are recorded.
issued_card = Table(
    "issued_card",
    metadata,
    Column("card_uuid", Text, primary_key=True),
    Column("service_id", Text, primary_key=True),
    Column("client_issuer", Text, nullable=False),
    Column("issued_at", Double, nullable=False),
    Index("issued_card_issued_at", "issued_at"),
    sqlite_with_rowid=False,
)

review_record = Table(
    "review_record",
    metadata,
    Column("id", Text, primary_key=True),
    Column("patient_ref", Text, nullable=False),
    Column("fhir_server", Text),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("payload", Text, nullable=False),
    Index("review_record_expires", "expires_at"),
    sqlite_with_rowid=False,
)

# Photo bytes once per content (see cds_hooks.review.store).
review_image = Table(
    "review_image",
    metadata,
    Column("sha256", Text, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

review_photo_ref = Table(
    "review_photo_ref",
    metadata,
    Column("record_id", Text, ForeignKey("review_record.id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("content_type", Text),
    Column("sha256", Text, nullable=False),
    Index("review_photo_ref_sha256", "sha256"),
    sqlite_with_rowid=False,
)

review_overlay = Table(
    "review_overlay",
    metadata,
    Column("record_id", Text, ForeignKey("review_record.id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("kind", Text, primary_key=True),
    Column("data", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
