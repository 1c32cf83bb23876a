"""The shared ledger on PostgreSQL (``PgStore``)."""

from litemaas_controller.ledger.pg.store import PgStore

__all__ = ["PgStore"]
