"""Bulk import of EVM history (cryo, ethereum-etl/BigQuery, exposure's own export) into the store.

The files are read by DuckDB (never row by row in Python), normalised by
:mod:`exposure.indexers.bulk.datasets`, validated in SQL (bad rows rejected with file and row),
and written with the RPC indexer's natural keys, range replacement and checkpoints: importing
twice, or a range ``index evm`` already covered, leaves the same rows, and a range that would
leave a gap in a stream is refused. A block with a rejected row is never covered: each stream's
checkpoint stops before its first such block, which is listed in ``open_blocks``; a file whose
every row is rejected fails the import before anything is written.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from exposure.chains import chain_spec
from exposure.domain import ChainSpec, Token
from exposure.errors import DataError, InputError
from exposure.store import reads, writes
from exposure.store.reads import OpenBlock

from ..evm.indexer import token_stream
from ..planning import refuse_gap
from .datasets import FILE, Part, recognise
from .files import InputFile
from .model import Coverage, ImportOptions, ImportProgress, ImportResult, Reject

#: Streams of token rows imported with ``--all-tokens`` (every contract, tracked or not).
ALL_TOKENS = "erc20:*"
#: Rows per committed chunk of a Parquet import (one transaction each, in block order).
CHUNK_ROWS = 5_000_000
#: DuckDB's memory limit while an import writes, when the connection's is higher. Without it
#: DuckDB keeps the blocks it writes cached up to its default limit (80% of RAM): 9.3 GB of RSS
#: for 100M rows. Restored afterwards. Not applied to the scans before: quantile_disc over
#: 100M block numbers ran out of memory under a 2 GB limit.
IMPORT_MEMORY_LIMIT = "2GB"
#: The key of exposure's coverage record in its Parquet export's key-value metadata.
EXPORT_KEY = "exposure"  # the literal key in export.py's COPY ... KV_METADATA {exposure: ...}
EXPORT_FORMAT = "exposure.transfers/1"

_UINT256_MAX = str(2**256 - 1)


def _hex(col: str, digits: int) -> str:
    """``col`` matches ``0x[0-9a-f]{digits}``. Written as a byte length and an uncounted
    pattern: the same test (only ASCII matches the pattern, so 2 + digits bytes are 2 + digits
    characters), about twice as fast in DuckDB as the counted repetition."""
    return f"(strlen({col}) = {2 + digits} AND regexp_full_match({col}, '0x[0-9a-f]+'))"


#: Hex digits of an address and of a hash.
_ADDR, _HASH = 40, 64


@dataclass(frozen=True)
class _Relation:
    sql: str
    params: dict[str, object]


def _union(parts: Sequence[Part], key: str) -> _Relation:
    selects, params = [], {}
    for i, p in enumerate(parts):
        name = f"{key}_{i}"
        selects.append(f"SELECT * FROM ({p.query.replace(FILE, '$' + name)})")
        params[name] = p.file.path
    return _Relation(" UNION ALL BY NAME ".join(selects), params)


def _amount_problem(col: str) -> str:
    return (
        f"WHEN TRY_CAST({col} AS DOUBLE) IS NOT NULL AND NOT regexp_full_match({col}, '-?[0-9]+') "
        f"THEN 'amount: ' || left({col}, 80) || ' is a float, not an exact integer (a float "
        "counts only when whole and at most 2^53)' "
        f"WHEN {col} IS NULL OR NOT (strlen({col}) <= 78 AND regexp_full_match({col}, '[0-9]+')) "
        f"OR (length({col}) = 78 AND {col} > '{_UINT256_MAX}') "
        f"THEN 'amount: not an integer between 0 and 2^256-1: ' || coalesce(left({col}, 80), "
        "'missing') "
    )


def _address_problem(col: str) -> str:
    return (
        f"WHEN {col} IS NULL OR NOT {_hex(col, _ADDR)} "
        f"THEN '{col}: not a 20-byte hex address: ' || coalesce(left({col}, 80), 'missing') "
    )


def _whole(col: str, typ: str) -> str:
    """``col`` (text) as a ``typ`` integer, NULL unless it is plain digits (TRY_CAST alone would
    round ``8.5`` to 9)."""
    return f"CASE WHEN regexp_full_match({col}, '[0-9]+') THEN TRY_CAST({col} AS {typ}) END"


def _block_problem(col: str) -> str:
    return (
        f"WHEN {_whole(col, 'UBIGINT')} IS NULL "
        f"THEN '{col}: not a block number: ' || coalesce(left({col}, 80), 'missing') "
    )


def _range_problem(col: str) -> str:
    return (
        f"WHEN CAST({col} AS UBIGINT) NOT BETWEEN $lo AND $hi "
        f"THEN '{col}: block ' || {col} || ' is not in the blocks dataset (' || $lo || '-' "
        "|| $hi || ')' "
    )


def _tx_problem() -> str:
    return (
        f"WHEN tx_hash IS NULL OR NOT {_hex('tx_hash', _HASH)} "
        "THEN 'transaction hash: not a 32-byte hex hash: ' || coalesce(left(tx_hash, 80), "
        "'missing') "
    )


def _blocks_checked(rel: _Relation) -> _Relation:
    sql = (
        "SELECT *, CASE "
        + _block_problem("number")
        + f"WHEN hash IS NULL OR NOT {_hex('hash', _HASH)} "
        "THEN 'hash: not a 32-byte hex hash: ' || coalesce(left(hash, 80), 'missing') "
        f"WHEN parent_hash IS NOT NULL AND NOT {_hex('parent_hash', _HASH)} "
        "THEN 'parent_hash: not a 32-byte hex hash: ' || left(parent_hash, 80) "
        "WHEN ts IS NULL THEN 'timestamp: missing or unparsable' "
        f"END AS _problem FROM ({rel.sql})"
    )
    return _Relation(sql, rel.params)


#: ``_problem`` of a relation whose every row has already passed its checks (see ``_passed``).
_NO_PROBLEM = "CAST(NULL AS VARCHAR) "


def _tokens_checked(
    rel: _Relation, tracked: list[str] | None, *, checks: bool = True
) -> _Relation:
    keep = "" if tracked is None else "WHERE token_address IN (SELECT unnest($tracked))"
    problem = (
        "CASE "
        + _block_problem("block_number")
        + _range_problem("block_number")
        + _tx_problem()
        + f"WHEN {_whole('log_index', 'UINTEGER')} IS NULL "
        "THEN 'log_index: not a log index: ' || coalesce(left(log_index, 80), 'missing') "
        + _address_problem("token_address")
        + _address_problem("from_address")
        + _address_problem("to_address")
        + _amount_problem("amount")
        + "END "
    ) if checks else _NO_PROBLEM
    sql = f"SELECT *, {problem}AS _problem FROM ({rel.sql}) {keep}"
    params = dict(rel.params)
    if tracked is not None:
        params["tracked"] = tracked
    return _Relation(sql, params)


def _native_checked(rel: _Relation, *, checks: bool = True) -> _Relation:
    # Only value that moved is imported: succeeded, non-zero, with both ends known (a creation
    # without the created address is skipped, as the RPC indexer does).
    problem = (
        "CASE "
        + _block_problem("block_number")
        + _range_problem("block_number")
        + _tx_problem()
        + _address_problem("from_address")
        + _address_problem("to_address")
        + _amount_problem("amount")
        + "WHEN TRY_CAST(amount AS UHUGEINT) IS NULL THEN 'amount: native value beyond 2^128' "
        + "END "
    ) if checks else _NO_PROBLEM
    sql = (
        f"SELECT *, {problem}AS _problem FROM ({rel.sql}) WHERE ok AND amount IS DISTINCT FROM "
        "'0' AND to_address IS NOT NULL AND to_address <> ''"
    )
    return _Relation(sql, rel.params)


def _passed(rel: _Relation) -> _Relation:
    """``rel`` without the bounds parameters its checks use (for the unchecked variant)."""
    return _Relation(rel.sql, {k: v for k, v in rel.params.items() if k not in ("lo", "hi")})


def _native_source(
    native: list[Part], receipts: list[Part], fmt: str
) -> _Relation | None:
    """The native rows with ``ok`` resolved (reverted frames and failed transactions false)."""
    if not native:
        return None
    kinds = {p.shape.name for p in native}
    if "traces" in kinds:
        native = [p for p in native if p.shape.name == "traces"]  # traces hold the tx values too
        rel = _union(native, "native")
        if fmt != "cryo":
            return rel
        # cryo marks only the reverted frame: drop every call at or below it as well.
        sql = (
            f"WITH t AS ({rel.sql}), bad AS (SELECT DISTINCT tx_hash, trace_address FROM t "
            "WHERE failed) SELECT t.* REPLACE (t.ok AND NOT EXISTS (SELECT 1 FROM bad "
            "WHERE bad.tx_hash = t.tx_hash AND (bad.trace_address = '' "
            "OR t.trace_address = bad.trace_address "
            "OR starts_with(t.trace_address, bad.trace_address || '.'))) AS ok) FROM t"
        )
        return _Relation(sql, rel.params)
    rel = _union(native, "native")
    if fmt != "ethereum-etl":
        return rel
    if not receipts and not any("receipt_status" in p.query for p in native):
        files = ", ".join(p.file.path for p in native)
        raise InputError(
            f"{files}: ethereum-etl transactions without receipt_status cannot tell failed "
            "transactions (whose value never moved): add the receipts export "
            "(export_receipts_and_logs --receipts-output receipts.csv) or the traces export"
        )
    if receipts:
        rec = _union(receipts, "receipts")
        sql = (
            f"SELECT t.* EXCLUDE (status, to_address), "
            "coalesce(nullif(t.to_address, ''), r.contract_address) AS to_address, "
            "coalesce(t.status, r.status, '1') = '1' AS ok "
            f"FROM ({rel.sql}) t LEFT JOIN ({rec.sql}) r ON r.tx_hash = t.tx_hash"
        )
        return _Relation(sql, {**rel.params, **rec.params})
    sql = f"SELECT t.* EXCLUDE (status), coalesce(t.status, '1') = '1' AS ok FROM ({rel.sql}) t"
    return _Relation(sql, rel.params)


def _exposure_relations(parts: list[Part], chain: str) -> tuple[_Relation, _Relation, _Relation]:
    """Blocks, tokens and native relations of ``chain`` from exposure's own export files."""
    blocks = [p for p in parts if p.shape.name == "blocks"]
    rows = [p for p in parts if p.shape.name == "transfers"]
    if not blocks or not rows:
        raise InputError(
            "an exposure export is a folder with transfers.parquet and blocks.parquet: pass the "
            "whole folder written by `exposure export transfers`"
        )
    brel, rel = _union(blocks, "blocks"), _union(rows, "rows")
    keep = {"xchain": chain}
    blocks_rel = _Relation(
        f"SELECT * EXCLUDE (chain) FROM ({brel.sql}) WHERE chain = $xchain",
        {**brel.params, **keep},
    )
    tokens = _Relation(
        "SELECT block_number, tx_hash, log_index, token_address, from_address, to_address, "
        f"amount, _file, _row FROM ({rel.sql}) WHERE chain = $xchain "
        "AND token_address IS NOT NULL",
        {**rel.params, **keep},
    )
    native = _Relation(
        "SELECT block_number, tx_hash, trace_address, kind, from_address, to_address, amount, "
        f"true AS ok, _file, _row FROM ({rel.sql}) WHERE chain = $xchain "
        "AND token_address IS NULL",
        {**rel.params, **keep},
    )
    return blocks_rel, tokens, native


def export_record(con: duckdb.DuckDBPyConnection, files: list[InputFile]) -> dict:
    """The coverage record stored in an exposure export's Parquet metadata (same in each file)."""
    for f in files:
        if f.kind != "parquet":
            raise InputError(f"{f.path}: the exposure format is Parquet (from `exposure export`)")
        rows = con.execute(
            "SELECT decode(value) FROM parquet_kv_metadata(?) WHERE decode(key) = ?",
            [f.path, EXPORT_KEY],
        ).fetchall()
        if not rows:
            raise InputError(
                f"{f.path}: no exposure coverage record in the Parquet metadata: not written by "
                "`exposure export transfers`"
            )
        record = json.loads(rows[0][0])
        if record.get("format") != EXPORT_FORMAT:
            raise InputError(f"{f.path}: unknown export format {record.get('format')!r}")
        return record
    raise InputError("no files to import")


_UNITS = {"": 1, "B": 1, "BYTES": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def _bytes(setting: str) -> float:
    """A DuckDB memory setting (``'18.7 GiB'``, ``'2GB'``) in bytes; infinity if unparsable."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", setting)
    if not m or m.group(2).upper() not in _UNITS:
        return math.inf
    return float(m.group(1)) * _UNITS[m.group(2).upper()]


@contextmanager
def _memory_limit(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """Lower DuckDB's memory limit to ``limit`` for the block (if it is higher), then restore."""
    (current,), = con.execute("SELECT current_setting('memory_limit')").fetchall()
    if _bytes(str(current)) <= _bytes(limit):
        yield
        return
    con.execute("SET memory_limit = ?", [limit])
    try:
        yield
    finally:
        con.execute("SET memory_limit = ?", [str(current)])


def import_evm(
    con: duckdb.DuckDBPyConnection,
    fmt: str,
    files: list[InputFile],
    options: ImportOptions,
    tokens: Sequence[Token] = (),
) -> ImportResult:
    """Import EVM transfers of format ``fmt`` (cryo, ethereum-etl or exposure) from ``files``."""
    started = time.monotonic()
    parts = recognise(con, fmt, files)
    record = export_record(con, files) if fmt == "exposure" else None
    chain = _chain_name(options, record)
    spec = _spec(con, chain, record, tokens)
    _check_chain_id(con, parts, spec)
    writes.register_chain(con, spec, spec.chain_id)

    if fmt == "exposure":
        brel, trel, nrel = _exposure_relations(parts, chain)
        has_tokens = has_native = True
    else:
        by_role: dict[str, list[Part]] = {}
        for p in parts:
            by_role.setdefault(p.shape.role, []).append(p)
        if not by_role.get("blocks"):
            raise InputError(
                "no blocks dataset among the files: block numbers, hashes and timestamps come "
                "from it (cryo: `cryo blocks --include-columns parent_hash`; ethereum-etl: "
                "blocks.csv of export_blocks_and_transactions)"
            )
        brel = _union(by_role["blocks"], "blocks")
        trel = _union(by_role["tokens"], "tokens") if by_role.get("tokens") else None
        nrel = _native_source(by_role.get("native", []), by_role.get("receipts", []), fmt)
        has_tokens, has_native = trel is not None, nrel is not None
        if not has_tokens and not has_native:
            raise InputError("no transfers among the files: only blocks were given")

    tracked = sorted({t.address for t in spec.tokens})
    if has_tokens and not tracked and not options.all_tokens:
        raise InputError(
            f"no tokens are tracked on {chain}: pass --token SYMBOL=0xADDRESS[:DECIMALS] or "
            "--all-tokens"
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _import_rejects (file VARCHAR, row BIGINT, problem VARCHAR, "
        "role VARCHAR, block UBIGINT, token_address VARCHAR)"
    )
    bchk = _blocks_checked(brel)
    rejected = _collect_rejects(con, bchk, options, "blocks")
    if rejected:
        _refuse_all_rejected(con, bchk, "blocks", options)
    lo, hi = _block_range(con, bchk, chain, record)
    bounds = {"lo": lo, "hi": hi}
    keep_tokens = None if options.all_tokens else tracked
    tchk = (
        _tokens_checked(_Relation(trel.sql, {**trel.params, **bounds}), keep_tokens)
        if has_tokens and trel is not None else None
    )
    nchk = (
        _native_checked(_Relation(nrel.sql, {**nrel.params, **bounds}))
        if has_native and nrel is not None else None
    )
    for role, rel in (("tokens", tchk), ("native", nchk)):
        if rel is not None:
            found = _collect_rejects(con, rel, options, role)
            rejected += found
            if found:
                _refuse_all_rejected(con, rel, role, options)
            else:
                # Every row passed: the writes read the same rows without evaluating the checks
                # a second time (their `_problem IS NULL` filter holds for each row).
                if rel is tchk and trel is not None:
                    tchk = _passed(_tokens_checked(trel, keep_tokens, checks=False))
                elif rel is nchk and nrel is not None:
                    nchk = _passed(_native_checked(nrel, checks=False))
    rejects = _first_rejects(con, options) if rejected else []

    streams = _streams(spec, record, lo, hi, has_tokens, has_native, options.all_tokens)
    _check_gaps(con, chain, streams)
    open_from = _open_blocks(con, streams) if rejected else {}
    con.execute("DROP TABLE _import_rejects")
    opened = [
        OpenBlock(chain, st, int(b), r, src)
        for st, b, r, src in con.execute(
            "SELECT stream, block_number, reason, source FROM _import_open "
            "ORDER BY stream, block_number LIMIT 20"
        ).fetchall()
    ] if open_from else []
    n_open = int(con.execute("SELECT count(*) FROM _import_open").fetchall()[0][0]) \
        if open_from else 0

    tspans, nspans = _file_spans(con, tchk), _file_spans(con, nchk)
    rows_read = sum(n for n, _, _ in tspans) + sum(n for n, _, _ in nspans)
    chunks = _chunks(con, tchk, sum(n for n, _, _ in tspans), lo, hi, files)
    distinct = _files_overlap(tspans) or _files_overlap(nspans)
    with _memory_limit(con, IMPORT_MEMORY_LIMIT):
        imported = _write_chunks(
            con, chain, chunks, streams, bchk, tchk, nchk, options, distinct, open_from
        )
    con.execute("DROP TABLE IF EXISTS _import_open")
    covered = [
        Coverage(chain, s.stream, s.first, min(s.last, open_from.get(s.stream, s.last + 1) - 1))
        for s in streams
    ]
    return ImportResult(
        format=fmt,
        chain=chain,
        files=tuple(f.path for f in files),
        rows_read=rows_read,
        rows_imported=imported,
        rejects=tuple(rejects[:20]),
        rejected=rejected,
        rejects_path=str(options.rejects_path) if rejected and options.rejects_path else None,
        coverage=tuple(c for c in covered if c.last >= c.first),
        open_blocks=tuple(opened),
        opened=n_open,
        seconds=time.monotonic() - started,
    )


def _write_chunks(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    chunks: list[tuple[int, int]],
    streams: list[writes.StreamRange],
    bchk: _Relation,
    tchk: _Relation | None,
    nchk: _Relation | None,
    options: ImportOptions,
    distinct: bool,
    open_from: dict[str, int],
) -> int:
    """Write the chunks one transaction each; returns the transfer rows written. Streams in
    ``open_from`` are covered only below their first open block (rows of ``_import_open``)."""
    imported = 0
    for i, (a, b) in enumerate(chunks):
        part_streams = [
            writes.StreamRange(s.stream, max(a, s.first), min(b, s.last), s.token_address)
            for s in streams
            if s.first <= b and s.last >= a
        ]
        imported += writes.replace_evm_range(
            con,
            chain,
            a,
            b,
            part_streams,
            blocks=(_store_blocks(bchk), {**bchk.params, "a": a, "b": b}),
            tokens=(_store_tokens(tchk), {**tchk.params, "a": a, "b": b}) if tchk else None,
            native=(_store_native(nchk), {**nchk.params, "a": a, "b": b}) if nchk else None,
            all_tokens=options.all_tokens,
            distinct=distinct,
            open_from=open_from,
            open_blocks=(_OPEN_ROWS, {}) if open_from else None,
        )
        if options.on_progress is not None:
            options.on_progress(ImportProgress("import", i + 1, len(chunks)))
    return imported


def _chain_name(options: ImportOptions, record: dict | None) -> str:
    if record is not None:
        chains = sorted(record.get("chains", {}))
        if options.chain is None and len(chains) != 1:
            raise InputError(
                f"the export holds chains {', '.join(chains)}: choose one with --chain"
            )
        name = options.chain or chains[0]
        if name not in chains:
            raise InputError(f"the export holds no chain {name!r} (it has {', '.join(chains)})")
        return chain_spec(name).name
    return chain_spec(options.chain or "ethereum").name


def _spec(
    con: duckdb.DuckDBPyConnection, chain: str, record: dict | None, tokens: Sequence[Token]
) -> ChainSpec:
    base = chain_spec(chain)
    known = {t.address: t for t in base.tokens}
    rows = con.execute(
        "SELECT asset, token_address, decimals FROM assets WHERE chain = ?", [chain]
    ).fetchall()
    known.update({addr: Token(sym, addr, dec) for sym, addr, dec in rows})
    chain_id, native_symbol = base.chain_id, base.native_symbol
    native_decimals = base.native_decimals
    if record is not None:
        info = record["chains"][chain]
        chain_id = info.get("chain_id", chain_id)
        native_symbol = info.get("native_symbol", native_symbol)
        native_decimals = info.get("native_decimals", native_decimals)
        for sym, addr, dec in info.get("assets", []):
            known[addr] = Token(sym, addr, int(dec))
    known.update({t.address: t for t in tokens})
    return ChainSpec(chain, chain_id, native_symbol, native_decimals, tuple(known.values()))


def _check_chain_id(con: duckdb.DuckDBPyConnection, parts: list[Part], spec: ChainSpec) -> None:
    """cryo files carry the chain id: refuse a dump of another chain than ``--chain``."""
    stored = con.execute("SELECT chain_id FROM chains WHERE chain = ?", [spec.name]).fetchall()
    expected = spec.chain_id if spec.chain_id is not None else (stored[0][0] if stored else None)
    if expected is None:
        return
    for p in parts:
        if p.shape.format != "cryo":
            continue
        ids = con.execute(
            f"SELECT DISTINCT chain_id FROM {p.file.reader()} WHERE chain_id IS NOT NULL LIMIT 3",
            [p.file.path],
        ).fetchall()
        other = [i for (i,) in ids if int(i) != int(expected)]
        if other:
            raise InputError(
                f"{p.file.path}: holds chain id {other[0]}, but {spec.name} is chain id "
                f"{expected}: pass the right --chain"
            )


#: What the rows of each checked relation are, for messages.
_ROLE_ROWS = {"blocks": "block", "tokens": "token transfer", "native": "native value"}


def _collect_rejects(
    con: duckdb.DuckDBPyConnection, rel: _Relation, options: ImportOptions, role: str
) -> int:
    """Bad rows of ``rel`` (``role`` blocks, tokens or native) into the session's
    ``_import_rejects`` with the block and token they belong to, when readable (DuckDB spills
    the table to disk if it grows); with ``strict`` the first bad row raises instead. Returns
    how many."""
    block = _whole("number" if role == "blocks" else "block_number", "UBIGINT")
    token = "token_address" if role == "tokens" else "CAST(NULL AS VARCHAR)"
    bad = (
        f"SELECT _file, _row, _problem, '{role}', {block}, {token} FROM ({rel.sql}) "
        "WHERE _problem IS NOT NULL"
    )
    if options.strict:
        rows = con.execute(bad + " ORDER BY _file, _row LIMIT 1", rel.params).fetchall()
        if rows:
            f, row, problem, *_ = rows[0]
            raise DataError(f"{f}:{row}: {problem} (--strict stops at the first bad row)")
        return 0
    got = con.execute(f"INSERT INTO _import_rejects {bad}", rel.params).fetchall()
    return int(got[0][0]) if got else 0


def _refuse_all_rejected(
    con: duckdb.DuckDBPyConnection, rel: _Relation, role: str, options: ImportOptions
) -> None:
    """DataError when every ``role`` row of an input file was rejected: such a file is in a
    shape the checks do not accept (a wrong column, a writer's floats), not a file with a few
    bad rows, and importing the rest would hide that. Raised before anything is written."""
    totals = con.execute(
        f"SELECT _file, count(*) FROM ({rel.sql}) GROUP BY _file ORDER BY _file", rel.params
    ).fetchall()
    bad = dict(con.execute(
        "SELECT file, count(*) FROM _import_rejects WHERE role = ? GROUP BY file", [role]
    ).fetchall())
    for path, n in totals:
        if n and bad.get(path, 0) >= n:
            first = con.execute(
                "SELECT row, problem FROM _import_rejects WHERE role = ? AND file = ? "
                "ORDER BY row LIMIT 3",
                [role, path],
            ).fetchall()
            _first_rejects(con, options)
            listed = f" (all listed in {options.rejects_path})" if options.rejects_path else ""
            reasons = "; ".join(f"row {r}: {problem}" for r, problem in first)
            raise DataError(
                f"{path}: all {n:,} {_ROLE_ROWS[role]} rows were rejected, so nothing was "
                f"imported: {reasons}{listed}"
            )


#: The import's open blocks, as ``writes.replace_evm_range`` records them.
_OPEN_ROWS = "SELECT stream, block_number, reason, source FROM _import_open"


def _open_blocks(
    con: duckdb.DuckDBPyConnection, streams: list[writes.StreamRange]
) -> dict[str, int]:
    """Fill ``_import_open`` (stream, block_number, reason, source) from ``_import_rejects`` and
    return each affected stream's first open block.

    A rejected row opens its block in the streams it belongs to: a native row the native
    stream, a token row its token's stream (every token stream when its token is unknown) and
    ``erc20:*``, a row of the blocks dataset every stream. A row whose block number is unreadable
    could be anywhere: it opens the stream's first block, so nothing of the range is covered.
    Rows of blocks outside a stream's range (not in the blocks dataset) open nothing.
    """
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _import_open AS
        WITH s AS (
            SELECT unnest($names) AS stream, unnest($tokens) AS token_address,
                   unnest($firsts) AS first, unnest($lasts) AS last
        ), hit AS (
            SELECT s.stream, coalesce(r.block, s.first) AS block_number,
                   CASE WHEN r.block IS NULL THEN 'block number unreadable, so no block of '
                        || s.first || '-' || s.last || ' is known whole: ' || r.problem
                        ELSE r.problem END AS reason,
                   r.file || ':' || r.row AS source, r.file, r.row
            FROM _import_rejects r JOIN s ON (
                (r.role = 'blocks' AND r.block IS NOT NULL)
                OR (r.role = 'native' AND s.stream = 'native')
                OR (r.role = 'tokens' AND starts_with(s.stream, 'erc20:') AND (
                    s.token_address IS NULL OR r.token_address IS NULL
                    OR s.token_address = r.token_address
                    OR r.token_address NOT IN (SELECT token_address FROM s
                                               WHERE token_address IS NOT NULL))))
            WHERE r.block IS NULL OR r.block BETWEEN s.first AND s.last
        )
        SELECT stream, block_number,
               arg_min(reason, (file, row)) || CASE WHEN count(*) > 1
                   THEN ' (and ' || (count(*) - 1) || ' more rejected rows)' ELSE '' END AS reason,
               arg_min(source, (file, row)) AS source
        FROM hit GROUP BY stream, block_number""",
        {
            "names": [s.stream for s in streams],
            "tokens": [s.token_address for s in streams],
            "firsts": [s.first for s in streams],
            "lasts": [s.last for s in streams],
        },
    )
    rows = con.execute(
        "SELECT stream, min(block_number) FROM _import_open GROUP BY stream"
    ).fetchall()
    return {str(st): int(b) for st, b in rows}


def _first_rejects(con: duckdb.DuckDBPyConnection, options: ImportOptions) -> list[Reject]:
    """Write every reject to ``options.rejects_path`` (CSV file,row,problem) and return the
    first 20 for the summary."""
    ordered = "SELECT file, row, problem FROM _import_rejects ORDER BY file, row"
    if options.rejects_path is not None:
        options.rejects_path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY ({ordered}) TO $path (FORMAT csv, HEADER true)",
            {"path": str(options.rejects_path)},
        )
    first = con.execute(ordered + " LIMIT 20").fetchall()
    return [Reject(f, int(r), p) for f, r, p in first]


def _block_range(
    con: duckdb.DuckDBPyConnection, bchk: _Relation, chain: str, record: dict | None
) -> tuple[int, int]:
    """The blocks dataset's range, checked: contiguous, one hash per number, one chain, and
    agreeing with the blocks already stored."""
    good = f"SELECT CAST(number AS UBIGINT) AS n, hash, parent_hash, ts FROM ({bchk.sql}) " \
        "WHERE _problem IS NULL"
    (lo, hi, distinct, hashes), = con.execute(
        f"SELECT min(n), max(n), count(DISTINCT n), count(DISTINCT (n, hash)) FROM ({good})",
        bchk.params,
    ).fetchall()
    if lo is None:
        raise InputError("the blocks dataset holds no valid block")
    lo, hi = int(lo), int(hi)
    if hashes != distinct:
        (n,), = con.execute(
            f"SELECT n FROM ({good}) GROUP BY n HAVING count(DISTINCT hash) > 1 ORDER BY n LIMIT 1",
            bchk.params,
        ).fetchall()
        raise InputError(f"block {n} appears with two different hashes in the blocks dataset")
    if record is None and distinct != hi - lo + 1:
        missing = _missing(con, good, bchk.params, lo, hi)
        raise InputError(
            f"the blocks dataset covers {lo}-{hi} but misses {hi - lo + 1 - distinct} blocks "
            f"(first missing: {', '.join(map(str, missing))}): a gap is never papered over; "
            "import the missing blocks too"
        )
    broken = con.execute(
        f"WITH g AS (SELECT DISTINCT n, hash, parent_hash FROM ({good})) "
        "SELECT b.n, b.parent_hash, a.hash FROM g b JOIN g a ON a.n + 1 = b.n "
        "WHERE b.parent_hash IS NOT NULL AND b.parent_hash <> a.hash ORDER BY b.n LIMIT 1",
        bchk.params,
    ).fetchall()
    if broken:
        n, parent, prev = broken[0]
        raise InputError(
            f"the blocks dataset is not one chain: block {n}'s parent is {parent} but block "
            f"{n - 1} is {prev}"
        )
    clash = con.execute(
        f"WITH g AS (SELECT DISTINCT n, hash, parent_hash FROM ({good})) "
        "SELECT g.n, s.hash, g.hash FROM g JOIN blocks s ON s.chain = $chain AND s.number = g.n "
        "WHERE s.hash <> g.hash "
        "UNION ALL SELECT g.n, s.hash, g.parent_hash FROM g JOIN blocks s "
        "ON s.chain = $chain AND s.number + 1 = g.n "
        "WHERE g.parent_hash IS NOT NULL AND s.hash <> g.parent_hash ORDER BY 1 LIMIT 1",
        {**bchk.params, "chain": chain},
    ).fetchall()
    if clash:
        n, stored, dumped = clash[0]
        raise InputError(
            f"block {n}: the store holds {stored} but the dump says {dumped}: the dump is from "
            "another chain or fork than the store (check --chain)"
        )
    return lo, hi


def _missing(
    con: duckdb.DuckDBPyConnection, good: str, params: dict, lo: int, hi: int
) -> list[int]:
    rows = con.execute(
        f"SELECT r FROM range($lo_, $hi_ + 1) t(r) ANTI JOIN ({good}) g ON g.n = t.r "
        "ORDER BY r LIMIT 5",
        {**params, "lo_": lo, "hi_": hi},
    ).fetchall()
    return [int(r) for (r,) in rows]


def _streams(
    spec: ChainSpec,
    record: dict | None,
    lo: int,
    hi: int,
    has_tokens: bool,
    has_native: bool,
    all_tokens: bool,
) -> list[writes.StreamRange]:
    if record is not None:
        out = []
        tokens = {token_stream(t): t.address for t in spec.tokens}
        for name, (first, last) in sorted(record["chains"][spec.name]["streams"].items()):
            addr = tokens.get(name)
            if name.startswith("erc20:") and name != ALL_TOKENS and addr is None:
                continue
            out.append(writes.StreamRange(name, int(first), int(last), addr))
        return out
    out = []
    if has_native:
        out.append(writes.StreamRange("native", lo, hi))
    if has_tokens:
        out.extend(writes.StreamRange(token_stream(t), lo, hi, t.address) for t in spec.tokens)
        if all_tokens:
            out.append(writes.StreamRange(ALL_TOKENS, lo, hi, None))
    return out


def _check_gaps(
    con: duckdb.DuckDBPyConnection, chain: str, streams: list[writes.StreamRange]
) -> None:
    cps = reads.checkpoints(con, chain)
    for s in streams:
        refuse_gap(chain, cps.get(s.stream), s.first, s.last, "these files")


def _file_spans(
    con: duckdb.DuckDBPyConnection, rel: _Relation | None
) -> list[tuple[int, int | None, int | None]]:
    """Rows, first and last block number of each input file of ``rel`` (one scan)."""
    if rel is None:
        return []
    rows = con.execute(
        f"SELECT count(*), min(TRY_CAST(block_number AS UBIGINT)), "
        f"max(TRY_CAST(block_number AS UBIGINT)) FROM ({rel.sql}) GROUP BY _file ORDER BY 2",
        rel.params,
    ).fetchall()
    return [(int(n), a, b) for n, a, b in rows]


def _files_overlap(spans: list[tuple[int, int | None, int | None]]) -> bool:
    """True when two input files share blocks (overlapping dumps): rows are then de-duplicated,
    which a single extractor's files never need."""
    ranges = [(a, b) for _, a, b in spans if a is not None]
    return any(b0 >= a1 for (_, b0), (a1, _) in itertools.pairwise(ranges))


def _chunks(
    con: duckdb.DuckDBPyConnection,
    tchk: _Relation | None,
    rows: int,
    lo: int,
    hi: int,
    files: list[InputFile],
) -> list[tuple[int, int]]:
    """Block ranges committed one by one: Parquet is cut into ~CHUNK_ROWS-row pieces (the
    readers skip row groups outside a range); text files are read once, in one piece.
    ``rows`` is the row count of ``tchk``."""
    if tchk is None or any(f.text for f in files):
        return [(lo, hi)]
    n = max(1, math.ceil(rows / CHUNK_ROWS))
    if n == 1:
        return [(lo, hi)]
    # Cut where the running row count crosses each multiple of rows/n: counting rows per block
    # needs one small hash table (a quantile over every row held them all in memory).
    per = math.ceil(rows / n)
    cuts = [c for (c,) in con.execute(
        f"WITH c AS (SELECT CAST(block_number AS UBIGINT) AS b, count(*) AS k FROM ({tchk.sql}) "
        "GROUP BY 1), s AS (SELECT b, sum(k) OVER (ORDER BY b) AS cum FROM c) "
        "SELECT max(b) FROM s GROUP BY (cum - 1) // $per ORDER BY 1",
        {**tchk.params, "per": per},
    ).fetchall()]
    edges = sorted({int(c) for c in cuts if lo <= int(c) < hi})
    out, start = [], lo
    for c in edges:
        out.append((start, c))
        start = c + 1
    out.append((start, hi))
    return out


def _store_blocks(rel: _Relation) -> str:
    return (
        "SELECT DISTINCT CAST(number AS UBIGINT) AS number, hash, parent_hash, ts "
        f"FROM ({rel.sql}) WHERE _problem IS NULL AND CAST(number AS UBIGINT) BETWEEN $a AND $b"
    )


def _store_tokens(rel: _Relation) -> str:
    return (
        "SELECT token_address, CAST(block_number AS UBIGINT) AS block_number, tx_hash, "
        "CAST(log_index AS UINTEGER) AS log_index, from_address, to_address, "
        "TRY_CAST(amount AS UHUGEINT) AS amount_raw, "
        "CASE WHEN TRY_CAST(amount AS UHUGEINT) IS NULL THEN CAST(amount AS BIGNUM) END "
        f"AS amount_raw_big FROM ({rel.sql}) WHERE _problem IS NULL "
        "AND CAST(block_number AS UBIGINT) BETWEEN $a AND $b"
    )


def _store_native(rel: _Relation) -> str:
    return (
        "SELECT CAST(block_number AS UBIGINT) AS block_number, tx_hash, trace_address, kind, "
        "from_address, to_address, CAST(amount AS UHUGEINT) AS amount_raw "
        f"FROM ({rel.sql}) WHERE _problem IS NULL "
        "AND CAST(block_number AS UBIGINT) BETWEEN $a AND $b"
    )
