"""Alembic environment: always run on a connection handed over by `cds_hooks.migrate`, which has
already begun the transaction and taken the migration lock."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
