"""Numba kernels for address clustering: a union-find with union by size and path halving.

Imports only numpy and numba; the driver (``exposure.graph.clusters``) builds the inputs.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _find(parent: np.ndarray, a: int) -> int:
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@njit(cache=True)
def union_links(
    n_nodes: int,
    link_a: np.ndarray,
    link_b: np.ndarray,
    link_tx: np.ndarray,
    max_merge: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Union ``link_a[i]`` with ``link_b[i]`` for every link, in order.

    Parameters
    ----------
    n_nodes : int
        Node ids are ``0..n_nodes-1``.
    link_a, link_b : int32[L]
        Endpoints of each link (two input addresses of one transaction).
    link_tx : int32[L]
        The transaction (an index into the driver's txid list) each link comes from.
    max_merge : int
        Guard: two clusters that are both larger than this are never merged.

    Returns
    -------
    root : int32[n_nodes]
        The cluster representative of each node (a node id in the cluster).
    joined_by : int32[n_nodes]
        For each node, the ``link_tx`` of the link that first attached it (or its old cluster) to
        another cluster; -1 for a node that was never linked (a cluster of its own) and for the
        representative that stayed root.
    refused : int32[R]
        Indexes into the links of merges the guard refused.
    size : int32[n_nodes]
        Size of each node's cluster (the same value for every member).
    """
    parent = np.arange(n_nodes, dtype=np.int32)
    size = np.ones(n_nodes, dtype=np.int32)
    joined_by = np.full(n_nodes, -1, dtype=np.int32)
    refused = np.empty(link_a.shape[0], dtype=np.int32)
    n_refused = 0
    for i in range(link_a.shape[0]):
        ra = _find(parent, link_a[i])
        rb = _find(parent, link_b[i])
        if ra == rb:
            continue
        if size[ra] > max_merge and size[rb] > max_merge:
            refused[n_refused] = i
            n_refused += 1
            continue
        if size[ra] < size[rb] or (size[ra] == size[rb] and rb < ra):
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        joined_by[rb] = link_tx[i]
    root = np.empty(n_nodes, dtype=np.int32)
    for v in range(n_nodes):
        root[v] = _find(parent, v)
    out_size = np.empty(n_nodes, dtype=np.int32)
    for v in range(n_nodes):
        out_size[v] = size[root[v]]
    return root, joined_by, refused[:n_refused], out_size
