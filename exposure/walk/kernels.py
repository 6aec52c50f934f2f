"""Numba kernels of the walk over CSR arrays: CSR build, bounded BFS, value share, batch hops.

This module imports only numpy, numba and its two neighbours that name the input layout
(:mod:`exposure.walk.layout`) and where the compiled code is cached (:mod:`exposure.walk.cache`)
(STYLE rule 11). Every kernel is a module-level
``@njit(cache=True)`` function over arrays; nothing is compiled per call. The kernels trust
their inputs: dtypes, contiguity and id ranges are checked by :mod:`exposure.walk.drivers`.

Caching rule: **no jitted function calls a** ``parallel=True`` **kernel**. A cached function
that calls a parallel one can be saved in a form that segfaults when a later process loads it
(numba issue #8578): here, after one process had cached ``counting_sort_csr`` for writable
inputs and a second one added the variant for read-only inputs, every third process crashed in
it. So the two kernels that run parallel steps, :func:`counting_sort_csr` and
:func:`multi_source_hops`, are plain Python functions with the signatures they had as kernels;
they call the serial and the parallel kernels one after the other (a handful of calls per
level, microseconds), and each parallel kernel is entered only from Python.

Stable signatures: the drivers and those two functions pass every read-only input through
:func:`kernel_input` (C-contiguous, fixed dtype, and always marked read-only: numba types a
read-only array differently from a writable one, so mixing them would compile and cache two
variants of every kernel). Scratch and output arrays are writable and allocated here or by the
driver. Where the cache lives and how concurrent first compiles are serialised:
:mod:`exposure.walk.cache` (set up when this module is imported). :func:`bfs_nearest` and
:func:`value_share`, the kernels of a single screen, are also compiled ahead of time by
:mod:`exposure.walk.aot`, so a screen needs no numba at all.

Conventions shared by all kernels (the layout of :class:`exposure.graph.csr.Graph`):

- ``indptr`` int64[N+1], ``indices`` int32[E] (ascending within a row), ``edge`` int32|int64[E]:
  the neighbours of ``u`` in the walked direction are ``indices[indptr[u]:indptr[u+1]]`` and
  ``edge[k]`` is the id of the edge used, an index into ``edge_value`` etc.
  The out-CSR walks "out" (destination of funds: neighbours are recipients), the in-CSR walks
  "in" (source of funds: neighbours are senders).
- ``node_cats`` uint64[N]: category bitmask; non-zero = labelled = terminal (a path may end at a
  labelled node, never pass through it).
- ``node_stop`` uint8[N]: 1 for an unlabelled node above the degree cap; never expanded.
- Hops: a direct counterparty is 1 hop; a labelled start is 0 hops for its own categories.
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit, prange

from exposure.walk.layout import MAX_CATS, NO_HOPS, kernel_input

_ONE = np.uint64(1)
_ZERO = np.uint64(0)


# --------------------------------------------------------------------------------------------
# CSR build
# --------------------------------------------------------------------------------------------


#: ``counting_sort_csr`` splits rows into at most ``2**_BUCKET_BITS`` buckets of consecutive
#: rows (few enough write streams to stay in cache and in the TLB).
_BUCKET_BITS = 10
_BUCKET_SHIFT_MIN = 6


@njit(cache=True)
def _bucket_shift(n_nodes):
    """log2 of the rows per bucket: at most ``2**_BUCKET_BITS`` buckets."""
    shift = _BUCKET_SHIFT_MIN
    while (n_nodes >> shift) >= (1 << _BUCKET_BITS):
        shift += 1
    return shift


@njit(cache=True)
def _bucket_edges(n_nodes, src, dst, edge_dtype_witness):
    """First pass of ``counting_sort_csr``: ``(row, col, position)`` stably into row buckets.

    Returns ``shift`` (bucket ``b`` holds rows ``[b << shift, (b + 1) << shift)``),
    ``bucket_ptr`` int64[n_buckets+1] and the bucketed ``row``/``col`` int32[E] and ``pos``
    (dtype of ``edge_dtype_witness``) [E].
    """
    m = src.shape[0]
    shift = _bucket_shift(n_nodes)
    n_buckets = (n_nodes >> shift) + 1
    bucket_ptr = np.zeros(n_buckets + 1, dtype=np.int64)
    for k in range(m):
        bucket_ptr[(src[k] >> shift) + 1] += 1
    for b in range(n_buckets):
        bucket_ptr[b + 1] += bucket_ptr[b]

    row = np.empty(m, dtype=np.int32)
    col = np.empty(m, dtype=np.int32)
    pos = np.empty(m, dtype=edge_dtype_witness.dtype)
    fill = bucket_ptr[:-1].copy()
    for k in range(m):
        u = src[k]
        b = u >> shift
        p = fill[b]
        row[p] = u
        col[p] = dst[k]
        pos[p] = k
        fill[b] = p + 1
    return shift, bucket_ptr, row, col, pos


@njit(parallel=True, cache=True)
def _count_rows(bucket_ptr, shift, row, counts):
    """Row counts from the bucketed rows (``counts[u + 1]`` += 1), buckets in parallel."""
    for b in prange(bucket_ptr.shape[0] - 1):
        for k in range(bucket_ptr[b], bucket_ptr[b + 1]):
            counts[row[k] + 1] += 1


@njit(cache=True)
def _cumulate(counts):
    """In-place running sum: ``counts[i + 1] += counts[i]`` (row counts to row offsets)."""
    for u in range(counts.shape[0] - 1):
        counts[u + 1] += counts[u]


@njit(parallel=True, cache=True)
def _scatter_buckets(bucket_ptr, shift, row, col, pos, indptr, indices, edge):
    """Last pass of ``counting_sort_csr``: each bucket's entries to their rows, stably.

    Buckets own disjoint row ranges, hence disjoint output ranges: ``prange`` over buckets is
    race-free and the result does not depend on the thread count.
    """
    n_nodes = indptr.shape[0] - 1
    for b in prange(bucket_ptr.shape[0] - 1):
        first_row = b << shift
        last_row = min(n_nodes, (b + 1) << shift)
        if first_row >= last_row:
            continue
        cursor = indptr[first_row:last_row].copy()
        for k in range(bucket_ptr[b], bucket_ptr[b + 1]):
            r = row[k] - first_row
            p = cursor[r]
            indices[p] = col[k]
            edge[p] = pos[k]
            cursor[r] = p + 1


def counting_sort_csr(n_nodes, src, dst, edge_dtype_witness):
    """CSR of the edges ``src[k] -> dst[k]`` by a stable counting sort (no argsort).

    Called with ``(src, dst)`` it builds the out-CSR, with ``(dst, src)`` the in-CSR. The sort is
    stable: inside a row, entries keep their input order, so when the input is sorted by
    ``(src, dst)`` both the out-rows and the in-rows come out ascending.

    A plain Python function (see the module docstring): it runs four kernels, two of them
    parallel, and hands every kernel inputs of one fixed type.

    Parameters
    ----------
    n_nodes : int
        N, the number of nodes; every id must be in ``[0, N)`` (not checked here).
    src, dst : int32[E]
        Row and column ids of each input edge (other layouts are converted, see
        :func:`kernel_input`; read-only arrays are not copied).
    edge_dtype_witness : int32[:] or int64[:]
        Any array whose dtype is the wanted dtype of ``edge`` (int64 when E >= 2**31).

    Returns
    -------
    indptr : int64[N+1]
        Row offsets: row ``u`` is ``[indptr[u], indptr[u+1])``.
    indices : int32[E]
        ``dst`` of the k-th CSR entry.
    edge : int32[E] or int64[E]
        Input position of the k-th CSR entry (so ``src[edge[k]] == u`` for ``k`` in row ``u``).

    Notes
    -----
    A one-pass scatter into N row cursors misses the cache on almost every write once N is in
    the millions. So it is a two-level (MSD) counting sort: scatter ``(row, dst, position)``
    stably into at most 1024 buckets of consecutive rows (few write streams: cache friendly),
    then count and place each bucket's rows, buckets in parallel (disjoint outputs). Working
    memory on top of the outputs: ``8 + itemsize(edge)`` bytes per edge for the bucketed copy
    (1.2 GB at E = 100M with int32 edge ids). Measured on 2 cores, N = 10M, E = 100M: both
    directions in 4.5 s, peak RSS 3.8 GB with the 0.8 GB input (``bench/walk.py``).
    """
    n_nodes = np.int64(n_nodes)
    src = kernel_input(src, np.int32)
    dst = kernel_input(dst, np.int32)
    witness = np.zeros(1, dtype=edge_dtype_witness.dtype)
    shift, bucket_ptr, row, col, pos = _bucket_edges(n_nodes, src, dst, witness)
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    _count_rows(bucket_ptr, shift, row, indptr)
    _cumulate(indptr)
    indices = np.empty(src.shape[0], dtype=np.int32)
    edge = np.empty(src.shape[0], dtype=witness.dtype)
    _scatter_buckets(bucket_ptr, shift, row, col, pos, indptr, indices, edge)
    return indptr, indices, edge


#: ``group_edges`` sentinels of a transfer without a block time.
NO_TS_MIN = np.iinfo(np.int64).max
NO_TS_MAX = np.iinfo(np.int64).min


#: Rows up to this long are sorted by insertion (no allocation); longer ones by merge sort.
_SMALL_ROW = 32


@njit(parallel=True, cache=True)
def _sort_rows(indptr, dst, pos, row_edges):
    """Order each row of the transfers' CSR by sender by recipient, stably, in place (rows in
    parallel); ``row_edges[u]`` = the row's number of distinct recipients."""
    for u in prange(indptr.shape[0] - 1):
        lo = indptr[u]
        hi = indptr[u + 1]
        if hi - lo <= _SMALL_ROW:
            for i in range(lo + 1, hi):  # stable insertion sort of (dst, pos) by dst
                kd = dst[i]
                kp = pos[i]
                j = i - 1
                while j >= lo and dst[j] > kd:
                    dst[j + 1] = dst[j]
                    pos[j + 1] = pos[j]
                    j -= 1
                dst[j + 1] = kd
                pos[j + 1] = kp
        else:
            order = np.argsort(dst[lo:hi], kind="mergesort")  # stable
            sd = dst[lo:hi][order]
            sp = pos[lo:hi][order]
            dst[lo:hi] = sd
            pos[lo:hi] = sp
        runs = 0
        for k in range(lo, hi):
            if k == lo or dst[k] != dst[k - 1]:
                runs += 1
        row_edges[u] = runs


@njit(parallel=True, cache=True)
def _reduce_rows(indptr, dst, pos, value, ts, block, edge_ptr, e_src, e_dst, e_value, e_count,
                 e_first, e_last, e_block):
    """One edge per run of equal recipient in each (sorted) row, written at ``edge_ptr[u]..``
    (rows in parallel); a run's values are added in row order (= scan order)."""
    for u in prange(indptr.shape[0] - 1):
        hi = indptr[u + 1]
        m = edge_ptr[u]
        k = indptr[u]
        while k < hi:
            d = dst[k]
            r = pos[k]
            total = 0.0
            count = 0
            first = NO_TS_MIN
            last = NO_TS_MAX
            least = block[r]
            while k < hi and dst[k] == d:
                r = pos[k]
                total += value[r]
                count += 1
                t = ts[r]
                if t != NO_TS_MIN:
                    if t < first:
                        first = t
                    if t > last:
                        last = t
                if block[r] < least:
                    least = block[r]
                k += 1
            e_src[m] = u
            e_dst[m] = d
            e_value[m] = total
            e_count[m] = count
            e_first[m] = first if first != NO_TS_MIN else 0
            e_last[m] = last if last != NO_TS_MAX else 0
            e_block[m] = least
            m += 1


def group_edges(n_nodes, src, dst, value, ts, block):
    """Aggregate transfers into edges: one edge per distinct ``(src, dst)``, sorted by it.

    A plain Python function (see the module docstring) over three kernels: the transfers'
    CSR by sender (:func:`counting_sort_csr`, stable: a row keeps scan order), each row
    ordered by recipient stably (rows in parallel), then each row's runs reduced to edges at
    their final positions (rows in parallel). No sort of all transfers by both keys: at 10M
    transfers this is 1.4 s where two stable counting sorts and one pass over the runs took
    2.7 s (2 cores).

    Parameters
    ----------
    n_nodes : int
    src, dst : int32[R]
        Node ids in ``[0, n_nodes)`` (not checked here).
    value : float64[R]
    ts : int64[R]
        Block time (unix seconds); ``NO_TS_MIN`` where unknown.
    block : int64[R]

    Returns
    -------
    (edge_src, edge_dst, edge_value, edge_count, edge_first, edge_last, edge_block), each [M]
    (int64 but ``edge_value`` float64), M the number of distinct pairs, sorted by ``(src,
    dst)``: ``edge_value`` the sum of the transfers' values added sequentially in input
    order (so it does not depend on threads), ``edge_count`` their number,
    ``edge_first``/``edge_last`` the least/greatest known time (0 if none), ``edge_block`` the
    least block number (the representative transfer's block).
    """
    n = src.shape[0]
    witness = np.zeros(1, dtype=np.int64 if n >= 2**31 else np.int32)
    indptr, row_dst, pos = counting_sort_csr(n_nodes, src, dst, witness)
    row_edges = np.zeros(indptr.shape[0] - 1, dtype=np.int64)
    _sort_rows(indptr, row_dst, pos, row_edges)
    edge_ptr = np.zeros(indptr.shape[0], dtype=np.int64)
    np.cumsum(row_edges, out=edge_ptr[1:])
    m = int(edge_ptr[-1])
    out = (np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64),
           np.empty(m, dtype=np.float64), np.empty(m, dtype=np.int64),
           np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64))
    _reduce_rows(indptr, row_dst, pos, kernel_input(value, np.float64), kernel_input(ts, np.int64),
                 kernel_input(block, np.int64), edge_ptr, *out)
    return out


@njit(cache=True)
def activity_bins(src, dst, asset, amount, us, n_ids, no_time, counts, sums, first, last):
    """Per-address activity in one pass over a batch of transfers (dense bins, accumulated).

    Parameters
    ----------
    src, dst : int64[R]
        Address ids (in ``[0, n_ids)``) of each transfer's sender and recipient.
    asset : int64[R]
        Asset code of each transfer.
    amount : float64[R]
        Amount in token units.
    us : int64[R]
        Block time in microseconds since the epoch, ``no_time`` where unknown.
    counts, sums : int64[B], float64[B], B >= (max code + 1) * n_ids * 2
        Accumulated: bin ``(asset * n_ids + id) * 2 + direction`` (0 = in, received; 1 = out,
        sent) counts the transfers and sums the amounts, in row order.
    first, last : int64[n_ids]
        Accumulated least/greatest known time of each address (start at int64 max / min).
    """
    for r in range(src.shape[0]):
        base = asset[r] * n_ids
        i = (base + dst[r]) * 2
        o = (base + src[r]) * 2 + 1
        counts[i] += 1
        sums[i] += amount[r]
        counts[o] += 1
        sums[o] += amount[r]
        t = us[r]
        if t != no_time:
            for x in (src[r], dst[r]):
                if t < first[x]:
                    first[x] = t
                if t > last[x]:
                    last[x] = t


@njit(parallel=True, cache=True)
def rows_ascending(indptr, indices):
    """True if every CSR row holds strictly ascending ids (so no duplicate edges either).

    Parameters
    ----------
    indptr : int64[N+1]
    indices : int32[E]

    Returns
    -------
    bool
    """
    bad = 0
    for u in prange(indptr.shape[0] - 1):
        for k in range(indptr[u] + 1, indptr[u + 1]):
            if indices[k] <= indices[k - 1]:
                bad += 1
                break
    return bad == 0


# --------------------------------------------------------------------------------------------
# Bounded BFS from one node
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def bfs_nearest(
    indptr, indices, edge, node_cats, node_stop, start, max_hops, want_mask,
    stamp, parent, parent_edge, queue, generation, max_stops,
):
    """Nearest labelled node of each wanted category from ``start``, with parent pointers.

    Level-synchronous BFS over the given adjacency (out-CSR: direction "out", in-CSR: "in").

    Semantics (DESIGN.md section 6):

    - a neighbour of the start is 1 hop; the start itself, if labelled, is 0 hops for its own
      categories and is still expanded (it is the origin); an unlabelled stop node as start is
      expanded too;
    - any other labelled node (``node_cats != 0``, whatever its categories) is terminal: it is
      visited and recorded, never expanded;
    - any other stop node (``node_stop == 1`` and unlabelled) is never expanded; it is reported
      in ``stops``;
    - ``max_hops`` bounds the path length.

    Tie rule: for each category the node reported is the first one discovered in BFS order, where
    the frontier is scanned in discovery order and each row in CSR order (ascending neighbour id).
    A node's parent is the first frontier node, in that order, that reaches it. Same graph, same
    answer.

    Early stop: the walk returns as soon as every category of ``want_mask`` has been found (the
    first discovery at the smallest level is already final under the tie rule, so the rest of the
    level is not needed), when the frontier is empty, or after ``max_hops`` levels.

    Cost is O(visited): scratch arrays are never cleared; a node is "visited in this call" iff
    ``stamp[v] == generation``.

    Parameters
    ----------
    indptr : int64[N+1]
    indices : int32[E]
    edge : int32[E] or int64[E]
    node_cats : uint64[N]
    node_stop : uint8[N]
    start : int
        Node id in ``[0, N)``.
    max_hops : int
        Maximum number of hops (>= 0).
    want_mask : uint64
        Category bits to look for; 0 returns at once.
    stamp : int32[N]
        Scratch; must not contain ``generation`` on entry (the driver bumps it per call).
    parent : int32[N]
        Scratch out: for visited ``v``, the node it was reached from (-1 for the start).
    parent_edge : int32[N] or int64[N] (same dtype as ``edge``)
        Scratch out: for visited ``v``, the edge id used to reach it (-1 for the start).
    queue : int32[N]
        Scratch for the frontier.
    generation : int
        Stamp value of this call (>= 1).
    max_stops : int
        How many stop nodes to keep in ``stops`` (the count ``n_stops`` is exact).

    Returns
    -------
    best_hops : int16[64]
        Per category bit, the nearest hop count, -1 if none within ``max_hops`` (or not wanted).
    best_node : int32[64]
        Per category bit, the labelled node reached, -1 if none.
    stops : int32[min(n_stops, max_stops)]
        Stop nodes met, in BFS discovery order.
    n_stops : int
        Number of distinct stop nodes met before the walk stopped.
    n_visited : int
        Number of distinct nodes visited, start included.
    """
    best_hops = np.full(MAX_CATS, -1, dtype=np.int16)
    best_node = np.full(MAX_CATS, -1, dtype=np.int32)
    stops = np.empty(max_stops, dtype=np.int32)
    n_stops = 0
    want = np.uint64(want_mask)

    stamp[start] = generation
    parent[start] = -1
    parent_edge[start] = -1
    n_visited = 1
    found = _ZERO
    own = node_cats[start] & want
    if own != _ZERO:
        for b in range(MAX_CATS):
            if (own >> np.uint64(b)) & _ONE:
                best_hops[b] = 0
                best_node[b] = start
        found = own
    if found == want:
        return best_hops, best_node, stops[:0], n_stops, n_visited

    queue[0] = start
    lo = 0
    hi = 1
    hop = 0
    while hop < max_hops and lo < hi:
        hop += 1
        tail = hi
        for qi in range(lo, hi):
            u = queue[qi]
            for k in range(indptr[u], indptr[u + 1]):
                v = indices[k]
                if stamp[v] == generation:
                    continue
                stamp[v] = generation
                parent[v] = u
                parent_edge[v] = edge[k]
                n_visited += 1
                c = node_cats[v]
                if c != _ZERO:
                    new = c & want & ~found
                    if new != _ZERO:
                        for b in range(MAX_CATS):
                            if (new >> np.uint64(b)) & _ONE:
                                best_hops[b] = hop
                                best_node[b] = v
                        found |= new
                        if found == want:
                            return (best_hops, best_node, stops[:min(n_stops, max_stops)],
                                    n_stops, n_visited)
                elif node_stop[v] != 0:
                    if n_stops < max_stops:
                        stops[n_stops] = v
                    n_stops += 1
                else:
                    queue[tail] = v
                    tail += 1
        lo = hi
        hi = tail
    return best_hops, best_node, stops[:min(n_stops, max_stops)], n_stops, n_visited


# --------------------------------------------------------------------------------------------
# Value share by residual push
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)  # nogil: a batch runs it in several threads at once
def value_share(
    indptr, indices, edge, edge_value, node_cats, node_stop, start, max_hops, tol, n_cats,
    stamp, acc, generation,
):
    """Share of ``start``'s value that reaches each category within ``max_hops`` (haircut rule).

    Mass 1.0 starts at ``start``. At each of ``max_hops`` levels every node holding mass ``m``
    passes it on to its neighbours in the walked direction, to neighbour ``v`` the part
    ``m * w(u, v) / W(u)`` where ``w`` is ``edge_value`` of the edge and ``W(u)`` the sum of ``w``
    over the row (only positive values count; NaN and values <= 0 weigh nothing). Where the
    pushed part lands:

    - a labelled node other than the start: absorbed, credited to each of its categories
      (categories overlap, so shares may add up to more than 1) and to ``absorbed_labelled``;
    - a stop node other than the start: absorbed, ``absorbed_stop``;
    - any other node, or the start itself: carried to the next level. The start is the origin
      and is never terminal, whatever its own label: its share is the flow of its
      counterparties (a labelled start does not get share 1.0 for its own categories), and mass
      that cycles back to it moves on like at an unlabelled node;
    - a part smaller than ``tol`` is dropped and counted in ``unattributed``, as is mass at a
      node with no positive-valued edge in this direction and mass still in flight after
      ``max_hops`` levels.

    So ``absorbed_labelled + absorbed_stop + unattributed == 1`` up to rounding (0 if the start
    has no positive-valued edge: then everything is ``unattributed``). Every carried part is at
    least ``tol``, so a level holds at most ``1 / tol`` nodes: the work is bounded by
    ``max_hops / tol`` rows whatever the graph's size.

    Parameters
    ----------
    indptr : int64[N+1]
    indices : int32[E]
    edge : int32[E] or int64[E]
    edge_value : float64[n_edges]
    node_cats : uint64[N]
    node_stop : uint8[N]
    start : int
    max_hops : int
    tol : float
        Smallest part carried (>= 0; 0 = exact, work then bounded by the graph only).
    n_cats : int
        Number of category bits reported (bits >= n_cats are ignored).
    stamp : int32[N]
        Scratch; must not contain ``generation .. generation + max_hops`` on entry.
    acc : float64[N]
        Scratch for the mass gathered at each node of the next level.
    generation : int
        First stamp value this call may use.

    Returns
    -------
    share : float64[n_cats]
        Fraction of the start's value absorbed at labelled nodes of each category.
    absorbed_labelled : float
        Fraction absorbed at labelled nodes (each part counted once).
    absorbed_stop : float
        Fraction absorbed at stop nodes.
    unattributed : float
        Fraction dropped below ``tol``, stuck at dead ends or still in flight after max_hops.
    start_total : float
        ``W(start)``: the start's total value in this direction (multiply shares by it to get
        values).
    next_generation : int
        First stamp value not used by this call.
    """
    n = indptr.shape[0] - 1
    share = np.zeros(n_cats, dtype=np.float64)
    absorbed_labelled = 0.0
    absorbed_stop = 0.0
    unattributed = 0.0
    if tol > 0.0:
        cap = min(n, int(1.0 / tol) + 16)
    else:
        cap = n
    cur_nodes = np.empty(cap, dtype=np.int32)
    cur_mass = np.empty(cap, dtype=np.float64)
    nxt_nodes = np.empty(cap, dtype=np.int32)

    start_total = 0.0
    for k in range(indptr[start], indptr[start + 1]):
        w = edge_value[edge[k]]
        if w > 0.0:
            start_total += w

    cur_nodes[0] = start
    cur_mass[0] = 1.0
    n_cur = 1
    gen = generation
    for _hop in range(max_hops):
        if n_cur == 0:
            break
        n_nxt = 0
        for i in range(n_cur):
            u = cur_nodes[i]
            m = cur_mass[i]
            total = 0.0
            for k in range(indptr[u], indptr[u + 1]):
                w = edge_value[edge[k]]
                if w > 0.0:
                    total += w
            if not total > 0.0:
                unattributed += m
                continue
            scale = m / total
            for k in range(indptr[u], indptr[u + 1]):
                w = edge_value[edge[k]]
                if not w > 0.0:
                    continue
                part = w * scale
                if part < tol:
                    unattributed += part
                    continue
                v = indices[k]
                c = node_cats[v]
                if v != start and c != _ZERO:
                    absorbed_labelled += part
                    for b in range(n_cats):
                        if (c >> np.uint64(b)) & _ONE:
                            share[b] += part
                elif v != start and node_stop[v] != 0:
                    absorbed_stop += part
                else:
                    if stamp[v] != gen:
                        if n_nxt == cap:  # cannot happen for tol > 0 (see Notes); kept safe
                            unattributed += part
                            continue
                        stamp[v] = gen
                        acc[v] = 0.0
                        nxt_nodes[n_nxt] = v
                        n_nxt += 1
                    acc[v] += part
        for j in range(n_nxt):
            v = nxt_nodes[j]
            cur_nodes[j] = v
            cur_mass[j] = acc[v]
        n_cur = n_nxt
        gen += 1
    for i in range(n_cur):
        unattributed += cur_mass[i]
    return share, absorbed_labelled, absorbed_stop, unattributed, start_total, gen


# --------------------------------------------------------------------------------------------
# Multi-source hops (batch)
# --------------------------------------------------------------------------------------------


@njit(inline="always", cache=True)
def _record_hops(hops, a, new, level, n_cats):
    """Write ``level`` into ``hops[a, b]`` for each bit ``b < n_cats`` set in ``new``.

    Branch-free over the row (the bits are unpredictable; a branch per bit costs more than
    rewriting the row's bytes).
    """
    lv = np.int64(level)
    for b in range(n_cats):
        bit = np.int64((new >> np.uint64(b)) & _ONE)
        h = np.int64(hops[a, b])
        hops[a, b] = h + (lv - h) * bit


@njit(inline="always", cache=True)
def _settle(a, gathered, passes, found, nxt, hops, level, n_cats):
    """Turn the bits gathered at node ``a`` into this level's result.

    New bits (gathered and not yet found) get hop count ``level``; they become ``a``'s
    propagating bits for the next level if ``a`` passes bits on (``passes[a] == 1``: unlabelled,
    not a stop node). Returns 1 if ``a`` is on the next frontier.
    """
    new = gathered & ~np.uint64(found[a])
    if new != _ZERO:
        found[a] = np.uint64(found[a]) | new
        _record_hops(hops, a, new, level, n_cats)
        if passes[a]:
            nxt[a] = new
            return 1
    nxt[a] = 0
    return 0


@njit(inline="always", cache=True)
def _pull_one(a, indptr, indices, passes, prop, found, nxt, hops, level, n_cats, live_bits):
    """One node's pull step (shared by the serial and the parallel level kernels).

    Inlined at the IR level: a real call per node would pass a dozen arrays and touch their
    reference counts, which two threads then fight over (measured 5x slower).
    """
    missing = live_bits & ~np.uint64(found[a])
    acc = _ZERO
    if missing != _ZERO:
        for k in range(indptr[a], indptr[a + 1]):
            acc |= np.uint64(prop[indices[k]])
            if (acc & missing) == missing:
                break
    return _settle(a, acc & missing, passes, found, nxt, hops, level, n_cats)


@njit(cache=True)
def _pull_level_serial(indptr, indices, passes, prop, found, nxt, hops, level, n_cats,
                       live_bits):
    """Pull level over all nodes, serial (same result as the parallel one); next frontier size."""
    count = 0
    for a in range(indptr.shape[0] - 1):
        count += _pull_one(a, indptr, indices, passes, prop, found, nxt, hops, level, n_cats,
                           live_bits)
    return count


@njit(parallel=True, cache=True)
def _pull_level_parallel(indptr, indices, passes, prop, found, nxt, hops, level, n_cats,
                         live_bits):
    """Pull level over all nodes with prange; each node writes only its own entries."""
    count = 0
    for a in prange(indptr.shape[0] - 1):
        count += _pull_one(a, indptr, indices, passes, prop, found, nxt, hops, level, n_cats,
                           live_bits)
    return count


@njit(cache=True)
def _lower_bound(indices, lo, hi, value):
    """First position in ``indices[lo:hi]`` (ascending) holding ``value`` or more."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(parallel=True, cache=True)
def _push_level_parallel(rev_indptr, rev_indices, frontier, n_front, prop, nxt, n_parts):
    """Push level split by target range: part ``t`` applies only the pushes into its own slice
    of the nodes (found by binary search in each ascending row), so every target has exactly
    one writer: no races, no atomics, same result for any thread count."""
    n = nxt.shape[0]
    for t in prange(n_parts):
        first = (n * t) // n_parts
        last = (n * (t + 1)) // n_parts
        for i in range(n_front):
            v = frontier[i]
            bits = prop[v]
            k = _lower_bound(rev_indices, rev_indptr[v], rev_indptr[v + 1], first)
            end = rev_indptr[v + 1]
            while k < end and rev_indices[k] < last:
                nxt[rev_indices[k]] |= bits
                k += 1


@njit(parallel=True, cache=True)
def _settle_sweep(passes, found, nxt, hops, level, n_cats):
    """Settle every node holding gathered bits (after a push), nodes in parallel."""
    count = 0
    for a in prange(nxt.shape[0]):
        if nxt[a] != 0:
            count += _settle(a, np.uint64(nxt[a]), passes, found, nxt, hops, level, n_cats)
    return count


@njit(parallel=True, cache=True)
def _level_zero(node_cats, node_stop, cat_mask, hops, found, prop, passes):
    """Level 0 of ``multi_source_hops``: labelled nodes are 0 hops from their own categories."""
    n_cats = hops.shape[1]
    for a in prange(node_cats.shape[0]):
        c = node_cats[a] & cat_mask
        found[a] = c
        prop[a] = c
        passes[a] = 1 if node_cats[a] == _ZERO and node_stop[a] == 0 else 0
        for b in range(n_cats):
            hops[a, b] = 0 if (c >> np.uint64(b)) & _ONE else NO_HOPS


@njit(cache=True)
def _collect_frontier(bits, frontier):
    """Ids of the nodes with non-zero ``bits``, ascending, into ``frontier``; their count."""
    n_front = 0
    for a in range(bits.shape[0]):
        if bits[a] != 0:
            frontier[n_front] = a
            n_front += 1
    return n_front


@njit(cache=True)
def _frontier_cost(rev_indptr, frontier, n_front, prop):
    """``(push_cost, live_bits)`` of a frontier: its reverse-degree sum and the OR of its bits.

    Only bits on the frontier can be found at the next level (``live_bits``).
    """
    push_cost = 0
    live_bits = _ZERO
    for i in range(n_front):
        v = frontier[i]
        push_cost += rev_indptr[v + 1] - rev_indptr[v]
        live_bits |= np.uint64(prop[v])
    return push_cost, live_bits


@njit(cache=True)
def _clear_prop(frontier, n_front, prop):
    """Zero the propagating bits of the frontier (they have been passed on)."""
    for i in range(n_front):
        prop[frontier[i]] = 0


@njit(cache=True)
def _push_level_small(rev_indptr, rev_indices, frontier, n_front, prop, nxt, touched, passes,
                      found, hops, level, n_cats):
    """Push level for a small frontier, serial: visit only the touched nodes.

    ``nxt`` is all zero on entry; it gathers the incoming bits of the touched nodes, which are
    listed in ``touched``. Writes the next frontier into ``frontier``; returns its size.
    """
    n_touched = 0
    for i in range(n_front):
        v = frontier[i]
        bits = prop[v]
        for k in range(rev_indptr[v], rev_indptr[v + 1]):
            a = rev_indices[k]
            if nxt[a] == 0:
                touched[n_touched] = a
                n_touched += 1
            nxt[a] |= bits
    for i in range(n_front):
        prop[frontier[i]] = 0
    n_next = 0
    for i in range(n_touched):
        a = touched[i]
        if _settle(a, np.uint64(nxt[a]), passes, found, nxt, hops, level, n_cats):
            frontier[n_next] = a
            n_next += 1
    return n_next


@njit(cache=True)
def _push_level_serial(rev_indptr, rev_indices, frontier, n_front, prop, nxt, passes, found,
                       hops, level, n_cats):
    """Push level for a large frontier, serial: a branch-free scatter, then one sweep.

    ``nxt`` is all zero on entry. Writes the next frontier into ``frontier``; returns its size.
    """
    for i in range(n_front):
        v = frontier[i]
        bits = prop[v]
        for k in range(rev_indptr[v], rev_indptr[v + 1]):
            nxt[rev_indices[k]] |= bits
    for i in range(n_front):
        prop[frontier[i]] = 0
    n_next = 0
    for a in range(nxt.shape[0]):
        if nxt[a] != 0 and _settle(a, np.uint64(nxt[a]), passes, found, nxt, hops, level,
                                   n_cats):
            frontier[n_next] = a
            n_next += 1
    return n_next


def multi_source_hops(indptr, indices, rev_indptr, rev_indices, node_cats, node_stop, max_hops,
                      n_cats, parallel, n_threads, push_ratio, bits_witness, level_stats):
    """Hops from every node to the nearest labelled node of every category, all at once.

    ``hops[a, c]`` is what :func:`bfs_nearest` started at ``a`` in the same adjacency reports for
    category ``c``: the fewest hops of a path ``a -> ... -> t`` along ``indptr/indices`` with
    ``t`` labelled ``c`` and every node strictly between ``a`` and ``t`` unlabelled and not a stop
    node (``a`` itself may be anything: labelled nodes get 0 for their own categories and real
    distances for the others). With the out-CSR this is direction "out" (money from ``a``
    reaches ``t``), with the in-CSR direction "in".

    Bit-parallel level-synchronous BFS from all labelled nodes at once. Level ``L`` finds the
    bits a node gets at distance exactly ``L``: the OR of its neighbours' "propagating" bits,
    minus what it already has. Propagating bits are a labelled node's own categories (level 0
    only) and the bits an unlabelled non-stop node found at the previous level; labelled and
    stop nodes never pass anything else on. A level runs in one of two equivalent ways:

    - pull (dense frontier): every node ORs its neighbours' bits, ``prange`` over nodes, each
      node writing only its own entries, stopping early once it has all the live bits it lacks;
    - push (sparse frontier): each frontier node ORs its bits into its predecessors, found
      through the reverse adjacency ``rev_indptr/rev_indices``; in parallel, each thread
      applies only the pushes into its own slice of the nodes (one writer per node).

    OR is commutative, so both give the same bits whatever the thread count: the result is
    identical serial or parallel, push or pull.

    A plain Python function (see the module docstring): the level loop runs at most
    ``max_hops`` times, each level one to four kernel calls, so its overhead is microseconds.

    Parameters
    ----------
    indptr, indices : int64[N+1], int32[E]
        Adjacency walked (out-CSR for "out", in-CSR for "in").
    rev_indptr, rev_indices : int64[N+1], int32[E]
        The reverse adjacency (in-CSR for "out", out-CSR for "in").
    node_cats : uint64[N]
    node_stop : uint8[N]
    max_hops : int
        0 .. 254.
    n_cats : int
        Number of categories (columns of ``hops``), 1 .. 64; bits >= n_cats are ignored.
    parallel : bool
        Run pull levels and large push levels in parallel.
    n_threads : int
        Parts of a parallel push (numba's thread count). Speed only.
    push_ratio : float
        A level pushes when the frontier's reverse degree sum is below ``E / push_ratio``
        (e.g. 2.0; use ``inf`` to always pull and ``0`` to always push). Speed only.
    bits_witness : uint8[:], uint16[:], uint32[:] or uint64[:]
        Its dtype stores the per-node bit sets: the smallest unsigned type with ``n_cats`` bits
        (uint8 for up to 8 categories keeps the randomly read array small enough for the CPU
        cache: about 5x faster than uint64 at 10M nodes). Speed only.
    level_stats : int64[max_hops + 1, 3]
        Out: per level ``L`` >= 1, ``(1 if pushed else 0, frontier size, frontier reverse-degree
        sum)`` for the level that computed distance ``L``; rows of levels not run are left as
        they were. Row 0 gets ``(0, number of labelled nodes, 0)``.

    Returns
    -------
    hops : uint8[N, n_cats]
        Hop count, ``NO_HOPS`` (255) when no labelled node of that category is within
        ``max_hops``.
    """
    indptr = kernel_input(indptr, np.int64)
    indices = kernel_input(indices, np.int32)
    rev_indptr = kernel_input(rev_indptr, np.int64)
    rev_indices = kernel_input(rev_indices, np.int32)
    node_cats = kernel_input(node_cats, np.uint64)
    node_stop = kernel_input(node_stop, np.uint8)
    n_cats = int(n_cats)
    n = indptr.shape[0] - 1
    m = indices.shape[0]
    if n_cats >= 64:
        cat_mask = ~_ZERO
    else:
        cat_mask = (_ONE << np.uint64(n_cats)) - _ONE
    bits_dtype = bits_witness.dtype
    hops = np.empty((n, n_cats), dtype=np.uint8)
    found = np.empty(n, dtype=bits_dtype)
    prop = np.zeros(n, dtype=bits_dtype)
    nxt = np.zeros(n, dtype=bits_dtype)
    passes = np.empty(n, dtype=np.uint8)
    frontier = np.empty(n, dtype=np.int32)
    _level_zero(node_cats, node_stop, cat_mask, hops, found, prop, passes)
    n_front = _collect_frontier(found, frontier)
    level_stats[0, 0] = 0
    level_stats[0, 1] = n_front
    level_stats[0, 2] = 0

    touched = None
    for level in range(1, int(max_hops) + 1):
        if n_front == 0:
            break
        push_cost, live_bits = _frontier_cost(rev_indptr, frontier, n_front, prop)
        live_bits = np.uint64(live_bits)  # numba returns a Python int; keep the kernel's type
        level_stats[level, 1] = n_front
        level_stats[level, 2] = push_cost
        if push_cost * push_ratio < m:
            level_stats[level, 0] = 1
            if push_cost * 16 < n:
                # small: keep a list of touched nodes and visit only them
                if touched is None:
                    touched = np.empty(n, dtype=np.int32)
                n_front = _push_level_small(rev_indptr, rev_indices, frontier, n_front, prop,
                                            nxt, touched, passes, found, hops, level, n_cats)
            elif parallel:
                # large, parallel: split by target range, then settle all nodes in parallel
                _push_level_parallel(rev_indptr, rev_indices, frontier, n_front, prop, nxt,
                                     max(1, int(n_threads)))
                _clear_prop(frontier, n_front, prop)
                _settle_sweep(passes, found, nxt, hops, level, n_cats)
                n_front = _collect_frontier(nxt, frontier)
            else:
                n_front = _push_level_serial(rev_indptr, rev_indices, frontier, n_front, prop,
                                             nxt, passes, found, hops, level, n_cats)
        else:
            level_stats[level, 0] = 0
            if parallel:
                _pull_level_parallel(indptr, indices, passes, prop, found, nxt, hops, level,
                                     n_cats, live_bits)
            else:
                _pull_level_serial(indptr, indices, passes, prop, found, nxt, hops, level,
                                   n_cats, live_bits)
            _clear_prop(frontier, n_front, prop)
            n_front = _collect_frontier(nxt, frontier)
        prop, nxt = nxt, prop
    return hops


# every importer gets the kernels cached where exposure.walk.cache says, compiles serialised
from exposure.walk.cache import set_up_kernel_cache  # noqa: E402

set_up_kernel_cache(sys.modules[__name__])
