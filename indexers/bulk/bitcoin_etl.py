"""bitcoin-etl exports (``bitcoinetl export_blocks_and_transactions``) into the Bitcoin tables.

The dump is JSON lines: a blocks file (``number``, ``hash``, ``timestamp``, ``version``,
``merkle_root``, ``bits``, ``nonce``, ``coinbase_param``, ``transaction_count``) and a
transactions file (``hash``, ``block_number``, ``block_hash``, ``index``, ``is_coinbase``,
``inputs[]`` with ``index``/``spent_transaction_hash``/``spent_output_index`` and, after
``bitcoinetl enrich_transactions``, the spent output's ``value``/``type``/``addresses``;
``outputs[]`` with ``index``/``script_hex``/``value``/``addresses``). Files are recognised by
their keys, read by DuckDB (``read_ndjson_objects``, gzip by extension) into temporary tables
with their file and line numbers, checked in SQL, and written block range by block range with
:func:`exposure.store.writes.write_btc_batch`, the Bitcoin indexer's writer: the same rows, natural
keys, apportioned transfers and ``blocks`` checkpoint as ``index btc``.

What the import takes from where, so that it gives the indexer's rows:

- ``btc_outputs.script_type``/``address`` come from ``script_hex`` with the indexer's own
  classifier (:func:`exposure.indexers.bitcoin.scripts.classify_scripts`) for the network: the
  dump's ``addresses`` are only checked for form. They are the node's (bcoin writes regtest
  addresses its own way), and bitcoin-etl invents ``nonstandard<hash>`` addresses for OP_RETURN
  and other scripts without one, which the indexer leaves without an address.
- a coinbase's input row (the null outpoint), which bitcoin-etl drops, is restored, and its
  script comes from the block's ``coinbase_param``.
- ``blocks.parent_hash`` is not in the dump: it is the previous block's hash (in the dump or in
  the store). Where the dump has ``nonce`` (Bitcoin Core does, bcoin does not) each header is
  rebuilt and must hash to the block's hash, which proves the link; the first block of a dump
  whose parent is neither in the dump nor stored gets an empty ``parent_hash``.
- inputs spending outputs outside the dump and the store become ``btc_prevouts`` when the dump
  was enriched (``value`` present), with the dump's address (kept as written) and type;
  otherwise they stay unresolved, as with ``index btc`` on a node without a transaction index.
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from exposure.errors import DataError, InputError
from exposure.store import reads, writes

from ..bitcoin.indexer import (
    BLOCKS_SCHEMA,
    BTC_INPUTS_SCHEMA,
    BTC_OUTPUTS_SCHEMA,
    BTC_PREVOUTS_SCHEMA,
    BTC_TXS_SCHEMA,
    GENESIS,
    STREAM,
    _register_chain,
    btc_chain_name,
)
from ..bitcoin.parse import COINBASE_VOUT, MAX_MONEY
from ..bitcoin.scripts import classify_scripts
from ..planning import refuse_gap
from .model import Coverage, ImportOptions, ImportProgress, ImportResult, Reject

FORMAT = "bitcoin-etl"
#: Transactions per committed chunk (whole blocks; a bigger block is a chunk of its own).
CHUNK_TRANSACTIONS = 50_000
#: Largest JSON line read (a transaction with tens of thousands of outputs is tens of MB).
_MAX_OBJECT = 1 << 30
#: Keys that make a JSON-lines file a bitcoin-etl blocks or transactions dump.
BLOCK_KEYS = ("hash", "number", "timestamp", "merkle_root", "transaction_count")
TX_KEYS = ("hash", "block_number", "index", "inputs", "outputs")

_HEX64 = "^[0-9a-f]{64}$"
_HEX = "^([0-9a-fA-F]{2})*$"
#: Form of an address as a node writes it (base58, bech32/bech32m) or bitcoin-etl's placeholder.
_ADDRESS = (
    "^([1-9A-HJ-NP-Za-km-z]{25,35}|[a-z]{1,83}1[02-9ac-hj-np-z]{6,}|[A-Z]{1,83}1[02-9AC-HJ-NP-Z]{6,}"
    "|nonstandard[0-9a-f]{40})$"
)
#: Bitcoin Core's (and bcoin's) names of script types, to the indexer's.
_TYPES = {
    "pubkeyhash": "p2pkh", "scripthash": "p2sh", "witness_v0_keyhash": "p2wpkh",
    "witness_v0_scripthash": "p2wsh", "witness_v1_taproot": "p2tr",
    "witness_unknown": "witness_unknown", "pubkey": "p2pk", "multisig": "multisig",
    "nulldata": "nulldata", "nonstandard": "nonstandard", "witnesspubkeyhash": "p2wpkh",
    "witnessscripthash": "p2wsh",
}

# ---------------------------------------------------------------------------------------------
# Staging SQL: one row per line, then checked columns; ``problem`` is NULL for a good row.
# ---------------------------------------------------------------------------------------------

_BLOCKS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _etl_blocks AS
SELECT file, line, number, hash, ts, version, merkle_root, bits, nonce, coinbase_param, tx_count,
       CASE
         WHEN j IS NULL THEN 'not a JSON object'
         WHEN json_extract_string(j, 'number') IS NULL THEN 'missing number'
         WHEN number IS NULL OR number < 0 THEN
           'number is not a block height: ' || json_extract_string(j, 'number')
         WHEN json_extract_string(j, 'hash') IS NULL THEN 'missing hash'
         WHEN NOT regexp_matches(hash, '{_HEX64}') THEN 'hash is not 64 hex digits'
         WHEN json_extract_string(j, 'timestamp') IS NULL THEN 'missing timestamp'
         WHEN ts IS NULL
           THEN 'timestamp is not an integer: ' || json_extract_string(j, 'timestamp')
         WHEN tx_count IS NULL OR tx_count < 1 THEN 'missing or bad transaction_count'
         WHEN coinbase_param IS NOT NULL AND NOT regexp_matches(coinbase_param, '{_HEX}')
           THEN 'coinbase_param is not hex'
       END AS problem
FROM (
  SELECT file, line, j,
         TRY_CAST(json_extract_string(j, 'number') AS BIGINT) AS number,
         lower(json_extract_string(j, 'hash')) AS hash,
         TRY_CAST(json_extract_string(j, 'timestamp') AS BIGINT) AS ts,
         TRY_CAST(json_extract_string(j, 'version') AS BIGINT) AS version,
         lower(json_extract_string(j, 'merkle_root')) AS merkle_root,
         CASE json_type(json_extract(j, 'bits')) WHEN 'VARCHAR'
              THEN TRY_CAST(('0x' || json_extract_string(j, 'bits')) AS BIGINT)
              ELSE TRY_CAST(json_extract_string(j, 'bits') AS BIGINT) END AS bits,
         TRY_CAST(('0x' || (json_extract_string(j, 'nonce'))) AS BIGINT) AS nonce,
         json_extract_string(j, 'coinbase_param') AS coinbase_param,
         TRY_CAST(json_extract_string(j, 'transaction_count') AS BIGINT) AS tx_count
  FROM _etl_lines WHERE kind = 'blocks'
)
"""

_TXS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _etl_txs AS
SELECT file, line, txid, block_number, block_hash, position, is_coinbase, n_in, n_out,
       inputs, outputs,
       CASE
         WHEN j IS NULL THEN 'not a JSON object'
         WHEN json_extract_string(j, 'hash') IS NULL THEN 'missing hash'
         WHEN NOT regexp_matches(txid, '{_HEX64}') THEN 'hash is not 64 hex digits'
         WHEN json_extract_string(j, 'block_number') IS NULL THEN 'missing block_number'
         WHEN block_number IS NULL OR block_number < 0 THEN 'bad block_number'
         WHEN json_extract_string(j, 'index') IS NULL THEN 'missing index'
         WHEN position IS NULL OR position < 0 THEN 'bad index'
         WHEN is_coinbase IS NULL THEN 'missing or bad is_coinbase'
         WHEN coalesce(json_type(inputs), '') <> 'ARRAY' THEN 'missing inputs'
         WHEN coalesce(json_type(outputs), '') <> 'ARRAY' THEN 'missing outputs'
         WHEN n_in IS NOT NULL AND n_in <> json_array_length(inputs)
           THEN 'input_count disagrees with inputs'
         WHEN n_out IS NOT NULL AND n_out <> json_array_length(outputs)
           THEN 'output_count disagrees with outputs'
         WHEN json_array_length(outputs) = 0 THEN 'no outputs'
         WHEN NOT is_coinbase AND json_array_length(inputs) = 0 THEN 'no inputs'
         WHEN is_coinbase AND json_array_length(inputs) > 0 THEN 'a coinbase with inputs'
       END AS problem
FROM (
  SELECT file, line, j,
         lower(json_extract_string(j, 'hash')) AS txid,
         TRY_CAST(json_extract_string(j, 'block_number') AS BIGINT) AS block_number,
         lower(json_extract_string(j, 'block_hash')) AS block_hash,
         TRY_CAST(json_extract_string(j, 'index') AS INTEGER) AS position,
         TRY_CAST(json_extract_string(j, 'is_coinbase') AS BOOLEAN) AS is_coinbase,
         TRY_CAST(json_extract_string(j, 'input_count') AS INTEGER) AS n_in,
         TRY_CAST(json_extract_string(j, 'output_count') AS INTEGER) AS n_out,
         json_extract(j, 'inputs') AS inputs, json_extract(j, 'outputs') AS outputs
  FROM _etl_lines WHERE kind = 'transactions'
)
"""

#: A JSON value checked as satoshi: (problem or NULL) for the column expression ``v``.
def _value_problem(v: str, where: str) -> str:
    return f"""CASE
         WHEN TRY_CAST({v} AS HUGEINT) IS NULL THEN '{where}.value is not an integer: ' || {v}
         WHEN TRY_CAST({v} AS HUGEINT) < 0 THEN '{where}.value is negative: ' || {v}
         WHEN TRY_CAST({v} AS HUGEINT) > {MAX_MONEY} THEN '{where}.value exceeds 21 million BTC'
       END"""


def _address_problem(a: str, where: str) -> str:
    return f"""CASE
         WHEN {a} IS NOT NULL AND coalesce(json_type({a}), '') <> 'ARRAY'
           THEN '{where}.addresses is not a list'
         WHEN list_bool_or(list_transform(CAST({a} AS VARCHAR[]),
                                          lambda x: NOT regexp_matches(x, '{_ADDRESS}')))
           THEN '{where}.addresses has a malformed address: ' || CAST({a} AS VARCHAR)
       END"""


_OUTPUTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _etl_outputs AS
SELECT file, line, block_number, txid, vout,
       TRY_CAST(TRY_CAST(json_extract_string(o, 'value') AS HUGEINT) AS UBIGINT) AS value_sat,
       json_extract_string(o, 'script_hex') AS script_hex,
       CASE
         WHEN json_extract_string(o, 'index') IS NULL THEN 'outputs[' || k || '].index missing'
         WHEN vout IS NULL OR vout <> k THEN 'outputs[' || k || '].index is not ' || k
         WHEN json_extract_string(o, 'value') IS NULL THEN 'outputs[' || k || '].value missing'
         ELSE coalesce(
           {_value_problem("(json_extract_string(o, 'value'))", "outputs[' || k || ']")},
           CASE WHEN json_extract_string(o, 'script_hex') IS NULL
                  THEN 'outputs[' || k || '].script_hex missing'
                WHEN NOT regexp_matches(json_extract_string(o, 'script_hex'), '{_HEX}')
                  THEN 'outputs[' || k || '].script_hex is not hex' END,
           {_address_problem("json_extract(o, 'addresses')", "outputs[' || k || ']")})
       END AS problem
FROM (
  SELECT file, line, block_number, txid, o, k,
         TRY_CAST(json_extract_string(o, 'index') AS INTEGER) AS vout
  FROM (
    SELECT file, line, block_number, txid,
           unnest(CAST(outputs AS JSON[])) AS o,
           unnest(range(CAST(json_array_length(outputs) AS BIGINT))) AS k
    FROM _etl_txs WHERE problem IS NULL
  )
)
"""

_INPUTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _etl_inputs AS
SELECT file, line, block_number, txid, vin, prev_txid,
       CAST(TRY_CAST(json_extract_string(i, 'spent_output_index') AS BIGINT) AS UBIGINT)
         AS prev_vout,
       TRY_CAST(TRY_CAST(json_extract_string(i, 'value') AS HUGEINT) AS UBIGINT) AS value_sat,
       lower(json_extract_string(i, 'type')) AS type,
       CAST(json_extract(i, 'addresses') AS VARCHAR[]) AS addresses,
       CASE
         WHEN json_extract_string(i, 'index') IS NULL THEN 'inputs[' || k || '].index missing'
         WHEN vin IS NULL OR vin <> k THEN 'inputs[' || k || '].index is not ' || k
         WHEN json_extract_string(i, 'spent_transaction_hash') IS NULL
           THEN 'inputs[' || k || '].spent_transaction_hash missing'
         WHEN NOT regexp_matches(prev_txid, '{_HEX64}')
           THEN 'inputs[' || k || '].spent_transaction_hash is not 64 hex digits'
         WHEN json_extract_string(i, 'spent_output_index') IS NULL
           THEN 'inputs[' || k || '].spent_output_index missing'
         WHEN TRY_CAST(json_extract_string(i, 'spent_output_index') AS BIGINT)
           NOT BETWEEN 0 AND {COINBASE_VOUT}
           OR TRY_CAST(json_extract_string(i, 'spent_output_index') AS BIGINT) IS NULL
           THEN 'inputs[' || k || '].spent_output_index is not an output index'
         WHEN json_extract_string(i, 'value') IS NOT NULL THEN coalesce(
           {_value_problem("(json_extract_string(i, 'value'))", "inputs[' || k || ']")},
           {_address_problem("json_extract(i, 'addresses')", "inputs[' || k || ']")})
         ELSE {_address_problem("json_extract(i, 'addresses')", "inputs[' || k || ']")}
       END AS problem
FROM (
  SELECT file, line, block_number, txid, i, k,
         TRY_CAST(json_extract_string(i, 'index') AS INTEGER) AS vin,
         lower(json_extract_string(i, 'spent_transaction_hash')) AS prev_txid
  FROM (
    SELECT file, line, block_number, txid,
           unnest(CAST(inputs AS JSON[])) AS i,
           unnest(range(CAST(json_array_length(inputs) AS BIGINT))) AS k
    FROM _etl_txs WHERE problem IS NULL AND json_array_length(inputs) > 0
  )
)
"""

_TEMP_TABLES = ("_etl_lines", "_etl_blocks", "_etl_txs", "_etl_outputs", "_etl_inputs", "_etl_bad")


def import_bitcoin_etl(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[Path],
    options: ImportOptions,
    *,
    chunk_transactions: int = CHUNK_TRANSACTIONS,
) -> ImportResult:
    """Import bitcoin-etl blocks and transactions dumps into the Bitcoin tables of a chain.

    Parameters
    ----------
    con:
        An open store.
    paths:
        The dump's files (``.json`` or ``.json.gz`` JSON lines), blocks and transactions files in
        any order; recognised by their keys.
    options:
        ``chain`` (default: ``index btc``'s name for ``network``), ``network`` (default: the
        network whose genesis block the dump holds, else ``bitcoin``), ``strict``,
        ``rejects_path``, ``on_progress``.
    chunk_transactions:
        About this many transactions (whole blocks) are committed per transaction.

    Raises
    ------
    InputError
        A file that is not a bitcoin-etl dump, no blocks file, a range that would leave a gap.
    DataError
        A bad row with ``strict``; a dump that is not a contiguous chain, or disagrees with the
        stored blocks (another fork or network), or whose files disagree with each other.
    """
    started = time.monotonic()
    if not paths:
        raise InputError("no files to import: give the bitcoin-etl blocks and transactions files")
    try:
        kinds = _load_lines(con, paths)
        if "blocks" not in kinds.values():
            raise InputError(
                "no bitcoin-etl blocks file among "
                + ", ".join(str(p) for p in paths)
                + ": the blocks dump (bitcoinetl export_blocks_and_transactions --blocks-output "
                "blocks.json) is needed for block heights, hashes and timestamps"
            )
        con.execute(_BLOCKS_SQL)
        con.execute(_TXS_SQL)
        con.execute(_OUTPUTS_SQL)
        con.execute(_INPUTS_SQL)
        rejects = _collect_rejects(con, options.strict)
        network = options.network or _dump_network(con)
        name = btc_chain_name(options.chain, network)
        blocks = _check_blocks(con, name, network)
        _check_transactions(con, blocks)
        _register_chain(con, name)
        lo, hi = blocks[0][0], blocks[-1][0]
        imported = _write_chunks(con, name, network, blocks, chunk_transactions, options)
        rows_read = int(con.execute("SELECT count(*) FROM _etl_lines").fetchall()[0][0])
    finally:
        for table in _TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    if options.rejects_path is not None:
        with open(options.rejects_path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "row", "problem"])
            writer.writerows((r.file, r.row, r.problem) for r in rejects)
    return ImportResult(
        format=FORMAT,
        chain=name,
        files=tuple(str(p) for p in paths),
        rows_read=rows_read,
        rows_imported=imported + len(blocks),
        rejects=tuple(rejects),
        rejected=len(rejects),
        rejects_path=None if options.rejects_path is None else str(options.rejects_path),
        coverage=(Coverage(name, STREAM, lo, hi),),
        seconds=time.monotonic() - started,
    )


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def _load_lines(con: duckdb.DuckDBPyConnection, paths: Sequence[Path]) -> dict[str, str]:
    """Read every file's lines (as JSON objects, NULL where a line is not one) into
    ``_etl_lines(file, line, kind, j)``; return each file's kind."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _etl_lines "
        "(file VARCHAR, line BIGINT, kind VARCHAR, j JSON)"
    )
    kinds: dict[str, str] = {}
    for path in paths:
        file = str(path)
        if not Path(path).is_file():
            raise InputError(f"{file}: no such file")
        try:  # the first objects say what the file is, before it is read whole
            first = con.execute(
                "SELECT json_keys(json) FROM read_ndjson_objects(?, ignore_errors = true, "
                "maximum_object_size = ?) WHERE json_type(json) = 'OBJECT' LIMIT 100",
                [file, _MAX_OBJECT],
            ).fetchall()
        except duckdb.Error as exc:
            raise InputError(
                f"{file}: cannot be read as JSON lines ({str(exc).splitlines()[0]}): expected a "
                "bitcoin-etl blocks or transactions dump"
            ) from exc
        seen = [set(row[0]) for row in first]  # one bad row must not hide the kind
        keys = seen[0] if seen else set()
        if any(set(TX_KEYS) <= k for k in seen):
            kind = "transactions"
        elif any(set(BLOCK_KEYS) <= k for k in seen):
            kind = "blocks"
        else:
            what = f"keys {sorted(keys)}" if keys else "no JSON object on any line"
            raise InputError(
                f"{file} is not a bitcoin-etl dump ({what}): expected JSON lines of blocks "
                f"(keys {', '.join(BLOCK_KEYS)}, ...) or of transactions (keys "
                f"{', '.join(TX_KEYS)}, ...), as bitcoinetl export_blocks_and_transactions writes"
            )
        # Line numbers: the reader keeps the file's order (checked on a 200,000-line dump).
        con.execute(
            "INSERT INTO _etl_lines SELECT ?, row_number() OVER (), ?, json "
            "FROM read_ndjson_objects(?, ignore_errors = true, maximum_object_size = ?)",
            [file, kind, file, _MAX_OBJECT],
        )
        kinds[file] = kind
    return kinds


def _collect_rejects(con: duckdb.DuckDBPyConnection, strict: bool) -> list[Reject]:
    """Every bad line (its first problem), in file and line order; raise at the first with
    ``strict``. Bad lines are marked so that none of their rows is written."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _etl_bad AS
        SELECT file, line, min_by(problem, ord) AS problem FROM (
            SELECT file, line, problem, 0 AS ord FROM _etl_blocks WHERE problem IS NOT NULL
            UNION ALL SELECT file, line, problem, 0 FROM _etl_txs WHERE problem IS NOT NULL
            UNION ALL SELECT file, line, problem, 1 FROM _etl_inputs WHERE problem IS NOT NULL
            UNION ALL SELECT file, line, problem, 2 FROM _etl_outputs WHERE problem IS NOT NULL
        ) GROUP BY file, line ORDER BY file, line"""
    )
    rows = con.execute("SELECT file, line, problem FROM _etl_bad ORDER BY file, line").fetchall()
    rejects = [Reject(f, int(n), p) for f, n, p in rows]
    if strict and rejects:
        first = rejects[0]
        raise DataError(
            f"{first.file}:{first.row}: {first.problem} (strict import stops at the first bad "
            "row; without --strict bad rows are skipped and listed)"
        )
    if rejects:
        for table in ("_etl_txs", "_etl_blocks"):
            con.execute(
                f"UPDATE {table} t SET problem = b.problem FROM _etl_bad b "
                "WHERE t.file = b.file AND t.line = b.line AND t.problem IS NULL"
            )
    return rejects


def _dump_network(con: duckdb.DuckDBPyConnection) -> str:
    """The network whose genesis is the dump's block 0; ``bitcoin`` without block 0."""
    rows = con.execute(
        "SELECT hash FROM _etl_blocks WHERE problem IS NULL AND number = 0 LIMIT 1"
    ).fetchall()
    if rows:
        for network, genesis in GENESIS.items():
            if rows[0][0] == genesis:
                return network
    return "bitcoin"


def _ranges(numbers: Sequence[int]) -> str:
    """``3-5, 9`` for [3, 4, 5, 9] (the first 10 ranges)."""
    out: list[str] = []
    k = 0
    while k < len(numbers) and len(out) < 10:
        j = k
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        out.append(str(numbers[k]) if j == k else f"{numbers[k]}-{numbers[j]}")
        k = j + 1
    return ", ".join(out) + (", ..." if k < len(numbers) else "")


def _check_blocks(
    con: duckdb.DuckDBPyConnection, chain: str, network: str
) -> list[tuple[int, str, str, int, int]]:
    """The dump's blocks, checked: ``[(number, hash, parent_hash, timestamp, tx_count)]``.

    The heights must be contiguous, agree between files, continue the stored range without a
    gap and agree with the stored blocks they overlap or touch; headers with a nonce must hash
    to the block's hash with the parent found.
    """
    dup = con.execute(
        "SELECT number FROM _etl_blocks WHERE problem IS NULL GROUP BY number "
        "HAVING count(DISTINCT hash) > 1 ORDER BY number LIMIT 10"
    ).fetchall()
    if dup:
        raise DataError(
            "the blocks files disagree about the hash of block(s) "
            + ", ".join(str(r[0]) for r in dup)
        )
    rows = con.execute(
        "SELECT number, any_value(hash), any_value(ts), any_value(version), "
        "any_value(merkle_root), any_value(bits), any_value(nonce), any_value(tx_count) "
        "FROM _etl_blocks WHERE problem IS NULL GROUP BY number ORDER BY number"
    ).fetchall()
    if not rows:
        raise InputError("the blocks dump holds no usable block")
    lo, hi = int(rows[0][0]), int(rows[-1][0])
    present = {int(r[0]) for r in rows}
    missing = [n for n in range(lo, hi + 1) if n not in present]
    if missing:
        raise DataError(
            f"the blocks dump is not contiguous: blocks {lo}-{hi} lack {_ranges(missing)} "
            f"({len(missing)} block(s)); export them too"
        )
    refuse_gap(chain, reads.checkpoints(con, chain).get(STREAM), lo, hi, "the dump")
    if lo == 0 and rows[0][1] != GENESIS[network]:
        raise DataError(
            f"the dump's block 0 is {rows[0][1]}, not {network}'s genesis: give the right "
            "--network"
        )
    stored = reads.block_hashes(con, chain, max(0, lo - 1), hi + 1)
    for n, h, *_ in rows:
        if n in stored and stored[n] != h:
            raise DataError(
                f"the dump's block {n} is {h} but {chain} holds {stored[n]}: the dump is of "
                "another fork or network; refused"
            )
    if hi + 1 in stored:
        parent = con.execute(
            "SELECT parent_hash FROM blocks WHERE chain = ? AND number = ?", [chain, hi + 1]
        ).fetchall()[0][0]
        if parent and parent != rows[-1][1]:
            raise DataError(
                f"{chain}'s block {hi + 1} follows {parent}, but the dump's block {hi} is "
                f"{rows[-1][1]}: the dump is of another fork or network; refused"
            )
    out = []
    previous: str | None = stored.get(lo - 1) if lo > 0 else "0" * 64
    for n, h, ts, version, merkle, bits, nonce, count in rows:
        if previous is not None and None not in (version, merkle, bits, nonce):
            header = (
                int(version).to_bytes(4, "little", signed=True)
                + bytes.fromhex(previous)[::-1]
                + bytes.fromhex(merkle)[::-1]
                + int(ts).to_bytes(4, "little")
                + int(bits).to_bytes(4, "little")
                + int(nonce).to_bytes(4, "little")
            )
            digest = hashlib.sha256(hashlib.sha256(header).digest()).digest()[::-1].hex()
            if digest != h:
                where = "the dump's" if n > lo else f"{chain}'s stored"
                raise DataError(
                    f"the dump's block {n} ({h}) does not follow {where} block {n - 1} "
                    f"({previous}): its header hashes to {digest} with that parent"
                    + (": the dump is of another fork or network; refused" if n == lo else "")
                )
        out.append((int(n), h, previous or "", int(ts), int(count)))
        previous = h
    return out


def _check_transactions(
    con: duckdb.DuckDBPyConnection, blocks: list[tuple[int, str, str, int, int]]
) -> None:
    """Every transaction belongs to a block of the dump (same hash), and every block has as many
    transactions as the blocks dump says (bad lines count where their block is known)."""
    con.register(
        "_etl_heads",
        pa.table({"number": [b[0] for b in blocks], "hash": [b[1] for b in blocks],
                  "tx_count": [b[4] for b in blocks]}),
    )
    try:
        orphans = con.execute(
            "SELECT DISTINCT t.block_number FROM _etl_txs t ANTI JOIN _etl_heads b "
            "ON b.number = t.block_number WHERE t.block_number IS NOT NULL "
            "ORDER BY 1 LIMIT 20"
        ).fetchall()
        if orphans:
            raise InputError(
                "transactions of block(s) "
                + _ranges([int(r[0]) for r in orphans])
                + " have no row in the blocks dump: give the blocks file of the same export"
            )
        forks = con.execute(
            "SELECT t.file, t.line, t.block_number FROM _etl_txs t JOIN _etl_heads b "
            "ON b.number = t.block_number WHERE t.block_hash IS NOT NULL AND "
            "t.block_hash <> b.hash ORDER BY t.file, t.line LIMIT 1"
        ).fetchall()
        if forks:
            f, n, b = forks[0]
            raise DataError(
                f"{f}:{n}: block_hash is not the blocks dump's hash of block {b}: the files are "
                "of different exports"
            )
        counts = con.execute(
            """SELECT b.number, b.tx_count, count(DISTINCT t.txid) AS found
            FROM _etl_heads b LEFT JOIN _etl_txs t ON t.block_number = b.number
            GROUP BY b.number, b.tx_count HAVING count(DISTINCT t.txid) <> b.tx_count
            ORDER BY b.number"""
        ).fetchall()
    finally:
        con.unregister("_etl_heads")
    unplaced = int(
        con.execute("SELECT count(*) FROM _etl_txs WHERE block_number IS NULL").fetchall()[0][0]
    )
    over = [r for r in counts if r[2] > r[1]]
    short = sum(r[1] - r[2] for r in counts if r[2] < r[1])
    if over or short > unplaced:
        bad = [int(r[0]) for r in (over or counts)]
        n, want, got = (over or counts)[0]
        raise DataError(
            f"the transactions dump does not match the blocks dump at block(s) {_ranges(bad)} "
            f"(block {n}: {want} transaction(s) in blocks.json, {got} in the transactions "
            "files): give all transactions files of the export"
        )


def _chunks(
    blocks: list[tuple[int, str, str, int, int]], size: int
) -> list[tuple[int, int, int]]:
    """``(first, last, transactions)`` ranges of whole blocks of about ``size`` transactions."""
    out: list[tuple[int, int, int]] = []
    start, count = blocks[0][0], 0
    for n, *_, tx_count in blocks:
        if count and count + tx_count > size:
            out.append((start, n - 1, count))
            start, count = n, 0
        count += tx_count
    out.append((start, blocks[-1][0], count))
    return out


def _write_chunks(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    network: str,
    blocks: list[tuple[int, str, str, int, int]],
    size: int,
    options: ImportOptions,
) -> int:
    """Write the good rows chunk by chunk with write_btc_batch; return the transactions written."""
    total = sum(b[4] for b in blocks)
    done = written = 0
    heads = pa.Table.from_arrays(
        [
            pa.array([b[0] for b in blocks], pa.uint64()),
            pa.array([b[1] for b in blocks], pa.string()),
            pa.array([b[2] for b in blocks], pa.string()),
            pa.array([b[3] for b in blocks], pa.int64()),
        ],
        schema=BLOCKS_SCHEMA,
    )
    coinbase_scripts = dict(
        con.execute(
            "SELECT number, any_value(coinbase_param) FROM _etl_blocks WHERE problem IS NULL "
            "GROUP BY number"
        ).fetchall()
    )
    con.register("_etl_cb", pa.table({
        "number": pa.array(list(coinbase_scripts), pa.int64()),
        "script": pa.array(list(coinbase_scripts.values()), pa.string()),
    }))
    try:
        for a, b, count in _chunks(blocks, max(1, size)):
            params = [a, b]
            txs = con.sql(
                """SELECT CAST(t.block_number AS UBIGINT) AS block_number, t.position, t.txid,
                       t.is_coinbase, CASE WHEN t.is_coinbase THEN unhex(c.script) END,
                       CAST(json_array_length(t.inputs) + CASE WHEN t.is_coinbase THEN 1 ELSE 0
                            END AS INTEGER),
                       CAST(json_array_length(t.outputs) AS INTEGER)
                FROM _etl_txs t LEFT JOIN _etl_cb c ON c.number = t.block_number
                WHERE t.problem IS NULL AND t.block_number BETWEEN ? AND ?
                QUALIFY row_number() OVER (PARTITION BY t.txid ORDER BY t.file, t.line) = 1
                ORDER BY t.block_number, t.position""",
                params=params,
            ).to_arrow_table()
            txs = pa.Table.from_arrays(txs.columns, schema=BTC_TXS_SCHEMA)
            outs = con.sql(
                """SELECT CAST(o.block_number AS UBIGINT), o.txid, o.vout, o.value_sat,
                       unhex(o.script_hex) AS script
                FROM _etl_outputs o SEMI JOIN _etl_txs t ON t.file = o.file AND t.line = o.line
                     AND t.problem IS NULL
                WHERE o.block_number BETWEEN ? AND ?
                QUALIFY row_number() OVER (PARTITION BY o.txid, o.vout ORDER BY o.file, o.line) = 1
                ORDER BY o.block_number, o.txid, o.vout""",
                params=params,
            ).to_arrow_table()
            script_type, address = classify_scripts(outs["script"], network)
            outs = pa.Table.from_arrays(
                [*outs.columns[:4], script_type, address], schema=BTC_OUTPUTS_SCHEMA
            )
            ins = con.sql(
                f"""SELECT CAST(i.block_number AS UBIGINT), i.txid, i.vin, i.prev_txid,
                       i.prev_vout, false
                FROM _etl_inputs i SEMI JOIN _etl_txs t ON t.file = i.file AND t.line = i.line
                     AND t.problem IS NULL
                WHERE i.block_number BETWEEN $1 AND $2
                QUALIFY row_number() OVER (PARTITION BY i.txid, i.vin ORDER BY i.file, i.line) = 1
                UNION ALL
                SELECT CAST(block_number AS UBIGINT), txid, 0, '{"0" * 64}',
                       CAST({COINBASE_VOUT} AS UBIGINT), true
                FROM _etl_txs WHERE problem IS NULL AND is_coinbase
                     AND block_number BETWEEN $1 AND $2
                QUALIFY row_number() OVER (PARTITION BY txid ORDER BY file, line) = 1""",
                params=params,
            ).to_arrow_table()
            ins = pa.Table.from_arrays(ins.columns, schema=BTC_INPUTS_SCHEMA)
            prevouts = _prevouts(con, chain, a, b)
            block_rows = heads.filter(
                pc.and_(
                    pc.greater_equal(heads["number"], pa.scalar(a, pa.uint64())),
                    pc.less_equal(heads["number"], pa.scalar(b, pa.uint64())),
                )
            )
            writes.write_btc_batch(con, chain, a, b, block_rows, txs, outs, ins, prevouts)
            done += count
            written += txs.num_rows
            if options.on_progress is not None:
                options.on_progress(ImportProgress(f"{chain} blocks {a}-{b}", done, total))
    finally:
        con.unregister("_etl_cb")
    return written


def _prevouts(con: duckdb.DuckDBPyConnection, chain: str, a: int, b: int) -> pa.Table | None:
    """Previous outputs of blocks ``a..b``'s inputs that neither the dump nor the store holds,
    from an enriched dump's input ``value``/``type``/``addresses``."""
    types = pa.table({"etl": list(_TYPES), "ours": list(_TYPES.values())})
    con.register("_etl_types", types)
    try:
        rows = con.sql(
            """SELECT i.prev_txid, CAST(i.prev_vout AS INTEGER), any_value(i.value_sat),
                   coalesce(any_value(y.ours), 'nonstandard'),
                   any_value(CASE WHEN len(i.addresses) = 1
                                   AND NOT starts_with(i.addresses[1], 'nonstandard')
                              THEN i.addresses[1] END)
            FROM _etl_inputs i
            LEFT JOIN _etl_types y ON y.etl = i.type
            WHERE i.problem IS NULL AND i.value_sat IS NOT NULL
              AND i.block_number BETWEEN ? AND ?
              AND NOT EXISTS (SELECT 1 FROM _etl_outputs o WHERE o.txid = i.prev_txid
                              AND o.vout = i.prev_vout AND o.problem IS NULL)
              AND NOT EXISTS (SELECT 1 FROM btc_outputs o WHERE o.chain = ?
                              AND o.txid = i.prev_txid AND o.vout = i.prev_vout)
            GROUP BY i.prev_txid, i.prev_vout""",
            params=[a, b, chain],
        ).to_arrow_table()
    finally:
        con.unregister("_etl_types")
    if not rows.num_rows:
        return None
    return pa.Table.from_arrays(rows.columns, schema=BTC_PREVOUTS_SCHEMA)


__all__ = ["BLOCK_KEYS", "CHUNK_TRANSACTIONS", "FORMAT", "TX_KEYS", "import_bitcoin_etl"]
