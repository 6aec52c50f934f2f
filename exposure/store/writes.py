"""Idempotent writes: register chains and assets, replace a block range, roll back after a reorg.

Every indexer batch is written by :func:`write_evm_batch` in one transaction together with the
block headers and the streams' checkpoints, so a crash leaves either the whole batch or none of
it, and writing the same range again replaces it instead of duplicating it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ..domain import ChainSpec, Token
from .connect import transaction
from .schema import ADDRESS_TABLES


def register_chain(con: duckdb.DuckDBPyConnection, spec: ChainSpec, chain_id: int | None) -> None:
    """Insert or update the chain row and its tracked tokens' asset rows."""
    with transaction(con):
        con.execute(
            "INSERT INTO chains VALUES (?, ?, ?, ?) ON CONFLICT (chain) DO UPDATE SET "
            "chain_id = coalesce(excluded.chain_id, chains.chain_id), "
            "native_symbol = excluded.native_symbol, native_decimals = excluded.native_decimals",
            [spec.name, chain_id, spec.native_symbol, spec.native_decimals],
        )
        for token in spec.tokens:
            register_token(con, spec.name, token)


def register_token(con: duckdb.DuckDBPyConnection, chain: str, token: Token) -> None:
    """Insert or update one tracked token (by chain and contract address)."""
    con.execute(
        "INSERT INTO assets VALUES (?, ?, ?, ?) ON CONFLICT (chain, token_address) DO UPDATE SET "
        "asset = excluded.asset, decimals = excluded.decimals",
        [chain, token.symbol, token.address, token.decimals],
    )


@dataclass(frozen=True)
class StreamRange:
    """A stream's part of a batch: blocks ``first..last`` of ``stream`` were fetched completely."""

    stream: str
    first: int
    last: int
    token_address: str | None = None


def write_evm_batch(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    streams: Sequence[StreamRange],
    blocks: pa.Table,
    token_transfers: pa.Table | None,
    native_transfers: pa.Table | None,
) -> None:
    """Replace the batch's ranges in one transaction and advance each stream's checkpoint.

    ``blocks`` follows ``BLOCK_SCHEMA``, ``token_transfers`` ``TRANSFER_SCHEMA`` and
    ``native_transfers`` ``NATIVE_SCHEMA`` (see ``exposure.indexers.evm``). Rows of each stream's
    range are deleted first, so a rerun of the same range leaves the same rows.
    """
    with transaction(con):
        if blocks.num_rows:
            lo = pc.min(blocks["number"]).as_py()
            hi = pc.max(blocks["number"]).as_py()
            con.execute(
                "DELETE FROM blocks WHERE chain = ? AND number BETWEEN ? AND ?", [chain, lo, hi]
            )
            con.register("_batch_blocks", blocks)
            con.execute(
                "INSERT INTO blocks SELECT ?, number, hash, parent_hash, to_timestamp(timestamp) "
                "FROM _batch_blocks",
                [chain],
            )
            con.unregister("_batch_blocks")
        for s in streams:
            if s.token_address is not None:
                con.execute(
                    "DELETE FROM token_transfers WHERE chain = ? AND token_address = ? "
                    "AND block_number BETWEEN ? AND ?",
                    [chain, s.token_address, s.first, s.last],
                )
            else:
                con.execute(
                    "DELETE FROM native_transfers WHERE chain = ? AND block_number BETWEEN ? AND ?",
                    [chain, s.first, s.last],
                )
        has_tokens = token_transfers is not None and token_transfers.num_rows > 0
        has_native = native_transfers is not None and native_transfers.num_rows > 0
        if has_tokens:
            con.register("_batch_tokens", token_transfers)
        if has_native:
            con.register("_batch_native", native_transfers)
        # the rows get their address ids as they are inserted (an UPDATE of rows just written
        # costs DuckDB far more than the insert: 0.25 s per column for 28k rows)
        sources = [f"SELECT {side}_address AS address FROM {name}"
                   for name, present in (("_batch_tokens", has_tokens),
                                         ("_batch_native", has_native)) if present
                   for side in ("from", "to")]
        if sources:
            _address_ids(con, chain, " UNION ".join(sources))
        if has_tokens:
            con.execute(
                "INSERT INTO token_transfers SELECT ?, b.token_address, b.block_number, "
                "b.tx_hash, b.log_index, b.from_address, b.to_address, "
                "CASE WHEN b.amount_big IS NULL THEN "
                "CAST(b.amount_hi AS UHUGEINT) * CAST(18446744073709551616 AS UHUGEINT) "
                "+ CAST(b.amount_lo AS UHUGEINT) END, "
                "CAST(b.amount_big AS BIGNUM), f.id, t.id FROM _batch_tokens b "
                "JOIN _enc_ids f ON f.address = b.from_address "
                "JOIN _enc_ids t ON t.address = b.to_address",
                [chain],
            )
            con.unregister("_batch_tokens")
        if has_native:
            con.execute(
                "INSERT INTO native_transfers SELECT ?, b.block_number, b.tx_hash, "
                "b.trace_address, b.kind, b.from_address, b.to_address, "
                "CAST(b.amount AS UHUGEINT), f.id, t.id FROM _batch_native b "
                "JOIN _enc_ids f ON f.address = b.from_address "
                "JOIN _enc_ids t ON t.address = b.to_address",
                [chain],
            )
            con.unregister("_batch_native")
        if sources:
            con.execute("DROP TABLE _enc_ids")
            con.execute("DROP TABLE _enc_addresses")
        for s in streams:
            advance_checkpoint(con, chain, s.stream, s.first, s.last)


def encode_addresses(
    con: duckdb.DuckDBPyConnection, chain: str, first: int, last: int,
    tables: Sequence[str] = ADDRESS_TABLES,
) -> None:
    """Give the transfers of blocks ``first..last`` of ``chain`` in ``tables`` their address ids
    (inside the caller's transaction): new addresses get the next dense ids of the chain, in
    address order, then every row of the range without ids is filled. Idempotent."""
    missing = " UNION ".join(
        f"SELECT {side}_address AS address FROM {table} WHERE chain = $chain "
        f"AND block_number BETWEEN $lo AND $hi AND {side}_id IS NULL"
        for table in tables for side in ("from", "to")
    )
    params = {"chain": chain, "lo": first, "hi": last}
    _address_ids(con, chain, missing, params)
    for table in tables:
        for side in ("from", "to"):
            con.execute(
                f"UPDATE {table} x SET {side}_id = a.id FROM _enc_ids a "
                f"WHERE x.chain = $chain AND x.block_number BETWEEN $lo AND $hi "
                f"AND x.{side}_id IS NULL AND a.address = x.{side}_address",
                params,
            )
    con.execute("DROP TABLE _enc_ids")
    con.execute("DROP TABLE _enc_addresses")


def _address_ids(
    con: duckdb.DuckDBPyConnection, chain: str, missing: str, params: dict | None = None
) -> None:
    """Temp tables ``_enc_addresses`` (the addresses the sub-query union ``missing`` yields,
    chosen by the caller, never a value) and ``_enc_ids``
    (their ids), new addresses given the chain's next dense ids in address order (inside the
    caller's transaction; the caller drops both tables)."""
    # the range's addresses first (small), so the dictionary is only probed, never hashed whole:
    # a bulk import commits many chunks against a dictionary of millions of addresses
    con.execute(f"CREATE OR REPLACE TEMP TABLE _enc_addresses AS {missing}", params or {})
    con.execute(
        """INSERT INTO addresses
        SELECT $chain, (SELECT coalesce(max(id), -1) FROM addresses WHERE chain = $chain)
                       + row_number() OVER (ORDER BY n.address), n.address
        FROM _enc_addresses n
        WHERE NOT EXISTS (SELECT 1 FROM addresses a SEMI JOIN _enc_addresses e
                          ON e.address = a.address
                          WHERE a.chain = $chain AND a.address = n.address)""",
        {"chain": chain},
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _enc_ids AS SELECT a.id, a.address FROM addresses a "
        "SEMI JOIN _enc_addresses e ON e.address = a.address WHERE a.chain = $chain",
        {"chain": chain},
    )


#: The transfer tables each kind of chain writes.
EVM_TABLES = ("token_transfers", "native_transfers")
BTC_TABLES = ("btc_transfers",)


def advance_checkpoint(
    con: duckdb.DuckDBPyConnection, chain: str, stream: str, first: int, last: int
) -> None:
    """Widen ``stream``'s checkpoint to include ``first..last`` (inside the caller's
    transaction; callers have refused ranges that would leave a gap). Those blocks are whole
    now: any of them listed in ``open_blocks`` for the stream is no longer open."""
    con.execute(
        "INSERT INTO checkpoints VALUES (?, ?, ?, ?, now()) "
        "ON CONFLICT (chain, stream) DO UPDATE SET "
        "first_block = least(checkpoints.first_block, excluded.first_block), "
        "last_block = greatest(checkpoints.last_block, excluded.last_block), "
        "updated_at = excluded.updated_at",
        [chain, stream, first, last],
    )
    con.execute(
        "DELETE FROM open_blocks WHERE chain = ? AND stream = ? AND block_number BETWEEN ? AND ?",
        [chain, stream, first, last],
    )


def cut_checkpoint(con: duckdb.DuckDBPyConnection, chain: str, stream: str, before: int) -> None:
    """Shrink ``stream``'s checkpoint to end before block ``before`` (an open block), dropping it
    if it starts there or later (inside the caller's transaction)."""
    con.execute(
        "DELETE FROM checkpoints WHERE chain = ? AND stream = ? AND first_block >= ?",
        [chain, stream, before],
    )
    con.execute(
        "UPDATE checkpoints SET last_block = ?, updated_at = now() "
        "WHERE chain = ? AND stream = ? AND last_block >= ?",
        [before - 1, chain, stream, before],
    )


def rollback_after(con: duckdb.DuckDBPyConnection, chain: str, ancestor: int) -> None:
    """Forget everything of ``chain`` above block ``ancestor`` (a reorg's common ancestor)."""
    with transaction(con):
        for table, column in (
            ("token_transfers", "block_number"),
            ("native_transfers", "block_number"),
            ("btc_transfers", "block_number"),
            ("btc_inputs", "block_number"),
            ("btc_outputs", "block_number"),
            ("btc_txs", "block_number"),
            ("blocks", "number"),
        ):
            con.execute(f"DELETE FROM {table} WHERE chain = ? AND {column} > ?", [chain, ancestor])
        con.execute(
            "DELETE FROM checkpoints WHERE chain = ? AND first_block > ?", [chain, ancestor]
        )
        con.execute(
            "DELETE FROM open_blocks WHERE chain = ? AND block_number > ?", [chain, ancestor]
        )
        con.execute(
            "UPDATE checkpoints SET last_block = least(last_block, ?), updated_at = now() "
            "WHERE chain = ?",
            [ancestor, chain],
        )


def record_run(
    con: duckdb.DuckDBPyConnection,
    *,
    chain: str,
    source: str,
    node_chain_id: int | None,
    tracing: str,
    from_block: int,
    to_block: int,
    reorgs: int,
) -> None:
    """Remember a finished run (the source URL must already be redacted)."""
    with transaction(con):
        con.execute(
            "INSERT INTO index_runs VALUES (?, ?, ?, ?, ?, ?, ?, now())",
            [chain, source, node_chain_id, tracing, from_block, to_block, reorgs],
        )


def replace_label_packs(
    con: duckdb.DuckDBPyConnection,
    packs: pa.Table,
    tags: pa.Table,
    actors: pa.Table,
    *,
    drop_shipped: bool = False,
) -> None:
    """Replace the given packs' rows (and, with ``drop_shipped``, all shipped packs) at once.

    ``packs`` has the ``label_packs`` columns but ``loaded_at``; ``tags`` the ``tags`` columns
    but ``tag_id``; ``actors`` the ``actors`` columns. All in one transaction: a re-import never
    leaves a pack half replaced or duplicated.
    """
    with transaction(con):
        con.register("_packs", packs)
        con.register("_tags", tags)
        con.register("_actors", actors)
        doomed = "SELECT pack_id FROM _packs"
        if drop_shipped:
            doomed += " UNION SELECT pack_id FROM label_packs WHERE shipped"
        con.execute(f"DELETE FROM tags WHERE pack_id IN ({doomed})")
        con.execute(f"DELETE FROM actors WHERE pack_id IN ({doomed})")
        con.execute(f"DELETE FROM label_packs WHERE pack_id IN ({doomed})")
        con.execute("INSERT INTO label_packs SELECT *, now() FROM _packs")
        con.execute("INSERT INTO tags SELECT nextval('tag_ids'), * FROM _tags")
        con.execute("INSERT INTO actors SELECT * FROM _actors")
        for name in ("_packs", "_tags", "_actors"):
            con.unregister(name)


def replace_address_categories(con: duckdb.DuckDBPyConnection, rules: pa.Table) -> None:
    """Rebuild ``address_categories`` from the tags and a category rule table.

    ``rules`` maps each distinct tag signature ``(category, concepts, actor, serves_mainland,
    rwa, stablecoin)`` (as the string ``sig``) to the screening categories it yields
    (column ``categories``, a list). For every address and category the best supporting tag
    (confidence, then newest, then id) is kept.
    """
    with transaction(con):
        con.register("_rules", rules)
        con.execute("DELETE FROM address_categories")
        con.execute(
            """INSERT INTO address_categories
            SELECT chain, address, category, tag_id FROM (
                SELECT t.chain, t.address, unnest(r.categories) AS category, t.tag_id,
                       t.confidence_level, t.lastmod
                FROM tags t JOIN _rules r ON r.sig = """
            + TAG_SIGNATURE_SQL
            + """
            )
            QUALIFY row_number() OVER (
                PARTITION BY chain, address, category
                ORDER BY confidence_level DESC, lastmod DESC NULLS LAST, tag_id
            ) = 1"""
        )
        con.unregister("_rules")


#: The signature of a tag for category derivation, as SQL over ``tags t`` (see labels.catalog).
TAG_SIGNATURE_SQL = (
    "concat_ws('|', coalesce(t.category, ''), array_to_string(list_sort(t.concepts), ','), "
    "coalesce(t.actor, ''), coalesce(t.serves_mainland, ''), coalesce(t.rwa, ''), "
    "coalesce(t.stablecoin, ''))"
)


#: Bitcoin transfers of a block range: for each transaction, from each input's address to each
#: output's address, the output's value apportioned by the input's share of the transaction's
#: resolved input value (floor, in satoshi). Coinbase inputs and outputs without an address
#: (OP_RETURN, non-standard) make no transfer; inputs whose previous output is unknown are left
#: out of the shares (and counted as unresolved in the data state).
_BTC_TRANSFERS_SQL = """
INSERT INTO btc_transfers
WITH ins AS (
    SELECT i.txid, i.vin, i.block_number,
           coalesce(o.address, p.address) AS address,
           coalesce(o.value_sat, p.value_sat) AS value_sat
    FROM btc_inputs i
    LEFT JOIN btc_outputs o
           ON o.chain = i.chain AND o.txid = i.prev_txid AND o.vout = i.prev_vout
    LEFT JOIN btc_prevouts p
           ON p.chain = i.chain AND p.txid = i.prev_txid AND p.vout = i.prev_vout
    WHERE i.chain = $chain AND i.block_number BETWEEN $lo AND $hi AND NOT i.is_coinbase
),
totals AS (SELECT txid, sum(value_sat) AS total FROM ins GROUP BY txid)
SELECT $chain, ins.block_number, ins.txid, ins.vin, o.vout, ins.address, o.address,
       CAST(floor(CAST(o.value_sat AS HUGEINT) * ins.value_sat / t.total) AS UBIGINT),
       NULL, NULL
FROM ins
JOIN totals t ON t.txid = ins.txid
JOIN btc_outputs o ON o.chain = $chain AND o.txid = ins.txid
                   AND o.block_number BETWEEN $lo AND $hi  -- a tx's outputs are in its block
WHERE ins.address IS NOT NULL AND o.address IS NOT NULL AND t.total > 0
"""


def write_btc_batch(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    first: int,
    last: int,
    blocks: pa.Table,
    txs: pa.Table,
    outputs: pa.Table,
    inputs: pa.Table,
    prevouts: pa.Table | None = None,
    stream: str = "blocks",
) -> None:
    """Replace Bitcoin blocks ``first..last`` of ``chain`` and advance the checkpoint, atomically.

    ``blocks`` follows the EVM ``BLOCK_SCHEMA`` (number, hash, parent_hash, timestamp);
    ``txs``/``outputs``/``inputs`` carry the ``btc_*`` table columns after ``chain`` (with
    ``block_number``); ``prevouts`` the ``btc_prevouts`` columns after ``chain``. Apportioned
    transfers are derived in SQL in the same transaction.
    """
    with transaction(con):
        for table, column in (
            ("btc_transfers", "block_number"), ("btc_inputs", "block_number"),
            ("btc_outputs", "block_number"), ("btc_txs", "block_number"), ("blocks", "number"),
        ):
            con.execute(
                f"DELETE FROM {table} WHERE chain = ? AND {column} BETWEEN ? AND ?",
                [chain, first, last],
            )
        con.register("_b", blocks)
        con.execute(
            "INSERT INTO blocks SELECT ?, number, hash, parent_hash, to_timestamp(timestamp) "
            "FROM _b", [chain],
        )
        for name, table in (("btc_txs", txs), ("btc_outputs", outputs), ("btc_inputs", inputs)):
            con.register("_rows", table)
            con.execute(f"INSERT INTO {name} SELECT ?, * FROM _rows", [chain])
            con.unregister("_rows")
        if prevouts is not None and prevouts.num_rows:
            con.register("_prev", prevouts)
            con.execute(
                "INSERT INTO btc_prevouts SELECT ?, * FROM _prev p WHERE NOT EXISTS ("
                "SELECT 1 FROM btc_prevouts q WHERE q.chain = ? AND q.txid = p.txid "
                "AND q.vout = p.vout)",
                [chain, chain],
            )
            con.unregister("_prev")
        con.unregister("_b")
        con.execute(_BTC_TRANSFERS_SQL, {"chain": chain, "lo": first, "hi": last})
        encode_addresses(con, chain, first, last, BTC_TABLES)
        advance_checkpoint(con, chain, stream, first, last)


def replace_clusters(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    data_key: str,
    clusters: pa.Table,
    refusals: pa.Table,
    coinjoins: int,
) -> None:
    """Replace ``chain``'s clusters (address, cluster, linked_by, size) and refusals at once."""
    with transaction(con):
        con.execute("DELETE FROM btc_clusters WHERE chain = ?", [chain])
        con.execute("DELETE FROM btc_cluster_refusals WHERE chain = ?", [chain])
        con.register("_clusters", clusters)
        con.execute("INSERT INTO btc_clusters SELECT ?, * FROM _clusters", [chain])
        con.unregister("_clusters")
        con.register("_refusals", refusals)
        con.execute("INSERT INTO btc_cluster_refusals SELECT ?, * FROM _refusals", [chain])
        con.unregister("_refusals")
        con.execute(
            "INSERT INTO btc_cluster_state VALUES (?, ?, ?, "
            "(SELECT count(DISTINCT cluster) FROM btc_clusters WHERE chain = ?), ?, ?, now()) "
            "ON CONFLICT (chain) DO UPDATE SET data_key = excluded.data_key, "
            "addresses = excluded.addresses, clusters = excluded.clusters, "
            "coinjoins = excluded.coinjoins, refused = excluded.refused, "
            "computed_at = excluded.computed_at",
            [chain, data_key, clusters.num_rows, chain, coinjoins, refusals.num_rows],
        )


def replace_evm_range(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    first: int,
    last: int,
    streams: Sequence[StreamRange],
    *,
    blocks: tuple[str, dict],
    tokens: tuple[str, dict] | None,
    native: tuple[str, dict] | None,
    all_tokens: bool = False,
    distinct: bool = False,
    open_from: Mapping[str, int] | None = None,
    open_blocks: tuple[str, dict] | None = None,
) -> int:
    """Replace blocks ``first..last`` and the streams' rows from bulk-import queries, atomically.

    ``blocks``/``tokens``/``native`` are (SELECT, parameters) pairs yielding the store's columns
    (blocks: number, hash, parent_hash, ts; tokens: token_address, block_number, tx_hash,
    log_index, from_address, to_address, amount_raw, amount_raw_big; native: block_number,
    tx_hash, trace_address, kind, from_address, to_address, amount_raw). With ``all_tokens``
    every token's rows in the range are replaced, else only the streams' tokens. ``distinct``
    drops rows repeated across overlapping input files. Returns the transfer rows written.

    ``open_from`` maps a stream to its first open block (one with a rejected row) in the
    import: its checkpoint advances only below that block and is cut back to end before it, so
    ``index evm`` or a corrected import resumes there. ``open_blocks`` is a (SELECT, parameters)
    pair yielding the import's open blocks (stream, block_number, reason, source); they replace
    the streams' open blocks recorded in ``first..last`` before.
    """
    written = 0
    unique = "DISTINCT " if distinct else ""
    with transaction(con):
        con.execute(
            "DELETE FROM blocks WHERE chain = ? AND number BETWEEN ? AND ?", [chain, first, last]
        )
        con.execute(
            f"INSERT INTO blocks SELECT $chain_, number, hash, parent_hash, ts FROM ({blocks[0]})",
            {**blocks[1], "chain_": chain},
        )
        token_streams = [s for s in streams if s.stream.startswith("erc20:")]
        if all_tokens and token_streams:
            con.execute(
                "DELETE FROM token_transfers WHERE chain = ? AND block_number BETWEEN ? AND ?",
                [chain, first, last],
            )
        else:
            for s in token_streams:
                con.execute(
                    "DELETE FROM token_transfers WHERE chain = ? AND token_address = ? "
                    "AND block_number BETWEEN ? AND ?",
                    [chain, s.token_address, s.first, s.last],
                )
        if any(s.stream == "native" for s in streams):
            s = next(s for s in streams if s.stream == "native")
            con.execute(
                "DELETE FROM native_transfers WHERE chain = ? AND block_number BETWEEN ? AND ?",
                [chain, s.first, s.last],
            )
        has_tokens = tokens is not None and bool(token_streams)
        has_native = native is not None and any(s.stream == "native" for s in streams)
        # the rows get their address ids as they are inserted: an UPDATE of the rows just
        # written rewrites each id column of the whole chunk (most of a bulk import's time)
        sources = [q for q, present in ((tokens, has_tokens), (native, has_native)) if present]
        for i, (rows, params) in enumerate(sources):
            verb = "INSERT INTO _enc_src" if i else "CREATE OR REPLACE TEMP TABLE _enc_src AS"
            con.execute(f"{verb} SELECT DISTINCT unnest([from_address, to_address]) AS address "
                        f"FROM ({rows})", params)
        if sources:
            _address_ids(con, chain,
                         "SELECT DISTINCT address FROM _enc_src WHERE address IS NOT NULL")
        id_joins = ("LEFT JOIN _enc_ids f ON f.address = x.from_address "
                    "LEFT JOIN _enc_ids t ON t.address = x.to_address")
        if has_tokens and tokens is not None:
            written += _insert_count(
                con,
                "INSERT INTO token_transfers SELECT $chain_, x.token_address, x.block_number, "
                "x.tx_hash, x.log_index, x.from_address, x.to_address, x.amount_raw, "
                f"x.amount_raw_big, f.id, t.id FROM (SELECT {unique}* FROM ({tokens[0]})) x "
                f"{id_joins}",
                {**tokens[1], "chain_": chain},
            )
        if has_native and native is not None:
            written += _insert_count(
                con,
                "INSERT INTO native_transfers SELECT $chain_, x.block_number, x.tx_hash, "
                "x.trace_address, x.kind, x.from_address, x.to_address, x.amount_raw, f.id, "
                f"t.id FROM (SELECT {unique}* FROM ({native[0]})) x {id_joins}",
                {**native[1], "chain_": chain},
            )
        if sources:
            for table in ("_enc_ids", "_enc_addresses", "_enc_src"):
                con.execute(f"DROP TABLE {table}")
        opened = open_from or {}
        for s in streams:
            until = min(s.last, opened.get(s.stream, s.last + 1) - 1)
            if until >= s.first:
                advance_checkpoint(con, chain, s.stream, s.first, until)
            if s.stream in opened:
                cut_checkpoint(con, chain, s.stream, opened[s.stream])
        _replace_open_blocks(con, chain, first, last, streams, open_blocks)
    return written


def _replace_open_blocks(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    first: int,
    last: int,
    streams: Sequence[StreamRange],
    rows: tuple[str, dict] | None,
) -> None:
    con.execute(
        "DELETE FROM open_blocks WHERE chain = $chain_ AND stream IN (SELECT unnest($streams_)) "
        "AND block_number BETWEEN $first_ AND $last_",
        {"chain_": chain, "streams_": [s.stream for s in streams], "first_": first,
         "last_": last},
    )
    if rows is not None:
        con.execute(
            "INSERT INTO open_blocks SELECT $chain_, stream, block_number, reason, source, now() "
            f"FROM ({rows[0]}) WHERE block_number BETWEEN $first_ AND $last_ "
            "AND stream IN (SELECT unnest($streams_))",
            {**rows[1], "chain_": chain, "first_": first, "last_": last,
             "streams_": [s.stream for s in streams]},
        )


def _insert_count(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> int:
    rows = con.execute(sql, params).fetchall()
    return int(rows[0][0]) if rows else 0
