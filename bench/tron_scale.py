"""TRON screening at scale: a seeded 10M-transfer TRON store, then `exposure batch` and `screen`.

1. Writes ``--rows`` transfers (70% USDT, 30% TRX) among ``--addresses`` ``T...`` addresses into a
   fresh store through the indexer's own writer (``write_evm_batch``, one batch per ~1M rows,
   ~210 transfers per 3-second block). Senders and recipients are drawn from heavy-tailed
   weights; the busiest slots are taken by the shipped TRON exchange wallets (labels/packs), so
   the shipped labels make ``mainland_exchange`` hops as on mainnet.
2. Times, as a user runs them (process start included): ``exposure batch`` of a ``--book``-row
   book (first run builds the graph cache, second finds it), and ``exposure screen T... --format
   json`` over 20 book addresses (p50, p90).
3. Prints the figures beside the targets bench/scale.py holds the other chains to.

Run: ``python bench/tron_scale.py [--rows 10000000] [--book 10000]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from exposure.addresses import tron_encode_many  # noqa: E402
from exposure.indexers.evm.blocks import BLOCK_SCHEMA, NATIVE_SCHEMA  # noqa: E402
from exposure.indexers.evm.logs import TRANSFER_SCHEMA  # noqa: E402
from exposure.indexers.tron import TRON, USDT, token_stream  # noqa: E402
from exposure.labels.catalog import ensure_shipped  # noqa: E402
from exposure.store import connect, writes  # noqa: E402

PER_BLOCK = 210
START_TIME = 1_713_150_507


def shipped_tron_wallets(con) -> list[str]:
    """The shipped exchange wallets on TRON (labels/packs)."""
    ensure_shipped(con)
    return [a for (a,) in con.execute(
        "SELECT DISTINCT address FROM address_categories WHERE chain = 'tron' "
        "AND category = 'mainland_exchange' ORDER BY 1").fetchall()]


def build(db: Path, rows: int, n_addr: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, (n_addr, 20), dtype=np.uint8)
    addresses = np.array(tron_encode_many(raw), dtype=object)
    con = connect(db)
    wallets = shipped_tron_wallets(con)
    addresses[: len(wallets)] = wallets
    weight = 1.0 / np.arange(1, n_addr + 1) ** 0.9
    weight /= weight.sum()
    writes.register_chain(con, TRON, None)
    chunk = 1_000_000
    done = 0
    block = 0
    gc.disable()
    while done < rows:
        n = min(chunk, rows - done)
        src = rng.choice(n_addr, size=n, p=weight)
        dst = rng.choice(n_addr, size=n, p=weight)
        dst = np.where(dst == src, (dst + 1) % n_addr, dst)
        blocks = n // PER_BLOCK + 1
        numbers = block + np.arange(n) // PER_BLOCK
        tx = [f"{i:064x}" for i in range(done, done + n)]
        is_token = rng.random(n) < 0.7
        amount = (rng.lognormal(18, 2, n)).astype(np.uint64) + 1
        t_idx = np.flatnonzero(is_token)
        n_idx = np.flatnonzero(~is_token)
        tokens = pa.table([
            pa.array([USDT.address] * len(t_idx)), pa.array(numbers[t_idx], pa.uint64()),
            pa.array(["00" * 32] * len(t_idx)), pa.array([tx[i] for i in t_idx]),
            pa.array(np.zeros(len(t_idx), np.uint32)), pa.array(addresses[src[t_idx]].tolist()),
            pa.array(addresses[dst[t_idx]].tolist()),
            pa.array(np.zeros(len(t_idx), np.uint64)), pa.array(amount[t_idx]),
            pa.nulls(len(t_idx), pa.string())], schema=TRANSFER_SCHEMA)
        native = pa.table([
            pa.array(numbers[n_idx], pa.uint64()), pa.array([tx[i] for i in n_idx]),
            pa.array([""] * len(n_idx)), pa.array(["transfer"] * len(n_idx)),
            pa.array(addresses[src[n_idx]].tolist()), pa.array(addresses[dst[n_idx]].tolist()),
            pa.array([str(a) for a in amount[n_idx]])], schema=NATIVE_SCHEMA)
        heights = np.arange(block, block + blocks, dtype=np.uint64)
        headers = pa.table([
            pa.array(heights), pa.array([f"{h:064x}" for h in heights]),
            pa.array([f"{h - 1 if h else 0:064x}" for h in heights]),
            pa.array(START_TIME + heights.astype(np.int64) * 3)], schema=BLOCK_SCHEMA)
        last = block + blocks - 1
        ranges = [writes.StreamRange("native", block, last)] + [
            writes.StreamRange(token_stream(t), block, last, t.address) for t in TRON.tokens]
        writes.write_evm_batch(con, "tron", ranges, headers, tokens, native)
        done += n
        block = last + 1
        print(f"  {done:,} transfers written", flush=True)
    gc.enable()
    con.close()
    return addresses.tolist()


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "exposure", *args], capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, "CI": "true"})
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--addresses", type=int, default=1_000_000)
    parser.add_argument("--book", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "tron.duckdb"
        t0 = time.perf_counter()
        addresses = build(db, args.rows, args.addresses, args.seed)
        write_s = time.perf_counter() - t0
        rng = np.random.default_rng(args.seed + 1)
        picks = rng.choice(len(addresses), size=args.book, replace=False)
        book = Path(folder) / "book.csv"
        book.write_text("address\n" + "\n".join(addresses[i] for i in picks) + "\n")
        out = Path(folder) / "out.csv"
        first = timed(["batch", str(book), "--no-shares", "--out", str(out), "--db", str(db)])
        second = timed(["batch", str(book), "--no-shares", "--out", str(out), "--db", str(db)])
        reached = sum(1 for line in out.read_text().splitlines()[1:] if ",high," in line
                      or ",medium," in line)
        screens = sorted(timed(["screen", addresses[i], "--format", "json", "--db", str(db)])
                         for i in picks[:20])
    p50 = statistics.median(screens)
    p90 = screens[int(0.9 * (len(screens) - 1))]
    print(f"store: {args.rows:,} TRON transfers written in {write_s:.1f} s "
          f"({args.rows / write_s:,.0f} rows/s through write_evm_batch)")
    print(f"batch {args.book:,} --no-shares: first (builds the graph) {first:.1f} s "
          f"(target < 15 s), second {second:.2f} s; {reached:,} rows rated medium or high")
    print(f"screen T... --format json: p50 {p50:.2f} s, p90 {p90:.2f} s (target p50 < 0.5 s; "
          "the EVM 10M figure is 1.36 s, bench/README.md)")


if __name__ == "__main__":
    main()
