"""The embedded ledger on SQLite (``SqliteStore``)."""

from litemaas_controller.ledger.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
