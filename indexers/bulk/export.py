"""``exposure export transfers``: the store's transfers and blocks as Parquet (EVM also as CSV).

The Parquet export is a folder with ``transfers.parquet`` and ``blocks.parquet``; both carry the
coverage record (chains, assets, checkpointed block ranges per stream) in their key-value
metadata, so that ``exposure import transfers --format exposure`` restores the same rows and the
same checkpoints in another store. Amounts are exact decimal strings (Parquet has no 128-bit
integer; a double would round). Bitcoin chains go to ``bitcoin/`` (see ``bitcoin_store``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from exposure.errors import InputError

from .bitcoin_store import bitcoin_chains, export_bitcoin
from .evm import EXPORT_FORMAT

_TRANSFERS = """
SELECT t.chain, coalesce(a.asset, t.token_address) AS asset, t.token_address, t.tx_hash,
       t.log_index, CAST(NULL AS VARCHAR) AS trace_address, CAST(NULL AS VARCHAR) AS kind,
       t.block_number, b.hash AS block_hash, b.parent_hash, b.timestamp AS block_time,
       t.from_address, t.to_address,
       coalesce(CAST(t.amount_raw AS VARCHAR), CAST(t.amount_raw_big AS VARCHAR)) AS amount_raw,
       coalesce(CAST(t.amount_raw AS DOUBLE), CAST(t.amount_raw_big AS DOUBLE))
           / pow(10, a.decimals) AS amount
FROM token_transfers t
LEFT JOIN assets a ON a.chain = t.chain AND a.token_address = t.token_address
LEFT JOIN blocks b ON b.chain = t.chain AND b.number = t.block_number
WHERE t.chain IN (SELECT unnest($chains))
UNION ALL
SELECT n.chain, c.native_symbol, NULL, n.tx_hash, NULL, n.trace_address, n.kind,
       n.block_number, b.hash, b.parent_hash, b.timestamp, n.from_address, n.to_address,
       CAST(n.amount_raw AS VARCHAR), CAST(n.amount_raw AS DOUBLE) / pow(10, c.native_decimals)
FROM native_transfers n
JOIN chains c ON c.chain = n.chain
LEFT JOIN blocks b ON b.chain = n.chain AND b.number = n.block_number
WHERE n.chain IN (SELECT unnest($chains))
ORDER BY chain, block_number, tx_hash, log_index NULLS LAST, trace_address
"""

_BLOCKS = """
SELECT chain, number, hash, parent_hash, timestamp FROM blocks
WHERE chain IN (SELECT unnest($chains)) ORDER BY chain, number
"""


@dataclass(frozen=True)
class ExportResult:
    """What ``export transfers`` wrote."""

    folder: str
    files: tuple[str, ...]
    chains: tuple[str, ...]
    transfers: int
    blocks: int
    seconds: float


def evm_chains(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Chains with EVM transfers or checkpoints in the store."""
    rows = con.execute(
        "SELECT DISTINCT chain FROM checkpoints WHERE stream = 'native' OR stream LIKE 'erc20:%' "
        "ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def coverage_record(con: duckdb.DuckDBPyConnection, chains: list[str]) -> dict:
    """Chains, their assets and their checkpointed ranges, as stored in the export's metadata."""
    record: dict = {"format": EXPORT_FORMAT, "chains": {}}
    for chain in chains:
        (row,) = con.execute(
            "SELECT chain_id, native_symbol, native_decimals FROM chains WHERE chain = ?", [chain]
        ).fetchall() or [(None, "ETH", 18)]
        assets = con.execute(
            "SELECT asset, token_address, decimals FROM assets WHERE chain = ? ORDER BY 2",
            [chain],
        ).fetchall()
        streams = con.execute(
            "SELECT stream, first_block, last_block FROM checkpoints WHERE chain = ? "
            "AND (stream = 'native' OR stream LIKE 'erc20:%') ORDER BY 1",
            [chain],
        ).fetchall()
        record["chains"][chain] = {
            "chain_id": row[0],
            "native_symbol": row[1],
            "native_decimals": row[2],
            "assets": [list(a) for a in assets],
            "streams": {s: [int(a), int(b)] for s, a, b in streams},
        }
    return record


def export_transfers(
    con: duckdb.DuckDBPyConnection,
    folder: str | Path,
    *,
    chain: str | None = None,
    fmt: str = "parquet",
) -> ExportResult:
    """Write the EVM transfers and blocks of ``chain`` (default: every EVM chain) to ``folder``."""
    started = time.monotonic()
    if fmt not in ("parquet", "csv"):
        raise InputError(f"unknown export format {fmt!r}: use parquet or csv")
    chains, btc = evm_chains(con), bitcoin_chains(con)
    if chain is not None:
        if chain not in chains and chain not in btc:
            have = ", ".join(chains + btc) or "none"
            raise InputError(f"the store holds no chain {chain!r} (it has: {have})")
        chains, btc = [c for c in chains if c == chain], [c for c in btc if c == chain]
    if not chains and not btc:
        raise InputError("the store holds no transfers to export")
    if btc and fmt != "parquet":
        raise InputError("Bitcoin chains are exported as Parquet only (--format parquet)")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    counts = {"transfers": 0, "blocks": 0}
    if chains:
        record = json.dumps(coverage_record(con, chains), sort_keys=True)
        for name, query in (("transfers", _TRANSFERS), ("blocks", _BLOCKS)):
            path = out / f"{name}.{fmt}"
            if fmt == "parquet":
                options = "FORMAT parquet, COMPRESSION zstd, KV_METADATA {exposure: $record}"
                params = {"chains": chains, "path": str(path), "record": record}
            else:
                options = "FORMAT csv, HEADER true"
                params = {"chains": chains, "path": str(path)}
            con.execute(f"COPY ({query}) TO $path ({options})", params)
            counts[name] = int(
                con.execute(f"SELECT count(*) FROM ({query})", {"chains": chains}).fetchall()[0][0]
            )
            files.append(str(path))
        if fmt == "csv":
            (out / "coverage.json").write_text(record + "\n", encoding="utf-8")
            files.append(str(out / "coverage.json"))
    if btc:
        written, transfers, blocks = export_bitcoin(con, out, btc)
        files.extend(written)
        counts["transfers"] += transfers
        counts["blocks"] += blocks
    chains = chains + btc
    return ExportResult(
        str(out), tuple(files), tuple(chains), counts["transfers"], counts["blocks"],
        time.monotonic() - started,
    )
