"""The DuckDB store: one schema with migrations, one place that connects, idempotent writes."""

from .connect import connect, transaction
from .schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "connect", "transaction"]
