"""Screening a customer book: read a CSV of declared addresses, screen them all, write results.

Hop distances come from the hop tables kept with the cached graph (multi-source walk from
every labelled node, computed once per graph), so a book is a binary search per address; value
shares, when asked for, are computed per address by the residual-push kernel. Nothing is
written to the store, so any number of batches and screens run at once.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numba
import numpy as np
import pyarrow as pa

from .errors import ExposureError, InputError
from .graph.cache import hop_table
from .policy import Policy
from .report.model import Exposure
from .screening import Screener, ScreenOptions, detect_chain, display
from .walk.drivers import Walker, batch_hops

ADDRESS_HEADERS = ("address", "wallet", "wallet_address", "declared_address", "addr",
                   "地址", "钱包地址", "钱包", "申报地址")
MAX_BOOK_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class BookRow:
    """One row of a book: its line number, the address text and the row's other fields."""

    line: int
    address: str
    fields: dict[str, str]


def _decode(raw: bytes, path: Path) -> str:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode Text": UTF-16 with a BOM
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{path}: starts as UTF-16 but is not UTF-16 text") from None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path}: not UTF-8 or GBK text")


def read_book(path: Path, address_column: str | None = None) -> list[BookRow]:
    """Rows of a CSV book (UTF-8 with or without BOM, or GBK/GB18030 as Excel writes in China).

    The address column is ``address_column``, else the first header among common names
    (address, wallet, 地址, 钱包地址, ...), else the only column; a file without a header whose
    first cell is an address is read as addresses only.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_BOOK_BYTES:
        raise InputError(f"{path} is larger than {MAX_BOOK_BYTES // 2**20} MB")
    text = _decode(raw, path)
    if not text.strip():
        raise InputError(f"{path} is empty: expected a CSV with an address column")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        rows = list(reader)
    except csv.Error as exc:  # e.g. a field beyond csv's size limit (an unclosed quote)
        raise InputError(f"{path}:{reader.line_num}: unreadable CSV: {exc}") from None
    header = [h.strip() for h in rows[0]]
    first = header[0] if header else ""
    headerless = address_column is None and (
        first.lower().startswith(("0x", "bc1", "1", "3", "t")) and len(first) >= 25
    )
    if headerless:
        header = [f"column{i + 1}" for i in range(len(rows[0]))]
        body = list(enumerate(rows, start=1))
        column = 0
    else:
        body = list(enumerate(rows[1:], start=2))
        lowered = [h.lower() for h in header]
        if address_column is not None:
            if address_column not in header:
                raise InputError(
                    f"{path}: no column {address_column!r} (columns: {', '.join(header)})"
                )
            column = header.index(address_column)
        else:
            found = [i for i, h in enumerate(lowered) if h in ADDRESS_HEADERS]
            if found:
                column = found[0]
            elif len(header) == 1:
                column = 0
            else:
                raise InputError(
                    f"{path}: cannot tell which column holds the addresses (columns: "
                    f"{', '.join(header)}); pass --address-column"
                )
    out = []
    for line, row in body:
        if not any(cell.strip() for cell in row):
            continue
        value = row[column].strip() if column < len(row) else ""
        out.append(BookRow(line, value, dict(zip(header, row, strict=False))))
    return out


def hop_tables(screener: Screener, chain: str, max_hops: int) -> dict[str, np.ndarray]:
    """Per direction, the hops of every node to every category (uint8[n_nodes, n_cats], 255 =
    none within ``max_hops``), from the multi-source walk, kept with the cached graph."""
    parts, _ = screener.graph(chain)
    return {
        direction: hop_table(
            parts, direction, max_hops,
            lambda d=direction: batch_hops(parts.graph, d, max_hops),
        )
        for direction in ("in", "out")
    }


def screen_book(
    con: duckdb.DuckDBPyConnection,
    rows: Sequence[BookRow],
    *,
    chain: str = "auto",
    options: ScreenOptions | None = None,
    policy: Policy | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Screen every row; invalid rows come back with ``status`` 'invalid' and the error."""
    screener = Screener(con, options=options, policy=policy)
    opts = screener.options
    indexed = screener.indexed_chains()
    results: list[dict[str, Any]] = []
    valid: list[tuple[int, str, str]] = []  # (index in results, chain, address)
    for row in rows:
        base = {"line": row.line, "input": row.address, "address": None, "chain": None,
                "status": "ok", "error": None, "rating": None}
        try:
            chosen, normal = detect_chain(row.address, chain, indexed)
        except ExposureError as exc:
            results.append({**base, "status": "invalid", "error": str(exc)})
            continue
        results.append({**base, "address": display(chosen, normal), "chain": chosen})
        valid.append((len(results) - 1, chosen, normal))

    # hops and "seen" per row from the graph's arrays: a binary search per address
    hops: dict[int, dict[tuple[str, str], int]] = {}
    seen: set[int] = set()
    nodes: dict[int, int] = {}
    for chosen in sorted({c for _, c, _ in valid}):
        if chosen not in indexed:
            continue
        parts, _ = screener.graph(chosen)
        tables = {d: np.asarray(t) for d, t in hop_tables(screener, chosen, opts.max_hops).items()}
        categories = parts.graph.categories
        for i, c, normal in valid:
            if c != chosen:
                continue
            node = parts.node_of_address(normal)  # in entity mode: its cluster's node
            if node is None:
                continue
            seen.add(i)
            nodes[i] = node
            row_hops = {}
            for direction, table in tables.items():
                row = table[node]
                for k in np.flatnonzero(row != 255):
                    row_hops[(categories[k], direction)] = int(row[k])
            hops[i] = row_hops

    book_shares: dict[int, dict[tuple[str, str], float]] = {}
    if opts.with_shares:
        wanted = [(i, c, nodes[i]) for i, c, _ in valid if hops.get(i) and i in nodes]
        book_shares = _shares(screener, wanted, on_progress)
    for done, (i, _chosen, _normal) in enumerate(valid, start=1):
        row_hops = hops.get(i, {})
        shares = book_shares.get(i, {})
        # only found exposures can fire a rule (a rule needs hops), so only they are rated
        found = tuple(
            Exposure(category=c, direction=d, hops=h,
                     exposure_type="direct" if h <= 1 else "indirect",
                     share=shares.get((c, d), 0.0))
            for (c, d), h in row_hops.items()
        )
        rating = screener.policy.rate(found)
        result = results[i]
        result["seen"] = i in seen
        if not result["seen"]:
            result["status"] = "unseen"
        result["rating"] = rating.level
        for c in opts.categories:
            for d in ("in", "out"):
                result[f"hops_{c}_{d}"] = row_hops.get((c, d))
                if opts.with_shares:
                    result[f"share_{c}_{d}"] = round(shares.get((c, d), 0.0), 6)
        if on_progress is not None and not opts.with_shares:
            on_progress(done)
    if on_progress is not None and opts.with_shares:
        on_progress(len(valid))
    return results


#: Rows per task of the parallel value-share pass.
SHARE_CHUNK = 64


def _shares(
    screener: Screener, rows: Sequence[tuple[int, str, int]],
    on_progress: Callable[[int], None] | None,
) -> dict[int, dict[tuple[str, str], float]]:
    """Value shares of each (row, chain, node) in both directions, rows split among threads
    (the share kernel releases the GIL; each thread keeps its own walker's scratch arrays)."""
    opts = screener.options
    local = threading.local()

    def run(chunk: Sequence[tuple[int, str, int]]) -> dict[int, dict[tuple[str, str], float]]:
        walkers = getattr(local, "walkers", None)
        if walkers is None:
            walkers = local.walkers = {}
        out = {}
        for i, chain, node in chunk:
            if chain not in walkers:
                walkers[chain] = Walker(screener.graph(chain)[0].graph, check_ids=False)
            row: dict[tuple[str, str], float] = {}
            for direction in ("in", "out"):
                got = walkers[chain].shares(node, direction, opts.max_hops, opts.share_tolerance)
                for category, value in zip(got.categories, got.share, strict=True):
                    row[(category, direction)] = float(value)
            out[i] = row
        return out

    for chain in sorted({c for _, c, _ in rows}):
        screener.graph(chain)  # loaded once, before the threads share it
    chunks = [rows[k:k + SHARE_CHUNK] for k in range(0, len(rows), SHARE_CHUNK)]
    found: dict[int, dict[tuple[str, str], float]] = {}
    workers = max(1, min(numba.get_num_threads(), 8))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(run, chunks):
            found.update(part)
            if on_progress is not None:
                on_progress(len(found))
    return found


def write_results(results: list[dict[str, Any]], path: Path | None) -> None:
    """Write results as CSV (stdout when ``path`` is None), Parquet or JSON by extension."""
    import sys

    columns: list[str] = []
    for r in results:
        for key in r:
            if key not in columns:
                columns.append(key)
    if path is not None and path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(results), path)
        return
    if path is not None and path.suffix == ".json":
        path.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
        return
    handle = path.open("w", newline="", encoding="utf-8-sig") if path else sys.stdout
    try:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in results:
            writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    finally:
        if path:
            handle.close()
