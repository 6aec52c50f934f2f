"""The EVM datasets each bulk format brings, recognised by their columns and normalised in SQL.

Every dataset becomes one of three normalised relations, all text until validated:

- ``blocks``: number, hash, parent_hash, ts (TIMESTAMPTZ)
- ``tokens``: block_number, tx_hash, log_index, token_address, from_address, to_address, amount
- ``native``: block_number, tx_hash, trace_address, kind, from_address, to_address, amount, ok

plus ``_file`` and ``_row`` (1-based Parquet row, or the line of a CSV/JSON-lines file). ``ok`` is
false for value movements that did not happen (a failed transaction, a reverted call or one
inside a reverted call); native rows also carry ``parent`` for cryo's traces so that calls under
a reverted frame are dropped.

Integers (amounts, block numbers, log indexes) become canonical decimal text through one rule,
:func:`_int`, whatever the file's type for them, and never pass through a float. ethereum-etl's
``stream`` writes every item type into one JSON-lines file with a ``type`` field; such a file is
split into one part per item type (see :data:`STREAM_ITEMS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from exposure.errors import InputError

from .files import InputFile, as_text, columns

#: The placeholder for a file's path in a part's query (renamed per file when parts are joined).
FILE = "$file"


@dataclass(frozen=True)
class Shape:
    """A dataset of one format: the columns that identify it and how to normalise a file."""

    format: str
    name: str
    role: str
    required: frozenset[str]
    build: object  # Callable[[dict[str, str]], str]: the SELECT list over the file's columns
    refused: str | None = None


@dataclass(frozen=True)
class Part:
    """One recognised file: its shape and the normalising query (its path is ``FILE``)."""

    file: InputFile
    shape: Shape
    query: str


def _hex(col: str, types: dict[str, str]) -> str:
    if types.get(col, "").upper() == "BLOB":
        # nullif keeps DuckDB from trusting a writer's null counts (see _has_value)
        return f"nullif('0x' || lower(hex({col})), '0x')"
    return f"nullif(lower(trim(CAST({col} AS VARCHAR))), '')"


def _has_value(col: str) -> str:
    """``col IS NOT NULL`` that holds on cryo's files: cryo 0.3 writes null_count 0 in the
    Parquet statistics of string columns that do hold nulls, and DuckDB folds ``IS NULL`` on
    such a column to false; ``length`` is evaluated row by row."""
    return f"(length({col}) IS NOT NULL)"


def _txt(col: str) -> str:
    return f"trim(CAST({col} AS VARCHAR))"


#: 2^53: every integer up to it is exactly a double; beyond it a float stands for many integers,
#: so its digits are not necessarily the writer's.
FLOAT_EXACT = 2**53


def _int(col: str, types: dict[str, str]) -> str:
    """``col`` as the decimal text of an integer, exactly, or as found (for the checks to reject).

    Integer and DECIMAL columns and integer text are exact at any size. A float (a DOUBLE column,
    or text with a zero fraction such as ``30000000.0`` as JSON writers and DuckDB print floats)
    is taken as an integer only up to 2^53, where a float holds every integer exactly; beyond it,
    or with an exponent (``1e+30``) or a non-zero fraction, the value stays as it is and is
    rejected: a float never becomes an amount by rounding.
    """
    typ = types.get(col, "").upper()
    if typ in ("DOUBLE", "FLOAT", "REAL"):
        return (
            f"CASE WHEN {col} = trunc({col}) AND abs({col}) <= {FLOAT_EXACT} "
            f"THEN CAST(CAST({col} AS HUGEINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END"
        )
    if typ.startswith("DECIMAL"):
        return f"regexp_replace(CAST({col} AS VARCHAR), '\\.0*$', '')"
    text = _txt(col)
    whole = f"split_part({text}, '.', 1)"
    return (
        f"CASE WHEN strpos({text}, '.') > 0 AND regexp_full_match({text}, '[0-9]+\\.0+') "
        f"AND TRY_CAST({whole} AS UHUGEINT) <= {FLOAT_EXACT} THEN {whole} ELSE {text} END"
    )


def _amount(types: dict[str, str], string_col: str, binary_col: str | None = None) -> str:
    if string_col in types:
        return _int(string_col, types)
    if binary_col and binary_col in types:
        digits = f"coalesce(nullif(ltrim(hex({binary_col}), '0'), ''), '0')"
        return f"CAST(TRY_CAST('0x' || {digits} AS UHUGEINT) AS VARCHAR)"
    return "CAST(NULL AS VARCHAR)"


def _ts(col: str, types: dict[str, str]) -> str:
    typ = types.get(col, "").upper()
    if "TIMESTAMP" in typ:
        return f"CAST({col} AS TIMESTAMPTZ)"
    text = _txt(col)
    return (
        f"coalesce(to_timestamp(TRY_CAST({text} AS BIGINT)), TRY_CAST({text} AS TIMESTAMPTZ))"
    )


# cryo ------------------------------------------------------------------------------------------


def _cryo_tokens(t: dict[str, str]) -> str:
    return (
        f"{_int('block_number', t)} AS block_number, {_hex('transaction_hash', t)} AS tx_hash, "
        f"{_int('log_index', t)} AS log_index, {_hex('erc20', t)} AS token_address, "
        f"{_hex('from_address', t)} AS from_address, {_hex('to_address', t)} AS to_address, "
        f"{_amount(t, 'value_string', 'value_binary')} AS amount"
    )


def _cryo_blocks(t: dict[str, str]) -> str:
    parent = _hex("parent_hash", t) if "parent_hash" in t else "CAST(NULL AS VARCHAR)"
    return (
        f"{_int('block_number', t)} AS number, {_hex('block_hash', t)} AS hash, "
        f"{parent} AS parent_hash, {_ts('timestamp', t)} AS ts"
    )


def _cryo_traces(t: dict[str, str]) -> str:
    ta = "replace(coalesce(trace_address, ''), '_', '.')"
    dst = (
        f"CASE WHEN action_type = 'create' THEN {_hex('result_address', t)} "
        f"ELSE {_hex('action_to', t)} END"
    )
    return (
        f"{_int('block_number', t)} AS block_number, {_hex('transaction_hash', t)} AS tx_hash, "
        f"{ta} AS trace_address, CASE WHEN {ta} = '' THEN 'tx' ELSE action_type END AS kind, "
        f"{_hex('action_from', t)} AS from_address, {dst} AS to_address, "
        f"{_int('action_value', t)} AS amount, "
        f"(NOT {_has_value('error')} AND (action_type <> 'call' OR action_call_type = 'call') "
        " AND action_type IN ('call', 'create', 'suicide')) AS ok, "
        f"{_has_value('error')} AS failed"
    )


def _cryo_transactions(t: dict[str, str]) -> str:
    return (
        f"{_int('block_number', t)} AS block_number, {_hex('transaction_hash', t)} AS tx_hash, "
        "'' AS trace_address, 'tx' AS kind, "
        f"{_hex('from_address', t)} AS from_address, {_hex('to_address', t)} AS to_address, "
        f"{_amount(t, 'value_string', 'value_binary')} AS amount, "
        "coalesce(success, true) AS ok, false AS failed"
    )


# ethereum-etl (and BigQuery's crypto_ethereum, which has the same columns) -------------------


def _etl_tokens(t: dict[str, str]) -> str:
    return (
        f"{_int('block_number', t)} AS block_number, {_hex('transaction_hash', t)} AS tx_hash, "
        f"{_int('log_index', t)} AS log_index, {_hex('token_address', t)} AS token_address, "
        f"{_hex('from_address', t)} AS from_address, {_hex('to_address', t)} AS to_address, "
        f"{_int('value', t)} AS amount"
    )


def _etl_blocks(t: dict[str, str]) -> str:
    return (
        f"{_int('number', t)} AS number, {_hex('hash', t)} AS hash, "
        f"{_hex('parent_hash', t)} AS parent_hash, {_ts('timestamp', t)} AS ts"
    )


def _etl_traces(t: dict[str, str]) -> str:
    # "0,2" in CSV, [0,2] in JSON (read as its text) or a Parquet list: "0.2"
    ta = (
        "replace(regexp_replace(coalesce(CAST(trace_address AS VARCHAR), ''), '[\\[\\] ]', '', "
        "'g'), ',', '.')"
    )
    return (
        f"{_int('block_number', t)} AS block_number, {_hex('transaction_hash', t)} AS tx_hash, "
        f"{ta} AS trace_address, CASE WHEN {ta} = '' THEN 'tx' ELSE trace_type END AS kind, "
        f"{_hex('from_address', t)} AS from_address, {_hex('to_address', t)} AS to_address, "
        f"{_int('value', t)} AS amount, "
        f"({_txt('status')} = '1' AND transaction_hash IS NOT NULL "
        " AND trace_type IN ('call', 'create', 'suicide') "
        f" AND (trace_type <> 'call' OR coalesce({_txt('call_type')}, 'call') = 'call')) AS ok, "
        "false AS failed"
    )


def _etl_transactions(t: dict[str, str]) -> str:
    status = _txt("receipt_status") if "receipt_status" in t else "CAST(NULL AS VARCHAR)"
    created = (
        _hex("receipt_contract_address", t)
        if "receipt_contract_address" in t
        else "CAST(NULL AS VARCHAR)"
    )
    return (
        f"{_int('block_number', t)} AS block_number, {_hex('hash', t)} AS tx_hash, "
        "'' AS trace_address, 'tx' AS kind, "
        f"{_hex('from_address', t)} AS from_address, "
        f"coalesce(nullif({_hex('to_address', t)}, ''), {created}) AS to_address, "
        f"{_int('value', t)} AS amount, {status} AS status, false AS failed"
    )


def _etl_receipts(t: dict[str, str]) -> str:
    created = _hex("contract_address", t) if "contract_address" in t else "NULL"
    return (
        f"{_hex('transaction_hash', t)} AS tx_hash, {_txt('status')} AS status, "
        f"{created} AS contract_address"
    )


def _exposure_rows(t: dict[str, str]) -> str:
    return (
        "chain, token_address, tx_hash, CAST(log_index AS VARCHAR) AS log_index, "
        "trace_address, kind, CAST(block_number AS VARCHAR) AS block_number, "
        "from_address, to_address, amount_raw AS amount"
    )


def _exposure_blocks(t: dict[str, str]) -> str:
    return (
        "chain, CAST(number AS VARCHAR) AS number, hash, parent_hash, "
        f"{_ts('timestamp', t)} AS ts"
    )


_NATIVE_TRANSFERS_REFUSED = (
    "cryo's native_transfers dataset carries neither the call's position (trace_address) nor "
    "whether it reverted, so it would import value that never moved: export `cryo traces` for "
    "the same blocks instead (it has both) and import that"
)

SHAPES: tuple[Shape, ...] = (
    Shape("cryo", "erc20_transfers", "tokens",
          frozenset({"block_number", "transaction_hash", "log_index", "erc20", "from_address",
                     "to_address"}), _cryo_tokens),
    Shape("cryo", "blocks", "blocks",
          frozenset({"block_number", "block_hash", "timestamp"}), _cryo_blocks),
    Shape("cryo", "traces", "native",
          frozenset({"block_number", "transaction_hash", "trace_address", "action_type",
                     "action_from", "action_to", "action_value", "error"}), _cryo_traces),
    Shape("cryo", "native_transfers", "native",
          frozenset({"block_number", "transaction_hash", "transfer_index", "from_address",
                     "to_address"}), None, _NATIVE_TRANSFERS_REFUSED),
    Shape("cryo", "transactions", "native",
          frozenset({"block_number", "transaction_hash", "from_address", "to_address",
                     "success"}), _cryo_transactions),
    Shape("ethereum-etl", "token_transfers", "tokens",
          frozenset({"token_address", "from_address", "to_address", "value",
                     "transaction_hash", "log_index", "block_number"}), _etl_tokens),
    Shape("ethereum-etl", "blocks", "blocks",
          frozenset({"number", "hash", "parent_hash", "timestamp"}), _etl_blocks),
    Shape("ethereum-etl", "traces", "native",
          frozenset({"block_number", "transaction_hash", "trace_address", "trace_type",
                     "from_address", "to_address", "value", "status"}), _etl_traces),
    Shape("ethereum-etl", "transactions", "native",
          frozenset({"hash", "block_number", "from_address", "to_address", "value"}),
          _etl_transactions),
    Shape("ethereum-etl", "receipts", "receipts",
          frozenset({"transaction_hash", "status", "cumulative_gas_used"}), _etl_receipts),
    Shape("exposure", "transfers", "exposure",
          frozenset({"chain", "token_address", "tx_hash", "log_index", "trace_address", "kind",
                     "block_number", "block_hash", "block_time", "from_address", "to_address",
                     "amount_raw"}), _exposure_rows),
    Shape("exposure", "blocks", "blocks",
          frozenset({"chain", "number", "hash", "parent_hash", "timestamp"}), _exposure_blocks),
)


def _row_number(f: InputFile) -> str:
    if f.kind == "parquet":
        return "file_row_number + 1"
    # DuckDB scans a file in order: the window numbers rows as they stand in the file.
    return "row_number() OVER () + 1" if f.kind == "csv" else "row_number() OVER ()"


#: ethereum-etl ``stream`` items (its ``type`` field) and the dataset each one is; its other items
#: (log, contract, token) move no value and are skipped.
STREAM_ITEMS = {
    "block": "blocks",
    "transaction": "transactions",
    "token_transfer": "token_transfers",
    "trace": "traces",
}


def _stream_items(con: duckdb.DuckDBPyConnection, f: InputFile, cols: dict[str, str]) -> list[str]:
    """The ethereum-etl ``stream`` item types in a JSON-lines file with a ``type`` field (one
    file may hold them all, as the command prints them), or [] for any other file."""
    if f.kind != "json" or "type" not in cols:
        return []
    found = con.execute(f"SELECT DISTINCT type FROM {f.reader()}", [f.path]).fetchall()
    types = {str(t) for (t,) in found if t is not None}
    return [item for item in STREAM_ITEMS if item in types]


def _part(f: InputFile, shape: Shape, cols: dict[str, str], item: str | None = None) -> Part:
    if shape.refused:
        raise InputError(f"{f.path}: {shape.refused}")
    select = shape.build(cols)  # type: ignore[operator]
    if item is None:
        query = (
            f"SELECT {select}, {FILE} AS _file, {_row_number(f)} AS _row "
            f"FROM {f.reader(FILE)}"
        )
    else:  # numbered before filtering: _row stays the line in the file
        query = (
            f"SELECT {select}, {FILE} AS _file, _row FROM (SELECT *, {_row_number(f)} AS _row "
            f"FROM {f.reader(FILE)}) WHERE type = '{item}'"
        )
    return Part(f, shape, query)


def recognise(con: duckdb.DuckDBPyConnection, fmt: str, files: list[InputFile]) -> list[Part]:
    """Each file's dataset in format ``fmt`` (an ethereum-etl ``stream`` file gives one part per
    item type); a file of no known shape fails at once."""
    shapes = [s for s in SHAPES if s.format == fmt]
    parts = []
    for f in files:
        f = as_text(con, f)
        cols = columns(con, f)
        items = _stream_items(con, f, cols) if fmt == "ethereum-etl" else []
        if items:
            for item in items:
                shape = next(s for s in shapes if s.name == STREAM_ITEMS[item])
                if not shape.required <= cols.keys():
                    raise InputError(
                        f"{f.path}: its {item} items lack "
                        f"{', '.join(sorted(shape.required - cols.keys()))}: not as ethereum-etl "
                        "stream writes them"
                    )
                parts.append(_part(f, shape, cols, item))
            continue
        # The most specific shape wins (ethereum-etl transactions vs traces share columns).
        matching = sorted(
            (s for s in shapes if s.required <= cols.keys()), key=lambda s: -len(s.required)
        )
        if not matching:
            expected = "; ".join(f"{s.name} ({', '.join(sorted(s.required))})" for s in shapes)
            found = ", ".join(sorted(cols)) or "none"
            raise InputError(
                f"{f.path}: not a {fmt} dataset: expected one of {expected}; found columns {found}"
            )
        parts.append(_part(f, matching[0], cols))
    return parts
