"""Bitcoin address clustering by common-input ownership, with CoinJoin exclusion and a guard.

Addresses spent together as inputs of one transaction are taken to share an owner, except in
CoinJoin-shaped transactions (see :func:`is_coinjoin`). A merge of two clusters that are both
larger than ``max_merge`` is refused and recorded (it usually means a CoinJoin the shape rule
missed, or a service's consolidation). Each clustered address keeps the transaction that linked
it (``linked_by``), so a report can say why an address belongs to its cluster.
"""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pyarrow as pa

from exposure.store import writes

from .cluster_kernels import union_links

#: Default guard: never merge two clusters that both have more addresses than this.
MAX_MERGE = 5_000


def is_coinjoin(
    distinct_inputs: np.ndarray, n_outputs: np.ndarray, equal_outputs: np.ndarray
) -> np.ndarray:
    """Which transactions look like CoinJoins (vectorised over arrays of equal length).

    ``equal_outputs`` is the largest number of outputs sharing one value. A transaction is
    CoinJoin-shaped when at least 3 outputs share a value and there are at least as many distinct
    input addresses as such outputs (Wasabi: tens of equal outputs; Whirlpool: 5 inputs and 5
    equal outputs; JoinMarket: n makers' equal outputs), or when it is a 2-party JoinMarket shape
    (2 equal outputs of at most 4, with 2+ distinct input addresses).
    """
    many = (equal_outputs >= 3) & (distinct_inputs >= equal_outputs)
    pair = (equal_outputs == 2) & (n_outputs <= 4) & (distinct_inputs >= 2)
    return many | pair


_LINKS_SQL = """
WITH ins AS (
    SELECT i.txid, coalesce(o.address, p.address) AS address
    FROM btc_inputs i
    LEFT JOIN btc_outputs o
           ON o.chain = i.chain AND o.txid = i.prev_txid AND o.vout = i.prev_vout
    LEFT JOIN btc_prevouts p
           ON p.chain = i.chain AND p.txid = i.prev_txid AND p.vout = i.prev_vout
    WHERE i.chain = $chain AND NOT i.is_coinbase
),
multi AS (
    SELECT txid, list(DISTINCT address ORDER BY address) AS addresses
    FROM ins WHERE address IS NOT NULL GROUP BY txid HAVING count(DISTINCT address) >= 2
),
shape AS (
    SELECT txid, max(n) AS equal_outputs, sum(n) AS n_outputs
    FROM (SELECT txid, value_sat, count(*) AS n FROM btc_outputs
          WHERE chain = $chain AND txid IN (SELECT txid FROM multi) GROUP BY 1, 2)
    GROUP BY txid
)
SELECT m.txid, m.addresses, coalesce(s.equal_outputs, 0), coalesce(s.n_outputs, 0)
FROM multi m LEFT JOIN shape s USING (txid) ORDER BY m.txid
"""


def cluster_data_key(con: duckdb.DuckDBPyConnection, chain: str) -> str:
    """What the clusters depend on: the indexed inputs and prevouts of ``chain``."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM btc_inputs WHERE chain = $c), "
        "(SELECT count(*) FROM btc_prevouts WHERE chain = $c), "
        "(SELECT max(number) FROM blocks WHERE chain = $c)",
        {"c": chain},
    ).fetchall()[0]
    return hashlib.sha256(repr(row).encode()).hexdigest()[:16]


def compute_clusters(
    con: duckdb.DuckDBPyConnection, chain: str, *, max_merge: int = MAX_MERGE
) -> dict[str, int]:
    """Cluster ``chain``'s addresses and store them; returns counts for the data state."""
    rows = con.execute(_LINKS_SQL, {"chain": chain}).fetchall()
    txids = [r[0] for r in rows]
    groups = [r[1] for r in rows]
    distinct = np.array([len(g) for g in groups], dtype=np.int64)
    equal = np.array([r[2] for r in rows], dtype=np.int64)
    n_out = np.array([r[3] for r in rows], dtype=np.int64)
    joins = ~is_coinjoin(distinct, n_out, equal) if rows else np.zeros(0, dtype=bool)
    kept = [g for g, keep in zip(groups, joins, strict=True) if keep]
    kept_tx = [t for t, keep in zip(txids, joins, strict=True) if keep]
    addresses = sorted({a for g in kept for a in g})
    index = {a: i for i, a in enumerate(addresses)}
    link_a, link_b, link_tx = [], [], []
    for t, group in enumerate(kept):
        first = index[group[0]]
        for other in group[1:]:
            link_a.append(first)
            link_b.append(index[other])
            link_tx.append(t)
    root, joined_by, refused, size = union_links(
        len(addresses),
        np.array(link_a, dtype=np.int32),
        np.array(link_b, dtype=np.int32),
        np.array(link_tx, dtype=np.int32),
        int(max_merge),
    )
    names = np.array(addresses, dtype=object)
    clusters = pa.table(
        {
            "address": pa.array(addresses, pa.string()),
            "cluster": pa.array(names[root] if len(addresses) else [], pa.string()),
            "linked_by": pa.array(
                [kept_tx[j] if j >= 0 else None for j in joined_by], pa.string()
            ),
            "size": pa.array(size, pa.int32()),
        }
    )
    refusals = pa.table(
        {
            "txid": pa.array([kept_tx[link_tx[i]] for i in refused], pa.string()),
            "size_a": pa.array([int(size[link_a[i]]) for i in refused], pa.int32()),
            "size_b": pa.array([int(size[link_b[i]]) for i in refused], pa.int32()),
            "reason": pa.array(
                [f"both clusters larger than {max_merge} addresses"] * len(refused), pa.string()
            ),
        }
    )
    coinjoins = int((~joins).sum()) if rows else 0
    writes.replace_clusters(con, chain, cluster_data_key(con, chain), clusters, refusals,
                            coinjoins)
    return {
        "addresses": len(addresses),
        "clusters": len(set(root.tolist())),
        "coinjoins": coinjoins,
        "refused": len(refused),
        "linking_transactions": len(kept),
    }


def ensure_clusters(con: duckdb.DuckDBPyConnection, chain: str) -> bool:
    """Recompute clusters if the indexed data changed since; True if recomputed."""
    state = con.execute(
        "SELECT data_key FROM btc_cluster_state WHERE chain = ?", [chain]
    ).fetchall()
    if state and state[0][0] == cluster_data_key(con, chain):
        return False
    compute_clusters(con, chain)
    return True
