"""The one place that opens DuckDB.

Every connection is pinned to UTC and a bounded thread count, migrated (or version-checked when
read-only), and every duckdb exception on open is turned into a :class:`StoreError`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ..config import db_path
from ..errors import StoreBusy, StoreError
from .migrations import check_version, migrate


def connect(
    path: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    threads: int | None = None,
    wait: float = 0.0,
) -> duckdb.DuckDBPyConnection:
    """Open the store at ``path`` (see :func:`exposure.config.db_path`); bring its schema current.

    A read-only open never migrates: an older store raises a StoreError saying how to migrate.
    While another process holds a conflicting lock, retry for up to ``wait`` seconds, then raise
    :class:`StoreBusy`.
    """
    target = db_path(path)
    if read_only and not target.exists():
        raise StoreError(
            f"no database at {target}: index some data first (exposure index evm --help)"
        )
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    while True:
        try:
            con = _open(target, read_only)
            break
        except StoreBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = ?", [threads or min(4, os.cpu_count() or 1)])
        if read_only:
            check_version(con, target)
        else:
            migrate(con, target)
    except BaseException:
        con.close()
        raise
    return con


def _open(target: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(target), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            # DuckDB lets one process write, or several read: say which one we ran into.
            held = (
                "is being written by another process"
                if read_only
                else "is in use by another process (an indexer, a screen or a notebook)"
            )
            raise StoreBusy(f"database {target} {held}, retry when it finishes") from exc
        raise StoreError(f"cannot open database {target}: {text.splitlines()[0]}") from exc
    except duckdb.Error as exc:
        raise StoreError(f"cannot open database {target}: {str(exc).splitlines()[0]}") from exc


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: committed on success, rolled back on any exception.

    duckdb errors inside are re-raised as StoreError with the cause kept.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise StoreError(f"store write failed: {str(exc).splitlines()[0]}") from exc
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


def database_file(con: duckdb.DuckDBPyConnection) -> Path:
    """The file behind a connection (for messages)."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return Path(rows[0][0]) if rows and rows[0][0] else Path(":memory:")
