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
    from .evm import import_evm

    return import_evm(con, fmt, files, options, tokens)
