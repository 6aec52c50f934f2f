"""Bitcoin chains in exposure's own export: the ``btc_*`` tables and blocks, moved as they are.

``exposure export transfers`` writes, for every Bitcoin chain, ``bitcoin/<table>.parquet`` for
blocks, btc_txs, btc_outputs, btc_inputs, btc_prevouts and btc_transfers, each carrying the
coverage record (chain and checkpointed block range) in its key-value metadata; ``import
transfers --format exposure`` puts them back with the Bitcoin indexer's range replacement and
checkpoint, so the rows, the transfers view and ``index btc``'s continuation are the same.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb

from exposure.domain import ChainSpec
from exposure.errors import InputError
from exposure.store import reads, writes
from exposure.store.connect import transaction

from ..planning import refuse_gap
from .files import InputFile
from .model import Coverage, ImportResult

BTC_FORMAT = "exposure.bitcoin/1"
#: Tables in write order (blocks first); btc_prevouts is keyed by (txid, vout), not by block.
TABLES = ("blocks", "btc_txs", "btc_outputs", "btc_inputs", "btc_prevouts", "btc_transfers")
_BY_BLOCK = {"blocks": "number", "btc_txs": "block_number", "btc_outputs": "block_number",
             "btc_inputs": "block_number", "btc_transfers": "block_number"}


#: Columns that only mean something inside one store (address ids): never exported.
_LOCAL_COLUMNS = {"btc_transfers": "EXCLUDE (from_id, to_id)"}


def bitcoin_chains(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Bitcoin chains (native symbol BTC) with a checkpoint in the store."""
    rows = con.execute(
        "SELECT DISTINCT c.chain FROM chains c JOIN checkpoints k ON k.chain = c.chain "
        "WHERE c.native_symbol = 'BTC' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def export_bitcoin(con: duckdb.DuckDBPyConnection, folder: Path, chains: list[str]) -> tuple[
    list[str], int, int
]:
    """Write the chains' tables under ``folder/bitcoin``; returns files, transfers and blocks."""
    record = {"format": BTC_FORMAT, "chains": {}}
    for chain in chains:
        streams = con.execute(
            "SELECT stream, first_block, last_block FROM checkpoints WHERE chain = ?", [chain]
        ).fetchall()
        record["chains"][chain] = {"streams": {s: [int(a), int(b)] for s, a, b in streams}}
    meta = json.dumps(record, sort_keys=True)
    out = folder / "bitcoin"
    out.mkdir(parents=True, exist_ok=True)
    files, counts = [], {}
    for table in TABLES:
        path = out / f"{table}.parquet"
        order = _BY_BLOCK.get(table, "txid")
        con.execute(
            f"COPY (SELECT * {_LOCAL_COLUMNS.get(table, '')} FROM {table} "
            "WHERE chain IN (SELECT unnest($chains)) "
            f"ORDER BY chain, {order}) TO $path "
            "(FORMAT parquet, COMPRESSION zstd, KV_METADATA {exposure: $record})",
            {"chains": chains, "path": str(path), "record": meta},
        )
        counts[table] = int(con.execute(
            f"SELECT count(*) FROM {table} WHERE chain IN (SELECT unnest($chains))",
            {"chains": chains},
        ).fetchall()[0][0])
        files.append(str(path))
    return files, counts["btc_transfers"], counts["blocks"]


def read_record(con: duckdb.DuckDBPyConnection, f: InputFile) -> dict | None:
    """The export record of ``f`` (EVM or Bitcoin), or None when it has none."""
    if f.kind != "parquet":
        return None
    rows = con.execute(
        "SELECT decode(value) FROM parquet_kv_metadata(?) WHERE decode(key) = 'exposure'",
        [f.path],
    ).fetchall()
    return json.loads(rows[0][0]) if rows else None


def import_bitcoin_export(
    con: duckdb.DuckDBPyConnection, files: list[InputFile], record: dict, chain: str
) -> ImportResult:
    """Put one Bitcoin chain of an export back, replacing its block range atomically."""
    started = time.monotonic()
    by_table = {Path(f.path).stem: f for f in files}
    missing = [t for t in TABLES if t not in by_table]
    if missing:
        raise InputError(
            f"the export's bitcoin/ folder lacks {', '.join(t + '.parquet' for t in missing)}: "
            "pass the whole folder written by `exposure export transfers`"
        )
    if chain not in record["chains"]:
        raise InputError(f"the export holds no Bitcoin chain {chain!r}")
    first, last = record["chains"][chain]["streams"].get("blocks", [None, None])
    if first is None:
        raise InputError(f"the export records no block range for {chain}")
    rows = con.execute("SELECT native_symbol FROM chains WHERE chain = ?", [chain]).fetchall()
    if rows and rows[0][0] != "BTC":
        raise InputError(f"chain {chain!r} in the store is an EVM chain: import with --chain NAME")
    refuse_gap(chain, reads.checkpoints(con, chain).get("blocks"), first, last, "the export")
    clash = con.execute(
        "SELECT e.number, s.hash, e.hash FROM read_parquet($f) e JOIN blocks s "
        "ON s.chain = e.chain AND s.number = e.number WHERE e.chain = $chain AND s.hash <> e.hash "
        "ORDER BY 1 LIMIT 1",
        {"f": by_table["blocks"].path, "chain": chain},
    ).fetchall()
    if clash:
        n, stored, dumped = clash[0]
        raise InputError(
            f"block {n}: the store holds {stored} but the export says {dumped}: another chain "
            "or fork"
        )
    writes.register_chain(con, ChainSpec(chain, None, "BTC", 8), None)
    written = 0
    with transaction(con):
        for table in reversed(TABLES):
            column = _BY_BLOCK.get(table)
            if column:
                con.execute(
                    f"DELETE FROM {table} WHERE chain = ? AND {column} BETWEEN ? AND ?",
                    [chain, first, last],
                )
        for table in TABLES:
            src = "SELECT * FROM read_parquet($f) WHERE chain = $chain"
            if table == "btc_prevouts":
                src += (" AND NOT EXISTS (SELECT 1 FROM btc_prevouts q WHERE q.chain = $chain"
                        " AND q.txid = read_parquet.txid AND q.vout = read_parquet.vout)")
            got = con.execute(
                f"INSERT INTO {table} BY NAME {src}",
                {"f": by_table[table].path, "chain": chain},
            ).fetchall()
            if table == "btc_transfers":
                written = int(got[0][0]) if got else 0
        writes.encode_addresses(con, chain, first, last, writes.BTC_TABLES)
        writes.advance_checkpoint(con, chain, "blocks", first, last)
    return ImportResult(
        format="exposure", chain=chain, files=tuple(f.path for f in files), rows_read=written,
        rows_imported=written, coverage=(Coverage(chain, "blocks", first, last),),
        seconds=time.monotonic() - started,
    )
