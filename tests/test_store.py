"""The store: one schema with versioned forward migrations, opened in one place."""

from __future__ import annotations

import duckdb
import pytest

from exposure.errors import StoreError
from exposure.store import SCHEMA_VERSION, connect
from exposure.store.migrations import current_version


def test_new_store_is_created_at_the_current_schema_version(tmp_path):
    con = connect(tmp_path / "new.duckdb")
    assert current_version(con) == SCHEMA_VERSION
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert {"blocks", "token_transfers", "native_transfers", "checkpoints", "transfers"} <= tables
    con.close()


def test_reopening_a_store_applies_no_migration_twice(tmp_path):
    path = tmp_path / "s.duckdb"
    connect(path).close()
    con = connect(path)
    assert con.execute("SELECT count(*) FROM schema_version").fetchall()[0][0] == SCHEMA_VERSION
    con.close()


def test_store_from_a_newer_exposure_says_upgrade(tmp_path):
    path = tmp_path / "future.duckdb"
    connect(path).close()
    raw = duckdb.connect(str(path))
    raw.execute(
        "INSERT INTO schema_version (version, description, package_version) VALUES (99, 'x', '9')"
    )
    raw.close()
    with pytest.raises(StoreError, match="upgrade exposure"):
        connect(path)


def test_read_only_open_of_a_missing_store_says_how_to_create_one(tmp_path):
    with pytest.raises(StoreError, match="exposure index evm"):
        connect(tmp_path / "absent.duckdb", read_only=True)


def test_a_file_that_is_not_duckdb_is_a_store_error(tmp_path):
    path = tmp_path / "text.duckdb"
    path.write_text("not a database")
    with pytest.raises(StoreError, match="cannot open database"):
        connect(path)


def test_a_second_writer_is_told_the_database_is_being_written(tmp_path):
    path = tmp_path / "busy.duckdb"
    connect(path).close()
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); "
            "time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreError, match=r"in use by another process .*, retry"):
            connect(path)
    finally:
        holder.kill()
        holder.wait()


def test_connections_are_pinned_to_utc(tmp_path):
    con = connect(tmp_path / "tz.duckdb")
    assert con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0] == "UTC"
    con.close()
