"""The store's address dictionary migration, on a real v6 file written by the previous code."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import duckdb
import pytest

from exposure.batch import BookRow, screen_book
from exposure.errors import StoreError
from exposure.screening import Screener
from exposure.store import connect
from exposure.store.migrations import current_version
from exposure.store.schema import SCHEMA_VERSION

DATA = Path(__file__).parent / "data" / "v6-demo"


def _v6_store(tmp_path: Path) -> Path:
    db = tmp_path / "v6.duckdb"
    db.write_bytes(gzip.decompress((DATA / "v6.duckdb.gz").read_bytes()))
    return db


def _version(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return current_version(con)
    finally:
        con.close()


def test_a_v6_store_gets_an_id_for_every_address_and_every_transfer(tmp_path):
    db = _v6_store(tmp_path)
    assert _version(db) == 6
    con = connect(db)
    try:
        assert current_version(con) == SCHEMA_VERSION
        missing = con.execute(
            "SELECT count(*) FROM transfers WHERE from_id IS NULL OR to_id IS NULL"
        ).fetchall()[0][0]
        assert missing == 0
        # the ids name the addresses the rows hold, densely from 0 per chain
        wrong = con.execute(
            "SELECT count(*) FROM transfers t JOIN addresses f ON f.chain = t.chain "
            "AND f.id = t.from_id JOIN addresses d ON d.chain = t.chain AND d.id = t.to_id "
            "WHERE f.address <> t.from_address OR d.address <> t.to_address"
        ).fetchall()[0][0]
        assert wrong == 0
        dense = con.execute(
            "SELECT chain, count(*), count(DISTINCT address), min(id), max(id) FROM addresses "
            "GROUP BY chain"
        ).fetchall()
        assert dense and all(n == distinct == hi + 1 and lo == 0 for _, n, distinct, lo, hi in dense)
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "address_exposure" not in tables  # screening keeps derived data in the cache
    finally:
        con.close()


def test_a_failed_migration_step_leaves_the_store_as_it_was_before_that_step(tmp_path):
    db = _v6_store(tmp_path)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE addresses (x INTEGER)")  # makes the address step fail
    con.close()
    with pytest.raises(StoreError, match="migration 8"):
        connect(db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert current_version(con) == 7
        columns = {r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'token_transfers'"
        ).fetchall()}
        assert "from_id" not in columns
    finally:
        con.close()


_V1_REASON = re.compile(r"^(\S+): (\S+) (in|out) at (\d+) hop\(s\)")
_LEVELS = ["none", "low", "medium", "high"]


def _v1_answer(report: dict) -> dict:
    """A recorded ``exposure.report/1`` report reduced to its answer: found exposures whole,
    the others by (category, direction), and per exposure the highest level any rule gave it
    (/1 listed every rule that fired as an English line)."""
    out = dict(report)
    out.pop("schema")
    out["exposures"] = [e if e["hops"] is not None else
                        {"category": e["category"], "direction": e["direction"], "hops": None}
                        for e in report["exposures"]]
    highest: dict = {}
    for line in report["rating"]["reasons"]:
        level, category, direction, hops = _V1_REASON.match(line).groups()
        key = (category, direction, int(hops))
        highest[key] = max(highest.get(key, level), level, key=_LEVELS.index)
    out["rating"] = {"level": report["rating"]["level"], "policy": report["rating"]["policy"],
                     "highest": sorted(highest.items())}
    return out


def _same_answer_as_v1(report: dict) -> dict:
    """An ``exposure.report/2`` report reduced the same way (new keys and fields left out)."""
    out = dict(report)
    assert out.pop("schema") == "exposure.report/2"
    out.pop("verdict")
    out.pop("findings")
    out["exposures"] = [
        {**e, "path": [{k: v for k, v in h.items() if k != "decimals"} for h in e["path"]]}
        if e["hops"] is not None else e
        for e in report["exposures"]
    ]
    reasons = report["rating"]["reasons"]
    out["rating"] = {"level": report["rating"]["level"], "policy": report["rating"]["policy"],
                     "highest": sorted(((r["category"], r["direction"], r["hops"]), r["level"])
                                       for r in reasons)}
    return out


def test_screens_and_batches_after_the_migration_answer_exactly_as_v6_did(tmp_path):
    db = _v6_store(tmp_path)
    connect(db).close()  # migrate
    con = connect(db, read_only=True)
    try:
        addresses = [r[0] for r in con.execute(
            "SELECT DISTINCT from_address FROM transfers UNION "
            "SELECT to_address FROM transfers ORDER BY 1"
        ).fetchall()]
        expected = [json.loads(line) for line in
                    gzip.decompress((DATA / "reports.jsonl.gz").read_bytes()).splitlines()]
        screener = Screener(con)
        got = []
        for address in addresses:
            report = screener.screen(address).to_dict()
            report.pop("screened_at", None)
            report.pop("data_state", None)
            got.append(json.loads(json.dumps(report, sort_keys=True)))
        assert len(got) == len(expected) == 52
        for mine, theirs in zip(got, expected, strict=True):
            assert _same_answer_as_v1(mine) == _v1_answer(theirs), mine["address"]
        rows = [BookRow(i + 2, a, {"address": a}) for i, a in enumerate(addresses)]
        rows.append(BookRow(len(addresses) + 2, "0xnotanaddress", {}))
        batch = json.loads(json.dumps(screen_book(con, rows), sort_keys=True))
        assert batch == json.loads(gzip.decompress((DATA / "batch.json.gz").read_bytes()))
    finally:
        con.close()
