"""Alembic environment: run by :meth:`core.storage.Database.migrate`, which passes the connection."""

from alembic import context

from core.storage.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds tables instead
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
