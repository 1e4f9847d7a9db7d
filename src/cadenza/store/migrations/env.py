"""Alembic environment: migrations run on a connection the store hands over (never from a URL)."""

from __future__ import annotations

from alembic import context

from cadenza.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("cadenza migrations run through cadenza.store.migrate, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
