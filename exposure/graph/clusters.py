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


_PREPARE_SQL = (
    # every resolved input address of every non-coinbase transaction
    """CREATE OR REPLACE TEMP TABLE _cl_ins AS
    SELECT DISTINCT i.txid, coalesce(o.address, p.address) AS address
    FROM btc_inputs i
    LEFT JOIN btc_outputs o
           ON o.chain = i.chain AND o.txid = i.prev_txid AND o.vout = i.prev_vout
    LEFT JOIN btc_prevouts p
           ON p.chain = i.chain AND p.txid = i.prev_txid AND p.vout = i.prev_vout
    WHERE i.chain = $chain AND NOT i.is_coinbase
      AND coalesce(o.address, p.address) IS NOT NULL""",
    # transactions with 2+ distinct input addresses, numbered
    """CREATE OR REPLACE TEMP TABLE _cl_tx AS
    SELECT txid, (row_number() OVER (ORDER BY txid) - 1)::INTEGER AS t,
           count(*) AS distinct_inputs
    FROM _cl_ins GROUP BY txid HAVING count(*) >= 2""",
    # their addresses, numbered
    """CREATE OR REPLACE TEMP TABLE _cl_addr AS
    SELECT address, (row_number() OVER (ORDER BY address) - 1)::INTEGER AS a
    FROM (SELECT DISTINCT address FROM _cl_ins JOIN _cl_tx USING (txid))""",
)

_SHAPE_SQL = """
SELECT x.t, x.distinct_inputs, coalesce(s.equal_outputs, 0), coalesce(s.n_outputs, 0)
FROM _cl_tx x LEFT JOIN (
    SELECT txid, max(n) AS equal_outputs, sum(n) AS n_outputs
    FROM (SELECT o.txid, o.value_sat, count(*) AS n FROM btc_outputs o
          SEMI JOIN _cl_tx x ON x.txid = o.txid WHERE o.chain = $chain GROUP BY 1, 2)
    GROUP BY txid
) s USING (txid) ORDER BY x.t
"""

# each transaction's addresses linked to its smallest address (a star), in transaction order
_LINKS_SQL = """
SELECT t, min(a) OVER (PARTITION BY t) AS first, a
FROM (SELECT x.t, d.a FROM _cl_ins i JOIN _cl_tx x USING (txid) JOIN _cl_addr d USING (address))
QUALIFY a <> first
ORDER BY t, a
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
    """Cluster ``chain``'s addresses and store them; returns counts for the data state.

    Everything per input stays in DuckDB and numpy: SQL numbers the transactions and addresses
    and emits the links, :func:`is_coinjoin` masks CoinJoin-shaped transactions, and the Numba
    union-find merges.
    """
    cur = con.cursor()
    try:
        for statement in _PREPARE_SQL:
            if "$chain" in statement:
                cur.execute(statement, {"chain": chain})
            else:
                cur.execute(statement)
        shape = cur.execute(_SHAPE_SQL, {"chain": chain}).fetchnumpy()
        links = cur.execute(_LINKS_SQL).fetchnumpy()
        addresses = cur.sql("SELECT address FROM _cl_addr ORDER BY a").to_arrow_table()
        txids = cur.sql("SELECT txid FROM _cl_tx ORDER BY t").to_arrow_table()
        for table in ("_cl_ins", "_cl_tx", "_cl_addr"):
            cur.execute(f"DROP TABLE {table}")
    finally:
        cur.close()
    mix = is_coinjoin(
        np.asarray(shape["distinct_inputs"], dtype=np.int64),
        np.asarray(shape[list(shape)[3]], dtype=np.int64),
        np.asarray(shape[list(shape)[2]], dtype=np.int64),
    )
    t = np.asarray(links["t"], dtype=np.int32)
    keep = ~mix[t] if len(t) else np.zeros(0, dtype=bool)
    link_a = np.ascontiguousarray(np.asarray(links["first"], dtype=np.int32)[keep])
    link_b = np.ascontiguousarray(np.asarray(links["a"], dtype=np.int32)[keep])
    link_t = np.ascontiguousarray(t[keep])
    n = addresses.num_rows
    from .cluster_kernels import union_links  # numba: only when clusters are computed

    root, joined_by, refused, size = union_links(n, link_a, link_b, link_t, int(max_merge))
    # only addresses that a kept (non-CoinJoin) transaction linked belong to a cluster
    clustered = size > 1
    address_col = addresses["address"].combine_chunks()
    txid_col = txids["txid"].combine_chunks()
    idx = np.flatnonzero(clustered)
    by = joined_by[idx]
    clusters = pa.table(
        {
            "address": address_col.take(pa.array(idx)),
            "cluster": address_col.take(pa.array(root[idx])),
            "linked_by": txid_col.take(pa.array(np.where(by >= 0, by, 0))).to_pylist()
            if len(idx) else pa.array([], pa.string()),
            "size": pa.array(size[idx], pa.int32()),
        }
    )
    if len(idx):
        linked = [x if b >= 0 else None for x, b in zip(clusters["linked_by"].to_pylist(), by,
                                                            strict=True)]
        clusters = clusters.set_column(2, "linked_by", pa.array(linked, pa.string()))
    refusals = pa.table(
        {
            "txid": txid_col.take(pa.array(link_t[refused])) if len(refused)
            else pa.array([], pa.string()),
            "size_a": pa.array(size[link_a[refused]], pa.int32()),
            "size_b": pa.array(size[link_b[refused]], pa.int32()),
            "reason": pa.array(
                [f"both clusters larger than {max_merge} addresses"] * len(refused), pa.string()
            ),
        }
    )
    coinjoins = int(mix.sum())
    writes.replace_clusters(con, chain, cluster_data_key(con, chain), clusters, refusals,
                            coinjoins)
    return {
        "addresses": len(idx),
        "clusters": len(np.unique(root[idx])) if len(idx) else 0,
        "coinjoins": coinjoins,
        "refused": len(refused),
        "linking_transactions": int(len(mix) - coinjoins),
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
