"""Alembic migrations of the derm3r schema (run through `cds_hooks.migrate`, `derm3r db upgrade`)."""
