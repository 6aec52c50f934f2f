"""Bitcoin raw-block parser benchmark: parse + store real mainnet blocks, against bitcoinlib.

The five mainnet blocks of bitcoinlib's sdist test data (250000, 330000, 625007, 629999, 722010:
8,469 transactions, 4.4 MB; fetched once into ``.cache/btc-fixtures`` by
``tests/btc_fixtures.py``) are parsed ``--repeat`` times, each time by one
``parse_blocks(blocks, "bitcoin", heights)`` call (so nothing is reused between repetitions), and
the four tables go into a fresh DuckDB file (``exposure.store.connect``; schema migration and the
table creation are not timed) with one ``INSERT ... SELECT * FROM <arrow table>`` per table,
committing every ``--per-commit`` parse results (default 15: 127,000 transactions, 377,000
outputs, 300,000 inputs, so every table gets at least one full DuckDB row group of 122,880 rows
per commit and DuckDB writes them to the file directly instead of through the WAL; the EVM
indexer commits the same way), and a final ``CHECKPOINT`` inside the timed region. The figure
is transactions per second of wall time over the whole loop, best of ``--runs``; the process's
CPU time (all threads) and the 1-minute load average before each run are recorded too, since
other work on the machine moves the wall figures. Parse alone and store alone
are timed the same way, and "pipelined" runs the same parse+store with the stores in a writer
thread, overlapping DuckDB's work (which releases the GIL) with the next parse, as an indexer
could.

Peer: bitcoinlib's ``Block.parse_bytes(raw, parse_transactions=True)`` on the same five blocks
(one pass; it parses but does not store). The ratio printed is exposure parse+store tx/s over
bitcoinlib parse tx/s.

Run: ``python bench/btc_parse.py [--repeat 45] [--per-commit 15] [--runs 3] [--skip-bitcoinlib]``
(about 2 minutes).
Writes ``bench/results/btc_parse.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(REPO))
os.environ.setdefault("BCL_DATA_DIR", tempfile.mkdtemp(prefix="exposure-bcl-"))

import duckdb  # noqa: E402
import numba  # noqa: E402
import pyarrow as pa  # noqa: E402

from exposure.indexers.bitcoin.model import ParsedBlocks  # noqa: E402
from exposure.indexers.bitcoin.parse import parse_blocks  # noqa: E402
from exposure.store import connect, transaction  # noqa: E402
from tests import btc_fixtures as fx  # noqa: E402

TARGET_TX_PER_S = 50_000
TABLES = ("blocks", "txs", "outputs", "inputs")


def log(message: str) -> None:
    print(message, flush=True)


def store(con: duckdb.DuckDBPyConnection, batch: list[ParsedBlocks]) -> None:
    """Insert the four tables of every parse result of ``batch`` in one transaction (Arrow in)."""
    with transaction(con):
        for parsed in batch:
            for name in TABLES:
                con.register("_rows", getattr(parsed, name))
                con.execute(f"INSERT INTO bench_btc_{name} SELECT * FROM _rows")
                con.unregister("_rows")


def fresh_store(folder: Path, sample: ParsedBlocks) -> duckdb.DuckDBPyConnection:
    path = folder / f"bench-{time.monotonic_ns()}.duckdb"
    con = connect(path)
    for name in TABLES:
        con.register("_empty", getattr(sample, name).schema.empty_table())
        con.execute(f"CREATE TABLE bench_btc_{name} AS SELECT * FROM _empty")
        con.unregister("_empty")
    return con


def timed_loop(
    raws: list[bytes], heights: list[int], repeat: int, per_commit: int, folder: Path, mode: str
) -> tuple[float, float, int]:
    """Seconds for ``repeat`` parses and/or stores, committing every ``per_commit`` parses.

    ``mode`` is ``parse``, ``store`` (one parse result stored ``repeat`` times) or
    ``parse+store``. Storing ends with a ``CHECKPOINT`` inside the timed region, so the figure
    includes writing the WAL's rows into the database file. Returns (wall seconds, CPU seconds of
    the process, all threads, txs stored).
    """
    sample = parse_blocks(raws, "bitcoin", heights)
    con = fresh_store(folder, sample)
    try:
        start = time.perf_counter()
        cpu_start = time.process_time()
        if mode == "pipelined":
            _pipelined(con, raws, heights, repeat, per_commit)
        else:
            batch: list[ParsedBlocks] = []
            for _ in range(repeat):
                batch.append(sample if mode == "store" else parse_blocks(raws, "bitcoin", heights))
                if mode == "parse":
                    batch.clear()
                elif len(batch) == per_commit:
                    store(con, batch)
                    batch.clear()
            if batch:
                store(con, batch)
        if mode != "parse":
            con.execute("CHECKPOINT")
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        stored = con.execute("SELECT count(*) FROM bench_btc_txs").fetchone()
    finally:
        con.close()
    return seconds, cpu, int(stored[0]) if stored else 0


def _pipelined(
    con: duckdb.DuckDBPyConnection,
    raws: list[bytes],
    heights: list[int],
    repeat: int,
    per_commit: int,
) -> None:
    """Parse in this thread while a writer thread stores the previous batch (DuckDB releases the
    GIL while it inserts and commits); at most two batches wait."""
    batches: queue.Queue[list[ParsedBlocks] | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            while (batch := batches.get()) is not None:
                store(con, batch)
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)

    thread = threading.Thread(target=writer, name="btc-bench-writer")
    thread.start()
    batch: list[ParsedBlocks] = []
    try:
        for _ in range(repeat):
            batch.append(parse_blocks(raws, "bitcoin", heights))
            if len(batch) == per_commit:
                batches.put(batch)
                batch = []
        if batch:
            batches.put(batch)
    finally:
        batches.put(None)
        thread.join()
    if failure:
        raise failure[0]


def bitcoinlib_parse(raws: list[bytes]) -> tuple[float, int]:
    from bitcoinlib.blocks import Block

    start = time.perf_counter()
    n = 0
    for raw in raws:
        n += len(Block.parse_bytes(raw, parse_transactions=True).transactions)
    return time.perf_counter() - start, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=45, help="parses of the 5 blocks per run")
    ap.add_argument(
        "--per-commit",
        type=int,
        default=15,
        help="parse results per commit (15 = 127k tx: a full row group in every table)",
    )
    ap.add_argument("--runs", type=int, default=3, help="runs; the best is reported")
    ap.add_argument("--skip-bitcoinlib", action="store_true")
    args = ap.parse_args()

    heights = list(fx.FIXTURE_HEIGHTS)
    raws = [fx.mainnet_block(h) for h in heights]
    n_tx = sum(fx.MAINNET_TX_COUNTS[h] for h in heights)
    n_bytes = sum(map(len, raws))
    t0 = time.perf_counter()
    warm = parse_blocks(raws, "bitcoin", heights)  # compiles or loads the numba cache
    log(f"first call (numba compile/cache load): {time.perf_counter() - t0:.2f} s")
    assert warm.txs.num_rows == n_tx
    log(
        f"{len(raws)} mainnet blocks, {n_tx:,} transactions, {warm.outputs.num_rows:,} outputs, "
        f"{warm.inputs.num_rows:,} inputs, {n_bytes / 1e6:.1f} MB; x{args.repeat} per run, "
        f"{args.per_commit} per commit, best of {args.runs}"
    )

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="btc-bench-") as tmp:
        folder = Path(tmp)
        for mode in ("parse", "store", "parse+store", "pipelined"):
            runs = []
            for _ in range(args.runs):
                load = os.getloadavg()[0]
                seconds, cpu, stored = timed_loop(
                    raws, heights, args.repeat, args.per_commit, folder, mode
                )
                runs.append({"seconds": seconds, "cpu_seconds": cpu, "load_1min_before": load})
                if mode != "parse":
                    assert stored == n_tx * args.repeat, (stored, n_tx * args.repeat)
            best = min(runs, key=lambda r: r["seconds"])
            rate = n_tx * args.repeat / best["seconds"]
            figures[mode] = {
                "best_seconds": best["seconds"],
                "cpu_seconds_of_best": best["cpu_seconds"],
                "tx_per_s": rate,
                "tx_per_cpu_s": n_tx * args.repeat / best["cpu_seconds"],
                "mb_per_s": n_bytes * args.repeat / best["seconds"] / 1e6,
                "runs": runs,
            }
            log(
                f"{mode:>12}: {best['seconds']:6.3f} s for {n_tx * args.repeat:,} tx = "
                f"{rate:10,.0f} tx/s  (CPU {best['cpu_seconds']:6.3f} s, load before "
                f"{best['load_1min_before']:.1f})"
            )

    ours = figures["parse+store"]["tx_per_s"]
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numba": numba.__version__,
            "duckdb": duckdb.__version__,
            "pyarrow": pa.__version__,
        },
        "blocks": heights,
        "transactions": n_tx,
        "outputs": warm.outputs.num_rows,
        "inputs": warm.inputs.num_rows,
        "bytes": n_bytes,
        "repeat": args.repeat,
        "per_commit": args.per_commit,
        "exposure": figures,
        "target_tx_per_s": TARGET_TX_PER_S,
        "target_met": ours >= TARGET_TX_PER_S,
    }
    if not args.skip_bitcoinlib:
        seconds, n = bitcoinlib_parse(raws)
        theirs = n / seconds
        result["bitcoinlib"] = {
            "version": "0.7.10",
            "call": "Block.parse_bytes(raw, parse_transactions=True)",
            "seconds": seconds,
            "tx_per_s": theirs,
        }
        result["ratio_parse_store_vs_bitcoinlib"] = ours / theirs
        log(f"{'bitcoinlib':>12}: {seconds:6.3f} s for {n:,} tx = {theirs:10,.0f} tx/s (parse)")
        log(f"ratio exposure parse+store / bitcoinlib parse: {ours / theirs:.1f}x")
    met = "met" if ours >= TARGET_TX_PER_S else "NOT met"
    log(f"target >= {TARGET_TX_PER_S:,} tx/s parse+store: {met} ({ours:,.0f} tx/s)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "btc_parse.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {RESULTS / 'btc_parse.json'}")


if __name__ == "__main__":
    main()
