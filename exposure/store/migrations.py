"""Forward migrations of the schema, each step with its version record in one transaction."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .. import __version__
from ..errors import StoreError
from .schema import MIGRATIONS, SCHEMA_VERSION

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL,
    description VARCHAR NOT NULL,
    package_version VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The store's schema version: 0 for an empty database."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'schema_version' AND table_schema = 'main'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0])


def _too_new(version: int, path: Path) -> StoreError:
    return StoreError(
        f"database {path} has schema version {version}, newer than this exposure "
        f"{__version__} understands ({SCHEMA_VERSION}): upgrade exposure"
    )


def check_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """For read-only opens: the store must be exactly at this package's version."""
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise _too_new(version, path)
    if version < SCHEMA_VERSION:
        raise StoreError(
            f"database {path} has schema version {version}, this exposure needs "
            f"{SCHEMA_VERSION}: open it once for writing (e.g. `exposure db migrate --db {path}`)"
        )


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Apply every pending migration; returns the number applied. Each step is atomic."""
    con.execute(_VERSION_TABLE)
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise _too_new(version, path)
    applied = 0
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in step.statements:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version (version, description, package_version) "
                "VALUES (?, ?, ?)",
                [number, step.description, __version__],
            )
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise StoreError(
                f"migration {number} ({step.description}) failed on {path}: "
                f"{str(exc).splitlines()[0]}"
            ) from exc
        con.execute("COMMIT")
        applied += 1
    return applied
