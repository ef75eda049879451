"""The store: SQLModel tables, Alembic migrations, async repositories.

- ``Store`` (db.py): engine + sessions for a URL (SQLite embedded, PostgreSQL scale-out).
- ``migrate.upgrade(url)``: bring a database to the head migration (never ``create_all``).
- ``repo_*`` modules: async functions taking an ``AsyncSession`` first, bulk-oriented.
- ``crypto.Cipher`` / ``crypto.Secret``: credentials encrypted at rest, masked in reprs.
- ``token_store.DbTokenStore``: the HighLevel connector's persisted ``TokenStore``.
"""

from reconciler.store.db import Store

__all__ = ["Store"]
