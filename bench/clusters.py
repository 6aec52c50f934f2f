"""Clustering benchmark: common-input ownership over a synthetic chain of N inputs.

    python bench/clusters.py [--inputs 10000000] [--addresses 3000000]

Builds btc_outputs/btc_inputs in a fresh DuckDB file with SQL (funding outputs spread over an
address pool; spending transactions of 1-5 inputs, 2 outputs each, one in 50 shaped as a
5x5 equal-value CoinJoin), then times ``exposure.graph.clusters.compute_clusters`` end to end
(SQL joins, numpy, Numba union-find, writing the clusters). Target: 10M inputs under 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from exposure.graph.clusters import compute_clusters
from exposure.store import connect

RESULTS = Path(__file__).resolve().parent / "results" / "clusters.json"


def build(con, n_inputs: int, n_addresses: int) -> None:
    """Synthetic funding outputs, spending inputs and spending outputs."""
    con.execute("INSERT INTO chains VALUES ('bench', NULL, 'BTC', 8)")
    # funding: output j pays address hash(j) % n_addresses
    con.execute(
        """INSERT INTO btc_outputs
        SELECT 'bench', 1, 'f' || (j // 4), (j % 4)::INTEGER, 100000 + j % 1000, 'p2wpkh',
               'a' || (hash(j) % $n)
        FROM range($m) t(j)""",
        {"n": n_addresses, "m": n_inputs},
    )
    # spending: input j spends funding output j; tx size 1-5 by a hash of its block of 5
    con.execute(
        """INSERT INTO btc_inputs
        SELECT 'bench', 2, 's' || (j // 5) || '-' || ((j % 5) // (1 + hash(j // 5) % 5)),
               (j % 5)::INTEGER, 'f' || (j // 4), (j % 4)::UBIGINT, false
        FROM range($m) t(j)""",
        {"m": n_inputs},
    )
    # spending outputs: 2 per tx, unequal; every 50th tx of 5 inputs gets 5 equal outputs
    con.execute(
        """INSERT INTO btc_outputs
        SELECT 'bench', 2, txid, v::INTEGER,
               CASE WHEN mix THEN 50000 ELSE 40000 + v * 7 + hash(txid) % 1000 END,
               'p2wpkh', 'b' || hash(txid || v::VARCHAR) % $n
        FROM (SELECT DISTINCT txid, count(*) OVER (PARTITION BY txid) = 5
                     AND hash(txid) % 50 = 0 AS mix FROM btc_inputs)
        CROSS JOIN range(5) r(v)
        WHERE v < 2 OR mix""",
        {"n": n_addresses},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000_000)
    parser.add_argument("--addresses", type=int, default=3_000_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="exposure-bench-clusters-"))
    con = connect(folder / "c.duckdb", threads=os.cpu_count())
    began = time.perf_counter()
    build(con, args.inputs, args.addresses)
    built = time.perf_counter() - began
    began = time.perf_counter()
    counts = compute_clusters(con, "bench")
    seconds = time.perf_counter() - began
    con.close()
    result = {"inputs": args.inputs, "addresses_pool": args.addresses, "build_seconds": built,
              "cluster_seconds": seconds, "counts": counts, "target_seconds": 30,
              "target_met": seconds < 30, "load1": os.getloadavg()[0]}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(f"synthetic chain: {args.inputs:,} inputs built in {built:.1f} s")
    print(f"compute_clusters: {seconds:.1f} s for {args.inputs:,} inputs "
          f"({counts['clusters']:,} clusters of {counts['addresses']:,} addresses, "
          f"{counts['coinjoins']:,} CoinJoin-shaped txs skipped); target 30 s: "
          f"{'met' if seconds < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
