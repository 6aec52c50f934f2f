"""Reads the indexers and reports need: checkpoints, stored block hashes, data state."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Checkpoint:
    """The contiguous block range ``first..last`` a stream has fully committed."""

    stream: str
    first: int
    last: int

    def gap(self, first: int, last: int) -> tuple[int, int] | None:
        """The blocks that adding ``first..last`` would leave uncovered next to this range
        (None when the two touch or overlap)."""
        if first > self.last + 1:
            return self.last + 1, first - 1
        if last < self.first - 1:
            return last + 1, self.first - 1
        return None


def checkpoints(con: duckdb.DuckDBPyConnection, chain: str) -> dict[str, Checkpoint]:
    """Every stream's checkpoint on ``chain``."""
    rows = con.execute(
        "SELECT stream, first_block, last_block FROM checkpoints WHERE chain = ?", [chain]
    ).fetchall()
    return {s: Checkpoint(s, int(a), int(b)) for s, a, b in rows}


@dataclass(frozen=True)
class OpenBlock:
    """A block of ``stream`` on ``chain`` that is not complete in the store: an import rejected
    a row of it (``reason``; ``source`` is the file and row). It lies outside the stream's
    checkpoint until ``index evm`` or a corrected import writes it whole."""

    chain: str
    stream: str
    block: int
    reason: str
    source: str


def open_blocks(
    con: duckdb.DuckDBPyConnection, chain: str | None = None, limit: int | None = None
) -> list[OpenBlock]:
    """Open blocks of ``chain`` (every chain if None), by chain, stream and block."""
    rows = con.execute(
        "SELECT chain, stream, block_number, reason, source FROM open_blocks "
        "WHERE $chain IS NULL OR chain = $chain ORDER BY chain, stream, block_number "
        "LIMIT $limit",
        {"chain": chain, "limit": limit},
    ).fetchall()
    return [OpenBlock(c, s, int(b), r, src) for c, s, b, r, src in rows]


def block_hashes(
    con: duckdb.DuckDBPyConnection, chain: str, first: int, last: int
) -> dict[int, str]:
    """Stored hashes of ``chain``'s blocks ``first..last`` (missing numbers are absent)."""
    rows = con.execute(
        "SELECT number, hash FROM blocks WHERE chain = ? AND number BETWEEN ? AND ?",
        [chain, first, last],
    ).fetchall()
    return {int(n): h for n, h in rows}


def highest_block(con: duckdb.DuckDBPyConnection, chain: str) -> int | None:
    """The highest stored block number of ``chain``, or None."""
    rows = con.execute("SELECT max(number) FROM blocks WHERE chain = ?", [chain]).fetchall()
    return None if rows[0][0] is None else int(rows[0][0])


def table_counts(con: duckdb.DuckDBPyConnection, chain: str) -> dict[str, int]:
    """Row counts per table for ``chain`` (for summaries and tests)."""
    out = {}
    for table in ("blocks", "token_transfers", "native_transfers"):
        out[table] = int(
            con.execute(f"SELECT count(*) FROM {table} WHERE chain = ?", [chain]).fetchall()[0][0]
        )
    return out
