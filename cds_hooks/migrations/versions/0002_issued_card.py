"""Cards issued per client, so feedback is accepted only for this service's own cards (issue 12).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Additive: a release without this table ignores it, so the rolling-update rule (migrations backward
compatible for one release) holds. Feedback digests of rows stored before this revision covered
`outcomeTimestamp`; they are left as they are (recomputing could merge rows already stored twice,
and the only effect of keeping them is that one re-send of such an old item is stored again).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_card",
        sa.Column("card_uuid", sa.Text, primary_key=True),
        sa.Column("service_id", sa.Text, primary_key=True),
        sa.Column("client_issuer", sa.Text, nullable=False),
        sa.Column("issued_at", sa.Double, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("issued_card_issued_at", "issued_card", ["issued_at"])


def downgrade() -> None:
    op.drop_table("issued_card")
