"""Input files of a bulk import: expand paths, pick DuckDB's reader, list a file's columns.

Every read goes through DuckDB's own readers (``read_parquet``, ``read_csv``, ``read_json``) with
the file name passed as a query parameter, never formatted into SQL. Text formats are read as text
(CSV ``all_varchar``; JSON with every column declared VARCHAR, see :func:`as_text`): DuckDB's JSON
type inference makes a column of large integers DOUBLE, which loses digits beyond 2^53.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from exposure.errors import InputError

_COMPRESSIONS = (".gz", ".gzip", ".zst", ".zstd")
_KINDS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


@dataclass(frozen=True)
class InputFile:
    """One file to import: its path and how DuckDB reads it (parquet, csv or json lines)."""

    path: str
    kind: str
    #: JSON only: the file's keys, each read as VARCHAR (JSON text of the value; integers exact).
    text_columns: tuple[str, ...] = ()

    @property
    def text(self) -> bool:
        """True for CSV and JSON lines (rows are counted as lines), False for Parquet."""
        return self.kind != "parquet"

    def reader(self, param: str = "?") -> str:
        """A table-function call reading this file; ``param`` is the path's query parameter."""
        if self.kind == "parquet":
            return f"read_parquet({param}, file_row_number = true)"
        if self.kind == "csv":
            return f"read_csv({param}, header = true, all_varchar = true)"
        if self.text_columns:
            declared = ", ".join(
                "'" + c.replace("'", "''") + "': 'VARCHAR'" for c in self.text_columns
            )
            return f"read_json({param}, format = 'newline_delimited', columns = {{{declared}}})"
        return f"read_json({param}, format = 'newline_delimited')"


def file_kind(path: str) -> str | None:
    """``parquet``, ``csv`` or ``json`` from the file name (compression suffixes allowed)."""
    name = path.lower()
    for suffix in _COMPRESSIONS:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    for suffix, kind in _KINDS.items():
        if name.endswith(suffix):
            return kind
    return None


def expand(paths: Sequence[str | Path]) -> list[InputFile]:
    """Files named by ``paths`` (files, folders searched recursively, or glob patterns), sorted.

    Hidden files and folders (cryo's ``.cryo`` reports) and files of unknown kinds inside folders
    are skipped; a named file of unknown kind, or a path matching nothing, is an InputError.
    """
    found: dict[str, InputFile] = {}
    for raw in paths:
        text = str(raw)
        if Path(text).is_dir():
            for p in sorted(Path(text).rglob("*")):
                rel = p.relative_to(text).parts
                if p.is_file() and not any(part.startswith(".") for part in rel):
                    kind = file_kind(p.name)
                    if kind:
                        found[str(p)] = InputFile(str(p), kind)
            continue
        matches = sorted(glob.glob(text)) if any(c in text for c in "*?[") else [text]
        matches = [m for m in matches if Path(m).is_file()]
        if not matches:
            raise InputError(f"{text}: no such file or folder")
        for m in matches:
            kind = file_kind(m)
            if kind is None:
                raise InputError(
                    f"{m}: unknown file type: expected .parquet, .csv or .json/.jsonl "
                    "(optionally .gz/.zst)"
                )
            found[m] = InputFile(m, kind)
    if not found:
        raise InputError("no .parquet, .csv or .json files found in " + ", ".join(map(str, paths)))
    return [found[k] for k in sorted(found)]


def _describe(con: duckdb.DuckDBPyConnection, f: InputFile) -> list[tuple[str, str]]:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {f.reader()}", [f.path]).fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{f.path}: cannot be read as {f.kind}: {first}") from None
    return [(str(name), str(typ)) for name, typ, *_ in rows]


def as_text(con: duckdb.DuckDBPyConnection, f: InputFile) -> InputFile:
    """``f`` read with every column as text: a JSON file's keys are declared VARCHAR, so a number
    arrives as its JSON text (an integer exactly as written, however large; a number with a
    fraction or exponent as DuckDB prints the double it parsed, e.g. ``30000000.0``, ``1e+30``).
    CSV is read as text already and Parquet keeps its declared types."""
    if f.kind != "json" or f.text_columns:
        return f
    return replace(f, text_columns=tuple(name for name, _ in _describe(con, f)))


def columns(con: duckdb.DuckDBPyConnection, f: InputFile) -> dict[str, str]:
    """The file's columns and DuckDB types (lowercase names); a file DuckDB cannot read fails."""
    return {name.lower(): typ for name, typ in _describe(con, f)}
