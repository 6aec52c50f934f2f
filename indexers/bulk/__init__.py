"""Bulk history from the ecosystem's dumps (cryo, ethereum-etl/BigQuery, bitcoin-etl, exposure's
own export) loaded with DuckDB's readers, with the RPC indexers' keys and checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from exposure.domain import Token
from exposure.errors import InputError

from .export import ExportResult, export_transfers
from .files import expand
from .model import FORMATS, Coverage, ImportOptions, ImportProgress, ImportResult, Reject

__all__ = [
    "FORMATS",
    "Coverage",
    "ExportResult",
    "ImportOptions",
    "ImportProgress",
    "ImportResult",
    "Reject",
    "export_transfers",
    "import_transfers",
]


def import_transfers(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str | Path],
    fmt: str,
    options: ImportOptions | None = None,
    *,
    tokens: Sequence[Token] = (),
) -> ImportResult:
    """Load the dumps at ``paths`` (files, folders or globs) of format ``fmt`` into the store.

    ``tokens`` adds tracked tokens (EVM) to the chain's own and those already in the store.
    """
    options = options or ImportOptions()
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    files = expand(paths)
    if fmt == "bitcoin-etl":
        from .bitcoin_etl import import_bitcoin_etl

        return import_bitcoin_etl(con, [Path(f.path) for f in files], options)
    if fmt == "exposure":
        from .bitcoin_store import BTC_FORMAT, import_bitcoin_export, read_record

        records = {f.path: read_record(con, f) for f in files}
        btc = [f for f in files if (records[f.path] or {}).get("format") == BTC_FORMAT]
        if btc:
            record = records[btc[0].path] or {}
            btc_chains = sorted(record.get("chains", {}))
            evm_files = [f for f in files if f not in btc]
            evm_chains = sorted(
                {c for f in evm_files for c in (records[f.path] or {}).get("chains", {})}
            )
            wanted = options.chain
            if wanted is None and len(btc_chains) + len(evm_chains) != 1:
                raise InputError(
                    "the export holds chains "
                    + ", ".join(evm_chains + btc_chains)
                    + ": choose one with --chain"
                )
            if (wanted or (btc_chains + evm_chains)[0]) in btc_chains:
                return import_bitcoin_export(con, btc, record, wanted or btc_chains[0])
            files = evm_files
    from .evm import import_evm

    return import_evm(con, fmt, files, options, tokens)
