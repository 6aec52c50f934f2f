"""Build a chain's graph from the store: filter and aggregate in SQL, CSR by counting sort.

Edges are aggregated per ordered pair of addresses over the transfers that pass the filters of
:class:`GraphSettings`. Each edge keeps its summed value, first/last time, transfer count and
one representative transfer (the earliest) as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from exposure.store import transaction

from .csr import Graph, csr_from_edges
from .settings import GraphSettings

#: Columns of the per-edge evidence table (row = edge id).
EVIDENCE_COLUMNS = (
    "src", "dst", "value", "transfers", "first_time", "last_time",
    "rep_block", "rep_tx", "rep_log_index", "rep_trace_address", "rep_vout", "rep_from",
    "rep_to", "rep_asset", "rep_amount",
    "rep_time",
)


@dataclass(frozen=True)
class GraphParts:
    """A built graph with its node addresses (id order) and per-edge evidence."""

    graph: Graph
    addresses: pa.Array
    evidence: pa.Table


def _filtered_edges_sql(entities: bool) -> str:
    src = "coalesce(cf.cluster, t.from_address)" if entities else "t.from_address"
    dst = "coalesce(ct.cluster, t.to_address)" if entities else "t.to_address"
    joins = (
        "LEFT JOIN btc_clusters cf ON cf.chain = t.chain AND cf.address = t.from_address "
        "LEFT JOIN btc_clusters ct ON ct.chain = t.chain AND ct.address = t.to_address"
        if entities else ""
    )
    return f"""
    SELECT {src} AS f, {dst} AS d,
           sum(t.amount * p.price) AS value,
           count(*) AS transfers,
           min(epoch(t.block_time))::BIGINT AS first_time,
           max(epoch(t.block_time))::BIGINT AS last_time,
           min({{'b': t.block_number, 'i': coalesce(t.log_index, 0),
                'ta': coalesce(t.trace_address, ''), 'tx': t.tx_hash,
                'li': t.log_index, 'vo': t.vout, 'asset': t.asset,
                'amount': coalesce(CAST(t.amount_raw AS VARCHAR),
                                   CAST(t.amount_raw_big AS VARCHAR)),
                'ts': epoch(t.block_time)::BIGINT, 'fa': t.from_address,
                'da': t.to_address}}) AS rep
    FROM transfers t
    JOIN _graph_assets p ON p.asset = t.asset
    {joins}
    WHERE t.chain = $chain
      AND {src} <> {dst}
      AND (t.amount_raw > 0 OR t.amount_raw_big IS NOT NULL)
      AND t.amount >= p.dust
      AND ($start IS NULL OR t.block_time >= $start)
      AND ($end IS NULL OR t.block_time <= $end)
    GROUP BY 1, 2
    """


def tracked_assets(con: duckdb.DuckDBPyConnection, chain: str) -> list[str]:
    """The assets of ``chain`` that may make edges: its tracked tokens and its native coin."""
    rows = con.execute(
        "SELECT asset FROM assets WHERE chain = ? "
        "UNION SELECT native_symbol FROM chains WHERE chain = ? ORDER BY 1",
        [chain, chain],
    ).fetchall()
    return [r[0] for r in rows]


def build_graph(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    settings: GraphSettings,
    categories: tuple[str, ...],
    *,
    key: str = "",
) -> GraphParts:
    """Build the CSR graph of ``chain`` with labelled and stop nodes flagged."""
    assets = tracked_assets(con, chain)
    params = pa.table(
        {
            "asset": pa.array(assets, pa.string()),
            "price": pa.array([settings.price(a) for a in assets], pa.float64()),
            "dust": pa.array([settings.dust(a) for a in assets], pa.float64()),
        }
    )
    start, end = settings.window()
    cur = con.cursor()
    try:
        cur.register("_graph_assets", params)
        with transaction(cur):
            edges_sql = _filtered_edges_sql(settings.entities)
            cur.execute(
                f"CREATE OR REPLACE TEMP TABLE _graph_e AS {edges_sql}",
                {"chain": chain, "start": start, "end": end},
            )
            cur.execute(
                "CREATE OR REPLACE TEMP TABLE _graph_nodes AS "
                "SELECT address, (row_number() OVER (ORDER BY address) - 1)::INTEGER AS id FROM "
                "(SELECT f AS address FROM _graph_e UNION SELECT d FROM _graph_e)"
            )
            addresses = cur.sql(
                "SELECT address FROM _graph_nodes ORDER BY id"
            ).to_arrow_table()["address"].combine_chunks()
            edges = cur.sql(
                """SELECT a.id AS src, b.id AS dst, e.value, e.transfers, e.first_time,
                          e.last_time, e.rep.b AS rep_block, e.rep.tx AS rep_tx,
                          e.rep.li AS rep_log_index, e.rep.ta AS rep_trace_address,
                          e.rep.vo AS rep_vout, e.rep.fa AS rep_from, e.rep.da AS rep_to,
                          e.rep.asset AS rep_asset, e.rep.amount AS rep_amount,
                          e.rep.ts AS rep_time
                   FROM _graph_e e
                   JOIN _graph_nodes a ON a.address = e.f
                   JOIN _graph_nodes b ON b.address = e.d
                   ORDER BY src, dst"""
            ).to_arrow_table()
            member = (
                "coalesce((SELECT k.cluster FROM btc_clusters k WHERE k.chain = c.chain "
                "AND k.address = c.address), c.address)" if settings.entities else "c.address"
            )
            labelled = cur.execute(
                f"SELECT DISTINCT n.id, c.category FROM address_categories c "
                f"JOIN _graph_nodes n ON n.address = {member} WHERE c.chain = ?",
                [chain],
            ).fetchall()
            cur.execute("DROP TABLE _graph_e")
            cur.execute("DROP TABLE _graph_nodes")
        cur.unregister("_graph_assets")
    finally:
        cur.close()

    n = len(addresses)
    src = edges["src"].to_numpy()
    dst = edges["dst"].to_numpy()
    out_indptr, out_indices, out_edge = csr_from_edges(n, src, dst)
    in_indptr, in_indices, in_edge = csr_from_edges(n, dst, src)
    node_cats = np.zeros(n, dtype=np.uint64)
    bits = {c: np.uint64(1) << np.uint64(i) for i, c in enumerate(categories)}
    for node, category in labelled:
        if category in bits:
            node_cats[node] |= bits[category]
    degree = np.diff(out_indptr) + np.diff(in_indptr)
    node_stop = ((degree > settings.degree_cap) & (node_cats == 0)).astype(np.uint8)
    graph = Graph(
        chain=chain,
        categories=categories,
        out_indptr=out_indptr,
        out_indices=out_indices,
        out_edge=out_edge,
        in_indptr=in_indptr,
        in_indices=in_indices,
        in_edge=in_edge,
        edge_value=np.ascontiguousarray(edges["value"].to_numpy(), dtype=np.float64),
        edge_first=np.ascontiguousarray(edges["first_time"].to_numpy(), dtype=np.int64),
        edge_last=np.ascontiguousarray(edges["last_time"].to_numpy(), dtype=np.int64),
        node_cats=node_cats,
        node_stop=node_stop,
        key=key,
        meta={"assets": assets, "settings": settings.describe()},
    )
    return GraphParts(graph, addresses, edges)
