"""The in-memory shape of the transfer graph: CSR adjacency in both directions plus node flags.

Everything the walk kernels see is here, as contiguous numpy arrays:

- nodes are dense ids ``0..n_nodes-1`` (``Graph.addresses`` maps them back, via the store);
- edges are aggregated transfers ``u -> v`` (one edge per ordered pair), numbered
  ``0..n_edges-1``; ``edge_value[e]`` is the summed value (in the valuation unit, a float),
  ``edge_first[e]``/``edge_last[e]`` the first/last transfer time (unix seconds, int64);
- ``out_indptr``/``out_indices``/``out_edge``: for node ``u``, its out-neighbours are
  ``out_indices[out_indptr[u]:out_indptr[u+1]]`` (ascending ids) and the edges ``out_edge[...]``;
- ``in_indptr``/``in_indices``/``in_edge``: the same for in-neighbours (who sent to ``v``);
- ``node_cats``: uint64 bitmask of screening categories per node (bit ``i`` is
  ``categories[i]``); non-zero means the node is labelled, hence terminal;
- ``node_stop``: uint8, 1 for unlabelled nodes above the degree cap (not traversed).

Sizes: ``*_indptr`` int64[n_nodes+1], ``*_indices`` int32[n_edges], ``*_edge`` int32 or int64
[n_edges] (int64 when n_edges >= 2**31), ``edge_*`` [n_edges], ``node_*`` [n_nodes].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Graph:
    """CSR arrays of one chain's transfer graph (see the module docstring for the layout)."""

    chain: str
    categories: tuple[str, ...]
    out_indptr: np.ndarray
    out_indices: np.ndarray
    out_edge: np.ndarray
    in_indptr: np.ndarray
    in_indices: np.ndarray
    in_edge: np.ndarray
    edge_value: np.ndarray
    edge_first: np.ndarray
    edge_last: np.ndarray
    node_cats: np.ndarray
    node_stop: np.ndarray
    key: str = ""
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.out_indptr.shape[0] - 1)

    @property
    def n_edges(self) -> int:
        """Number of aggregated edges."""
        return int(self.out_indices.shape[0])

    def category_bit(self, category: str) -> int:
        """The bit of ``category`` in ``node_cats`` (ValueError if not in this graph)."""
        return self.categories.index(category)

    def adjacency(self, direction: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, indices, edge)`` to walk in ``direction``.

        ``out`` (destination of funds) follows money forward: neighbours are recipients.
        ``in`` (source of funds) follows it backward: neighbours are senders.
        """
        if direction == "out":
            return self.out_indptr, self.out_indices, self.out_edge
        if direction == "in":
            return self.in_indptr, self.in_indices, self.in_edge
        raise ValueError(f"direction must be 'in' or 'out', got {direction!r}")


def csr_from_edges(
    n_nodes: int, src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of edges ``src[e] -> dst[e]`` by a counting sort (no argsort), targets ascending.

    Edges must be unique ``(src, dst)`` pairs sorted by ``(src, dst)`` for the out side to be
    ascending; the function itself is stable, so the input order within a row is kept.

    Returns ``(indptr int64[n_nodes+1], indices int32[E], edge int64|int32[E])`` where
    ``edge[k]`` is the input position of the k-th CSR entry.
    """
    from exposure.walk.kernels import counting_sort_csr

    edge_dtype = np.int64 if src.shape[0] >= 2**31 else np.int32
    indptr, indices, edge = counting_sort_csr(
        np.int64(n_nodes), np.ascontiguousarray(src, dtype=np.int32),
        np.ascontiguousarray(dst, dtype=np.int32), np.zeros(1, dtype=edge_dtype),
    )
    return indptr, indices, edge
