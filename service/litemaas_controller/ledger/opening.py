"""Which store the ledger is: SQLite (the default, one replica) or PostgreSQL, by URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from litemaas_controller.ledger.pg import PgStore
from litemaas_controller.ledger.sqlite import SqliteStore
from litemaas_controller.ledger.store import Store

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme in POSTGRES_SCHEMES


async def open_store(url: str | None, default_path: Path, password_file: Path | None) -> Store:
    """``postgresql://...``: the PostgreSQL store (migrated at start); ``sqlite://`` and an
    absolute path: SQLite in that file; unset: SQLite at ``default_path``.  The settings have
    checked the URL."""
    if is_postgres(url):
        assert url is not None
        return await PgStore.open(url, password_file)
    path = Path(urlsplit(url).path) if url else default_path
    return await SqliteStore.open(path)
