"""Build a chain's graph from the store: aggregate over integer address ids in SQL, CSR in numpy.

Nodes are every address with a transfer on the chain (or, in entity mode, every cluster of
them), numbered in address order: node ids, and so the walk's tie rule, do not depend on the
order addresses were first stored. An edge ``u -> v`` aggregates the transfers that pass the
one edge predicate (:func:`edge_predicate_sql`, the filters of :class:`GraphSettings`); it keeps
its summed value, first/last time, transfer count and the block of its representative transfer
(the earliest by block, position, transaction), from which a screen fetches the evidence.

Besides the CSR the build keeps what a screen needs without touching ``transfers``: each
address's activity (first/last seen, counts and volumes per asset and direction).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from exposure.store import transaction

from .csr import Graph, csr_from_edges
from .settings import GraphSettings

if TYPE_CHECKING:  # pyarrow is imported where a graph is built: a screen never needs it
    import pyarrow as pa


def _kernels():
    """The JIT kernels, imported when a graph is built (a screen of a cached graph loads no
    numba)."""
    from exposure.walk import kernels

    return kernels


#: Direction codes of the activity arrays.
IN, OUT = 0, 1


@dataclass(frozen=True)
class Activity:
    """Per-address activity, rows sorted by address (see :class:`GraphParts`).

    ``first``/``last`` int64[n_addr] are microseconds since the epoch (``NO_TIME`` if unknown);
    rows ``ptr[i]:ptr[i+1]`` of ``asset`` (int32 index into ``assets``), ``direction`` (uint8,
    ``IN``/``OUT``), ``count`` (int64) and ``amount`` (float64, in token units) are address
    ``i``'s per-asset, per-direction totals over all its transfers (no filters).
    """

    assets: tuple[str, ...]
    first: np.ndarray
    last: np.ndarray
    ptr: np.ndarray
    asset: np.ndarray
    direction: np.ndarray
    count: np.ndarray
    amount: np.ndarray


NO_TIME = np.iinfo(np.int64).min


@dataclass(frozen=True)
class GraphParts:
    """A built (or memory-mapped) graph with what screening needs beside the CSR.

    Attributes
    ----------
    graph : Graph
    addr_text : ndarray of bytes (``S<w>``), [n_addr], ascending
        Every address with a transfer on the chain.
    addr_id : int64[n_addr]
        Its id in the store's ``addresses`` table.
    addr_node : int64[n_addr] or None
        The node of each address (entity mode); None when nodes are the addresses themselves
        (node ``i`` is ``addr_text[i]``).
    node_text : ndarray of bytes, [n_nodes], ascending, or None
        Entity mode: the cluster (or lone address) each node stands for; None: ``addr_text``.
    edge_count : int64[n_edges]
        Transfers aggregated into each edge.
    edge_rep_block : int64[n_edges]
        Block of each edge's representative (earliest) transfer.
    edge_rep_from, edge_rep_to : int64[n_edges] or None
        Entity mode: store ids of that transfer's sender and recipient (else the edge's nodes').
    activity : Activity
    """

    graph: Graph
    addr_text: np.ndarray
    addr_id: np.ndarray
    addr_node: np.ndarray | None
    node_text: np.ndarray | None
    edge_count: np.ndarray
    edge_rep_block: np.ndarray
    edge_rep_from: np.ndarray | None
    edge_rep_to: np.ndarray | None
    activity: Activity
    extra: dict = field(default_factory=dict, compare=False)

    # -- lookups -------------------------------------------------------------------------------
    def address_index(self, address: str) -> int | None:
        """Row of ``address`` in ``addr_text`` (binary search), or None."""
        return _find(self.addr_text, address)

    def node_of(self, key: str) -> int | None:
        """Node id of an address (or, in entity mode, a cluster representative), or None."""
        if self.node_text is None:
            return _find(self.addr_text, key)
        return _find(self.node_text, key)

    def node_of_address(self, address: str) -> int | None:
        """Node id of ``address`` (in entity mode, of its cluster), or None."""
        i = self.address_index(address)
        if i is None or self.addr_node is None:
            return i
        return int(self.addr_node[i])

    def node_address(self, node: int) -> str:
        """The address (or cluster) node ``node`` stands for."""
        text = self.addr_text if self.node_text is None else self.node_text
        return bytes(text[node]).decode()

    def edge_endpoints(self, edge: int) -> tuple[int, int]:
        """Store ids of the sender and recipient of ``edge``'s representative transfer."""
        if self.edge_rep_from is not None and self.edge_rep_to is not None:
            return int(self.edge_rep_from[edge]), int(self.edge_rep_to[edge])
        g = self.graph
        src = int(np.searchsorted(g.out_indptr, edge, side="right") - 1)
        return int(self.addr_id[src]), int(self.addr_id[int(g.out_indices[edge])])


def _find(sorted_text: np.ndarray, key: str) -> int | None:
    if not sorted_text.shape[0]:
        return None
    raw = key.encode()
    if len(raw) > sorted_text.dtype.itemsize or b"\x00" in raw:
        return None
    probe = np.array(raw, dtype=sorted_text.dtype)
    i = int(np.searchsorted(sorted_text, probe))
    if i < sorted_text.shape[0] and sorted_text[i] == probe:
        return i
    return None


def edge_predicate_sql(alias: str = "t", least: str = "p.dust") -> str:
    """The one edge predicate: which transfers of ``transfers`` (as ``alias``) make edges.

    Parameters ``$chain``, ``$start``, ``$end``; the caller joins the tracked assets as ``p``
    (untracked tokens never make an edge) and names the smallest amount that counts (``least``,
    the asset's dust threshold). Zero-value and dust transfers, and transfers outside the time
    window, never make an edge. Used by the graph build, the evidence lookup and the notebooks'
    neighbourhoods (:mod:`exposure.explore`).
    """
    t = alias
    return f"""{t}.chain = $chain
      AND (({t}.amount_raw > 0) OR {t}.amount_raw_big IS NOT NULL)
      AND {t}.amount >= {least}
      AND ($start IS NULL OR {t}.block_time >= $start)
      AND ($end IS NULL OR {t}.block_time <= $end)"""


#: The representative transfer of an edge: the least of this key (block, position, tx, ...).
_REP_KEY = (
    "{'b': t.block_number, 'i': coalesce(t.log_index, 0), 'ta': coalesce(t.trace_address, ''),"
    " 'tx': t.tx_hash, 'li': t.log_index, 'vo': t.vout, 'asset': t.asset,"
    " 'amount': coalesce(CAST(t.amount_raw AS VARCHAR), CAST(t.amount_raw_big AS VARCHAR)),"
    " 'ts': epoch(t.block_time)::BIGINT, 'fa': t.from_address, 'da': t.to_address}"
)
REP_ORDER_SQL = (
    "coalesce(t.log_index, 0), coalesce(t.trace_address, ''), t.tx_hash, t.log_index, t.vout, "
    "t.asset, coalesce(CAST(t.amount_raw AS VARCHAR), CAST(t.amount_raw_big AS VARCHAR)), "
    "epoch(t.block_time)::BIGINT, t.from_address, t.to_address"
)


def tracked_assets(con: duckdb.DuckDBPyConnection, chain: str) -> list[str]:
    """The assets of ``chain`` that may make edges: its tracked tokens and its native coin."""
    rows = con.execute(
        "SELECT asset FROM assets WHERE chain = ? "
        "UNION SELECT native_symbol FROM chains WHERE chain = ? ORDER BY 1",
        [chain, chain],
    ).fetchall()
    return [r[0] for r in rows]


def asset_params(assets: list[str], settings: GraphSettings) -> pa.Table:
    """The ``_graph_assets`` table of :func:`edge_predicate_sql`."""
    import pyarrow as pa

    return pa.table(
        {
            "asset": pa.array(assets, pa.string()),
            "price": pa.array([settings.price(a) for a in assets], pa.float64()),
            "dust": pa.array([settings.dust(a) for a in assets], pa.float64()),
        }
    )


def _fixed_text(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """ASCII text as a fixed-width bytes array (``S<w>``, w = the longest value)."""
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    arr = arr.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype="S1")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    lengths = np.diff(offsets)
    width = int(lengths.max()) or 1
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    if arr.null_count == 0 and int(lengths.min()) == width:
        return data[offsets[0]: offsets[-1]].copy().view(f"S{width}")
    return arr.to_numpy(zero_copy_only=False).astype(f"S{width}")


#: Rows per batch of the build's scan (bounds its memory: the scan is never held whole).
SCAN_BATCH = 1 << 20
#: Above this many assets on a chain (``--all-tokens`` imports), activity bins are sparse.
DENSE_ASSETS = 16


class _Scan:
    """The one scan of a chain's transfers a build makes, consumed batch by batch.

    Keeps per-address activity (dense bins per asset, grown as assets appear; sparse beyond
    ``DENSE_ASSETS``) and, compactly, the rows that pass the edge predicate: sender and
    recipient ids, value at the reference price, block time (s) and block number.
    """

    def __init__(self, n_ids: int, prices: dict[str, float]) -> None:
        self.n_ids = n_ids
        self.prices = prices
        self.codes: dict[str, int] = {}
        self.counts = np.zeros(0, dtype=np.int64)
        self.sums = np.zeros(0, dtype=np.float64)
        self.sparse: list[tuple[np.ndarray, np.ndarray]] = []
        self.first = np.full(n_ids, np.iinfo(np.int64).max, dtype=np.int64)
        self.last = np.full(n_ids, NO_TIME, dtype=np.int64)
        self.edge_parts: list[tuple[np.ndarray, ...]] = []

    def _codes(self, column: pa.Array) -> np.ndarray:
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(column)
        names = [str(x) for x in encoded.dictionary.to_pylist()]
        for name in names:
            self.codes.setdefault(name, len(self.codes))
        local = np.array([self.codes[x] for x in names], dtype=np.int64)
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        return local[indices] if names else np.zeros(len(column), dtype=np.int64)

    def add(self, batch: pa.RecordBatch) -> None:
        """Fold one batch of the scan in."""
        import pyarrow.compute as pc

        f = np.ascontiguousarray(batch["from_id"].to_numpy(), dtype=np.int64)
        d = np.ascontiguousarray(batch["to_id"].to_numpy(), dtype=np.int64)
        asset = self._codes(batch["asset"])
        amount = np.nan_to_num(
            batch["amount"].to_numpy(zero_copy_only=False).astype(np.float64))
        us = np.ascontiguousarray(pc.fill_null(batch["us"], NO_TIME).to_numpy(), dtype=np.int64)
        n_assets = len(self.codes)
        if n_assets <= DENSE_ASSETS:
            size = n_assets * self.n_ids * 2
            if self.counts.shape[0] < size:  # a new asset: bins appended (asset-major layout)
                self.counts = np.concatenate(
                    [self.counts, np.zeros(size - self.counts.shape[0], np.int64)])
                self.sums = np.concatenate(
                    [self.sums, np.zeros(size - self.sums.shape[0], np.float64)])
            _kernels().activity_bins(f, d, asset, amount, us, np.int64(self.n_ids),
                                  np.int64(NO_TIME), self.counts, self.sums, self.first,
                                  self.last)
        else:
            base = asset * self.n_ids
            self.sparse.append((np.concatenate([(base + d) * 2 + IN, (base + f) * 2 + OUT]),
                                np.concatenate([amount, amount])))
            known = us != NO_TIME
            np.minimum.at(self.first, f[known], us[known])
            np.minimum.at(self.first, d[known], us[known])
            np.maximum.at(self.last, f[known], us[known])
            np.maximum.at(self.last, d[known], us[known])
        keep = np.flatnonzero(batch["edge"].to_numpy(zero_copy_only=False))
        if keep.shape[0]:
            names = sorted(self.codes, key=self.codes.__getitem__)
            price = np.array([self.prices.get(x, np.nan) for x in names], dtype=np.float64)
            ts = us[keep]
            seconds = np.where(ts == NO_TIME, _kernels().NO_TS_MIN, (ts + 500_000) // 1_000_000)
            self.edge_parts.append((
                f[keep], d[keep], np.nan_to_num(amount[keep] * price[asset[keep]]), seconds,
                np.ascontiguousarray(batch["block"].to_numpy()[keep], dtype=np.int64),
            ))

    def edge_rows(self) -> tuple[np.ndarray, ...]:
        """The kept rows, in scan order: (from_id, to_id, value, ts, block)."""
        if not self.edge_parts:
            z = np.zeros(0, dtype=np.int64)
            return z, z, np.zeros(0, dtype=np.float64), z, z
        out = tuple(np.concatenate(parts) for parts in zip(*self.edge_parts, strict=True))
        self.edge_parts = []
        return out

    def activity(self) -> tuple[np.ndarray, Activity]:
        """Every address id with a transfer (ascending) and its activity, rows in id order
        (:func:`_in_address_order` reorders them)."""
        n_ids = self.n_ids
        if self.sparse:
            keys = np.concatenate([k for k, _ in self.sparse])
            weights = np.concatenate([w for _, w in self.sparse])
            used, inverse = np.unique(keys, return_inverse=True)
            counts = np.bincount(inverse)
            sums = np.bincount(inverse, weights=weights)
        else:
            used = np.flatnonzero(self.counts)
            counts, sums = self.counts[used], self.sums[used]
        names = sorted(self.codes, key=self.codes.__getitem__)
        ranked = sorted(names)
        rank = np.array([ranked.index(x) for x in names], dtype=np.int64)
        code = used // (n_ids * 2)
        owner = (used // 2) % n_ids
        direction = used % 2
        asset = rank[code] if names else code
        order = np.lexsort((direction, asset, owner))
        owner, asset, direction = owner[order], asset[order], direction[order]
        counts, sums = counts[order], sums[order]
        first_row = np.concatenate([[True], owner[1:] != owner[:-1]]) if owner.shape[0] else (
            np.zeros(0, dtype=np.bool_))
        ids = owner[first_row]
        ptr = np.zeros(ids.shape[0] + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(np.cumsum(first_row) - 1, minlength=ids.shape[0]))
        big = np.iinfo(np.int64).max
        first = self.first[ids]
        return ids.astype(np.int64), Activity(
            assets=tuple(ranked),
            first=np.where(first == big, NO_TIME, first),
            last=self.last[ids],
            ptr=ptr,
            asset=asset.astype(np.int32),
            direction=direction.astype(np.uint8),
            count=counts.astype(np.int64),
            amount=sums.astype(np.float64),
        )


def _scan(cur: duckdb.DuckDBPyConnection, chain: str, params: dict,
          prices: dict[str, float]) -> _Scan:
    """Scan the chain's transfers once, in batches: ids, asset, amount, time, block, and
    whether the transfer passes the edge predicate."""
    n_ids = cur.execute(
        "SELECT coalesce(max(id), -1) + 1 FROM addresses WHERE chain = ?", [chain]
    ).fetchall()[0][0]
    scan = _Scan(int(n_ids), prices)
    reader = cur.sql(
        f"""SELECT t.from_id, t.to_id, t.asset, t.amount, epoch_us(t.block_time) AS us,
               t.block_number::BIGINT AS block,
               coalesce({edge_predicate_sql("t")}, false) AND t.from_id <> t.to_id AS edge
        FROM transfers t LEFT JOIN _graph_assets p ON p.asset = t.asset
        WHERE t.chain = $chain""",
        params=params,
    ).to_arrow_reader(SCAN_BATCH)
    for batch in reader:
        scan.add(batch)
    return scan


def _in_address_order(activity: Activity, order: np.ndarray) -> Activity:
    """``activity`` (rows per address in id order) with its addresses permuted by ``order``
    (``order[i]`` = old position of the i-th address in address order)."""
    sizes = np.diff(activity.ptr)[order]
    ptr = np.zeros(order.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=ptr[1:])
    starts = activity.ptr[:-1][order]
    take = np.repeat(starts - ptr[:-1], sizes) + np.arange(int(ptr[-1]), dtype=np.int64)
    return Activity(
        assets=activity.assets,
        first=np.ascontiguousarray(activity.first[order]),
        last=np.ascontiguousarray(activity.last[order]),
        ptr=ptr,
        asset=np.ascontiguousarray(activity.asset[take]),
        direction=np.ascontiguousarray(activity.direction[take]),
        count=np.ascontiguousarray(activity.count[take]),
        amount=np.ascontiguousarray(activity.amount[take]),
    )


_EDGE_COLUMNS = {
    "value": np.float64, "transfers": np.int64, "first_time": np.int64, "last_time": np.int64,
    "rep_block": np.int64, "rep_from": np.int64, "rep_to": np.int64,
}


def _by_node_pair(n_nodes: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Positions sorted by (src, dst), stable: a counting sort by dst, then one by src."""
    _, _, by_dst = csr_from_edges(n_nodes, dst, src)
    _, _, by_src = csr_from_edges(n_nodes, src[by_dst], dst[by_dst])
    return by_dst[by_src]


def _edges(
    cur: duckdb.DuckDBPyConnection, rows: _Scan, entities: bool, node_of_id: np.ndarray,
    n_nodes: int, params: dict,
) -> dict[str, np.ndarray]:
    """The aggregated edges, sorted by (src, dst) node: arrays ``src``, ``dst`` and the
    ``_EDGE_COLUMNS`` (``rep_from``/``rep_to`` in entity mode only).

    Addresses: aggregated from the build's one scan (``rows``) by ``kernels.group_edges``.
    Entity mode: the representative transfer's sender and recipient (``arg_min`` over the rep
    key) are needed too, so the edges are grouped in SQL, ids mapped to nodes through the
    registered ``_graph_ids(id, node)``.
    """
    aggregates = """sum(t.amount * p.price) AS value,
                   count(*) AS transfers,
                   min(epoch(t.block_time))::BIGINT AS first_time,
                   max(epoch(t.block_time))::BIGINT AS last_time,
                   min(t.block_number)::BIGINT AS rep_block"""
    if entities:
        table = cur.sql(
            f"""SELECT f.node AS src, d.node AS dst, {aggregates},
                   arg_min(t.from_id, {_REP_KEY}) AS rep_from,
                   arg_min(t.to_id, {_REP_KEY}) AS rep_to
            FROM transfers t
            JOIN _graph_assets p ON p.asset = t.asset
            JOIN _graph_ids f ON f.id = t.from_id
            JOIN _graph_ids d ON d.id = t.to_id
            WHERE {edge_predicate_sql("t")} AND f.node <> d.node
            GROUP BY 1, 2""",
            params=params,
        ).to_arrow_table()
        src = table["src"].to_numpy().astype(np.int64)
        dst = table["dst"].to_numpy().astype(np.int64)
        order = _by_node_pair(n_nodes, src, dst)
        out = {"src": np.ascontiguousarray(src[order]), "dst": np.ascontiguousarray(dst[order])}
        for name, dtype in _EDGE_COLUMNS.items():
            out[name] = np.ascontiguousarray(table[name].to_numpy()[order], dtype=dtype)
        return out
    # addresses: from the scanned rows, grouped by (src, dst) node (transfers keep their scan
    # order inside an edge)
    f, d, value, ts, block = rows.edge_rows()
    src = node_of_id[f].astype(np.int32)
    dst = node_of_id[d].astype(np.int32)
    del f, d
    e_src, e_dst, value, count, first, last, block = _kernels().group_edges(
        np.int64(n_nodes), src, dst, value, ts, block)
    return {"src": e_src, "dst": e_dst, "value": value, "transfers": count, "first_time": first,
            "last_time": last, "rep_block": block}


def build_graph(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    settings: GraphSettings,
    categories: tuple[str, ...],
    *,
    key: str = "",
) -> GraphParts:
    """Build the CSR graph of ``chain`` with labelled and stop nodes flagged (read-only)."""
    import pyarrow as pa

    assets = tracked_assets(con, chain)
    start, end = settings.window()
    entities = settings.entities
    cur = con.cursor()
    try:
        cur.register("_graph_assets", asset_params(assets, settings))
        with transaction(cur):
            params = {"chain": chain, "start": start, "end": end}
            rows = _scan(cur, chain, params, {a: settings.price(a) for a in assets})
            ids, activity = rows.activity()
            cur.register("_graph_seen", pa.table({"id": ids}))
            member = "coalesce(k.cluster, a.address)" if entities else "a.address"
            cluster_join = (
                "LEFT JOIN btc_clusters k ON k.chain = a.chain AND k.address = a.address"
                if entities else ""
            )
            addr = cur.sql(
                f"""SELECT a.id, a.address, {member} AS entity
                FROM addresses a {cluster_join}
                SEMI JOIN _graph_seen s ON s.id = a.id
                WHERE a.chain = $chain
                ORDER BY a.address""",
                params={"chain": chain},
            ).to_arrow_table()
            addr_id = np.ascontiguousarray(addr["id"].to_numpy(), dtype=np.int64)
            addr_text = _fixed_text(addr["address"])
            max_id = int(addr_id.max()) if addr_id.shape[0] else 0
            position = np.full(max_id + 1, -1, dtype=np.int64)
            position[ids] = np.arange(ids.shape[0], dtype=np.int64)
            activity = _in_address_order(activity, position[addr_id])
            if entities:
                entity_text = _fixed_text(addr["entity"])
                node_text, addr_node = np.unique(entity_text, return_inverse=True)
                addr_node = addr_node.astype(np.int64)
            else:
                node_text, addr_node = None, np.arange(addr_id.shape[0], dtype=np.int64)
            n = addr_node.shape[0] if node_text is None else node_text.shape[0]
            node_of_id = np.full(max_id + 1, -1, dtype=np.int64)
            node_of_id[addr_id] = addr_node
            cur.register("_graph_ids", pa.table({"id": addr_id, "node": addr_node}))
            edges = _edges(cur, rows, entities, node_of_id, n, params)
            del rows
            labelled = cur.execute(
                """SELECT DISTINCT g.node, c.category FROM address_categories c
                JOIN addresses a ON a.chain = c.chain AND a.address = c.address
                JOIN _graph_ids g ON g.id = a.id
                WHERE c.chain = $chain""",
                {"chain": chain},
            ).fetchall()
            cur.unregister("_graph_seen")
            cur.unregister("_graph_ids")
        cur.unregister("_graph_assets")
    finally:
        cur.close()

    src, dst = edges["src"], edges["dst"]
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
        edge_value=edges["value"],
        edge_first=edges["first_time"],
        edge_last=edges["last_time"],
        node_cats=node_cats,
        node_stop=node_stop,
        key=key,
        meta={"assets": assets, "settings": settings.describe(), "entities": bool(entities)},
    )
    return GraphParts(
        graph=graph,
        addr_text=addr_text,
        addr_id=addr_id,
        addr_node=addr_node if entities else None,
        node_text=node_text,
        edge_count=edges["transfers"],
        edge_rep_block=edges["rep_block"],
        edge_rep_from=edges.get("rep_from"),
        edge_rep_to=edges.get("rep_to"),
        activity=activity,
    )


def activity_times(us: int) -> str | None:
    """An activity time (microseconds since the epoch) in ISO form, or None if unknown."""
    if us == NO_TIME:
        return None
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat()


def edge_evidence(
    con: duckdb.DuckDBPyConnection,
    parts: GraphParts,
    settings: GraphSettings,
    edges: list[int],
) -> dict[int, dict]:
    """The representative transfer of each edge in ``edges`` (the least by the rep key among the
    edge's transfers that pass the edge predicate), fetched by its block and address ids: only
    those blocks are read (DuckDB skips the rest of ``transfers`` by its zone maps)."""
    wanted = sorted(set(int(e) for e in edges))
    if not wanted:
        return {}
    keys = []
    for e in wanted:
        f, d = parts.edge_endpoints(e)
        keys.append((e, int(parts.edge_rep_block[e]), f, d))
    chain = parts.graph.chain
    assets = list(parts.graph.meta.get("assets") or tracked_assets(con, chain))
    start, end = settings.window()
    blocks = sorted({b for _, b, _, _ in keys})
    placeholders = ", ".join(f"$b{i}" for i in range(len(blocks)))
    params = {"chain": chain, "start": start, "end": end,
              **{f"b{i}": b for i, b in enumerate(blocks)}}
    # the small tables go in as bound lists (registering Arrow tables would import pandas)
    params.update({
        "assets": assets, "prices": [settings.price(a) for a in assets],
        "dusts": [settings.dust(a) for a in assets],
        "ke": [k[0] for k in keys], "kb": [k[1] for k in keys], "kf": [k[2] for k in keys],
        "kd": [k[3] for k in keys],
    })
    rows = con.execute(
        f"""SELECT k.e, t.block_number, t.tx_hash, t.log_index, t.trace_address, t.vout,
               t.from_address, t.to_address, t.asset,
               coalesce(CAST(t.amount_raw AS VARCHAR), CAST(t.amount_raw_big AS VARCHAR)),
               epoch(t.block_time)::BIGINT
        FROM (SELECT * FROM transfers WHERE chain = $chain
              AND block_number IN ({placeholders})) t
        JOIN (SELECT unnest($assets) AS asset, unnest($prices) AS price,
                     unnest($dusts) AS dust) p ON p.asset = t.asset
        JOIN (SELECT unnest($ke) AS e, unnest($kb) AS b, unnest($kf) AS f,
                     unnest($kd) AS d) k
          ON k.b = t.block_number AND k.f = t.from_id AND k.d = t.to_id
        WHERE {edge_predicate_sql("t")}
        QUALIFY row_number() OVER (PARTITION BY k.e ORDER BY {REP_ORDER_SQL}) = 1""",
        params,
    ).fetchall()
    names = ("block", "tx", "log_index", "trace_address", "vout", "from", "to", "asset",
             "amount", "time")
    return {int(r[0]): dict(zip(names, r[1:], strict=True)) for r in rows}
