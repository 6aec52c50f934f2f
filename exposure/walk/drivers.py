"""Typed drivers of the walk kernels: checks, scratch ownership, paths, small result values.

The kernels in :mod:`exposure.walk.kernels` trust their inputs; everything here checks dtypes,
contiguity and id ranges once, owns the scratch arrays (a :class:`Walker` is built once per
:class:`~exposure.graph.csr.Graph` and reused for many screens), chooses serial or parallel,
and turns parent pointers into evidence paths in the order the money moved.

Directions: ``out`` (destination of funds) follows edges ``u -> v`` forward, ``in`` (source of
funds) follows them backward. See DESIGN.md section 6 and the kernel docstrings for the exact
semantics (terminal labelled nodes, stop nodes, hop 0 and 1, tie rule, share definition).

Compiled code: a :class:`Walker` runs the ahead-of-time build of its two kernels when there is
one (:mod:`exposure.walk.aot`: no numba in the process), else the JIT kernels; the batch and the
CSR build always run the JIT kernels, cached as :mod:`exposure.walk.cache` says. This module
imports numba only when a JIT kernel is first needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from exposure.graph.csr import Graph
from exposure.walk import aot
from exposure.walk.layout import MAX_CATS, kernel_input

DIRECTIONS = ("in", "out")
DEFAULT_MAX_HOPS = 6
DEFAULT_TOL = 1e-4
DEFAULT_MAX_STOPS = 64
#: Below this many edges the batch kernel runs serial (thread start-up would dominate).
PARALLEL_MIN_EDGES = 1_000_000
#: A batch level pushes (serial, sparse) when its frontier's degree sum is below E / this.
DEFAULT_PUSH_RATIO = 2.0
_GEN_LIMIT = 2**31 - 1


def _jit() -> ModuleType:
    """The JIT kernels (imports numba and sets up their cache on first use)."""
    from exposure.walk import kernels

    return kernels


def _threads() -> int:
    import numba

    return numba.get_num_threads()


@dataclass(frozen=True)
class Nearest:
    """The nearest labelled node of one category in one direction, with one shortest path.

    Attributes
    ----------
    category : str
    direction : str
        ``"in"`` or ``"out"``.
    hops : int or None
        Fewest hops (0 = the screened node itself is labelled ``category``, 1 = a direct
        counterparty); None if none within ``max_hops``.
    node : int or None
        The labelled node reached (first discovered in BFS order among the nearest).
    path_nodes : tuple of int
        ``hops + 1`` node ids in the order the money moved: for ``out`` from the screened node to
        ``node``, for ``in`` from ``node`` to the screened node. Empty if ``hops`` is None.
    path_edges : tuple of int
        ``hops`` edge ids; ``path_edges[i]`` is the edge ``path_nodes[i] -> path_nodes[i+1]``.
    """

    category: str
    direction: str
    hops: int | None
    node: int | None
    path_nodes: tuple[int, ...]
    path_edges: tuple[int, ...]


@dataclass(frozen=True)
class Walk:
    """The result of one bounded BFS: per category the nearest hit, and the stop nodes met.

    Attributes
    ----------
    start : int
    direction : str
    max_hops : int
    nearest : tuple of Nearest
        One per requested category, in the order requested.
    stop_nodes : tuple of int
        Stop nodes met, in BFS order, at most ``max_stops`` of them.
    n_stop_nodes : int
        How many distinct stop nodes were met (may exceed ``len(stop_nodes)``).
    n_visited : int
        Distinct nodes visited (a measure of the work done).
    """

    start: int
    direction: str
    max_hops: int
    nearest: tuple[Nearest, ...]
    stop_nodes: tuple[int, ...]
    n_stop_nodes: int
    n_visited: int

    def for_category(self, category: str) -> Nearest:
        """The :class:`Nearest` of ``category`` (KeyError if it was not requested)."""
        for item in self.nearest:
            if item.category == category:
                return item
        raise KeyError(category)


@dataclass(frozen=True)
class Shares:
    """Value share of one node in one direction (haircut propagation, see ``value_share``).

    Attributes
    ----------
    start : int
    direction : str
    max_hops : int
    tol : float
    categories : tuple of str
    share : tuple of float
        Per category, the fraction of ``total_value`` that reaches it (categories overlap).
    value : tuple of float
        ``share * total_value`` per category, in the graph's valuation unit.
    total_value : float
        The start's total edge value in this direction (inbound for ``in``, outbound for ``out``).
    absorbed_labelled, absorbed_stop, unattributed : float
        Fractions; they add up to 1 (0 if ``total_value`` is 0).
    """

    start: int
    direction: str
    max_hops: int
    tol: float
    categories: tuple[str, ...]
    share: tuple[float, ...]
    value: tuple[float, ...]
    total_value: float
    absorbed_labelled: float
    absorbed_stop: float
    unattributed: float

    def for_category(self, category: str) -> tuple[float, float]:
        """``(share, value)`` of ``category`` (KeyError if absent)."""
        try:
            i = self.categories.index(category)
        except ValueError:
            raise KeyError(category) from None
        return self.share[i], self.value[i]


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------


def _require(arr: np.ndarray, name: str, dtypes: tuple[type, ...], length: int | None) -> None:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype not in [np.dtype(d) for d in dtypes]:
        wanted = " or ".join(np.dtype(d).name for d in dtypes)
        raise TypeError(f"{name} must be {wanted}, got {arr.dtype}")
    if arr.ndim != 1 or not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be a 1-d C-contiguous array")
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name} must have {length} entries, got {arr.shape[0]}")


def check_csr(indptr: np.ndarray, indices: np.ndarray, edge: np.ndarray, n_nodes: int,
              n_edges: int, name: str = "csr", check_ids: bool = True) -> None:
    """Check one CSR triple: dtypes, shapes, contiguity and (optionally, O(E)) ids.

    With ``check_ids``: ``indptr`` runs from 0 to E without decreasing, ids are in range and
    every row is strictly ascending (the tie rule and the parallel push rely on it; it also
    rules out duplicate edges). Raises ``TypeError`` for a wrong dtype and ``ValueError`` for a
    wrong shape, range or order.
    """
    _require(indptr, f"{name} indptr", (np.int64,), n_nodes + 1)
    _require(indices, f"{name} indices", (np.int32,), None)
    _require(edge, f"{name} edge", (np.int32, np.int64), indices.shape[0])
    if not check_ids:
        return
    if indptr[0] != 0 or indptr[-1] != indices.shape[0]:
        raise ValueError(f"{name} indptr must start at 0 and end at {indices.shape[0]}")
    if n_nodes and np.any(np.diff(indptr) < 0):
        raise ValueError(f"{name} indptr must be non-decreasing")
    if indices.shape[0]:
        if int(indices.min()) < 0 or int(indices.max()) >= n_nodes:
            raise ValueError(f"{name} indices must be node ids in [0, {n_nodes})")
        if int(edge.min()) < 0 or int(edge.max()) >= n_edges:
            raise ValueError(f"{name} edge ids must be in [0, {n_edges})")
        if not _jit().rows_ascending(kernel_input(indptr, np.int64),
                                     kernel_input(indices, np.int32)):
            raise ValueError(f"{name} rows must hold strictly ascending neighbour ids")


def check_graph(graph: Graph, check_ids: bool = True) -> None:
    """Check every array of ``graph`` against the layout of :mod:`exposure.graph.csr`."""
    n, e = graph.n_nodes, graph.n_edges
    check_csr(graph.out_indptr, graph.out_indices, graph.out_edge, n, e, "out", check_ids)
    check_csr(graph.in_indptr, graph.in_indices, graph.in_edge, n, e, "in", check_ids)
    if graph.in_indices.shape[0] != e:
        raise ValueError("out and in CSR must hold the same number of edges")
    _require(graph.edge_value, "edge_value", (np.float64,), e)
    _require(graph.edge_first, "edge_first", (np.int64,), e)
    _require(graph.edge_last, "edge_last", (np.int64,), e)
    _require(graph.node_cats, "node_cats", (np.uint64,), n)
    _require(graph.node_stop, "node_stop", (np.uint8,), n)
    if len(graph.categories) > MAX_CATS:
        raise ValueError(f"at most {MAX_CATS} categories, got {len(graph.categories)}")


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'in' or 'out', got {direction!r}")


def _check_max_hops(max_hops: int, limit: int = 254) -> int:
    if isinstance(max_hops, bool) or not isinstance(max_hops, (int, np.integer)):
        raise TypeError(f"max_hops must be an int, got {type(max_hops).__name__}")
    if not 0 <= max_hops <= limit:
        raise ValueError(f"max_hops must be in [0, {limit}], got {max_hops}")
    return int(max_hops)


# --------------------------------------------------------------------------------------------
# CSR build and batch hops
# --------------------------------------------------------------------------------------------


def build_csr(n_nodes: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, ...]:
    """CSR of ``src[k] -> dst[k]`` by the stable counting sort, after checking the ids.

    Parameters
    ----------
    n_nodes : int
    src, dst : int32[E] (other integer dtypes are converted)

    Returns
    -------
    indptr : int64[n_nodes+1]
    indices : int32[E]
    edge : int32[E] (int64[E] when E >= 2**31)
        Input position of each CSR entry.
    """
    src = np.ascontiguousarray(src, dtype=np.int32)
    dst = np.ascontiguousarray(dst, dtype=np.int32)
    if src.ndim != 1 or src.shape != dst.shape:
        raise ValueError("src and dst must be 1-d arrays of the same length")
    if not 0 <= n_nodes < 2**31:
        raise ValueError(f"n_nodes must be in [0, 2**31), got {n_nodes}")
    for name, ids in (("src", src), ("dst", dst)):
        if ids.shape[0] and (int(ids.min()) < 0 or int(ids.max()) >= n_nodes):
            raise ValueError(f"{name} must hold node ids in [0, {n_nodes})")
    witness = np.zeros(1, dtype=np.int64 if src.shape[0] >= 2**31 else np.int32)
    return _jit().counting_sort_csr(np.int64(n_nodes), src, dst, witness)


def batch_hops(graph: Graph, direction: str, max_hops: int = DEFAULT_MAX_HOPS,
               parallel: bool | None = None, push_ratio: float = DEFAULT_PUSH_RATIO,
               check_ids: bool = True, level_stats: np.ndarray | None = None) -> np.ndarray:
    """Hops from every node to the nearest labelled node of every category (one direction).

    ``hops[a, i]`` equals ``Walker(graph).nearest(a, direction, max_hops)`` for
    ``graph.categories[i]``; see ``kernels.multi_source_hops``.

    Parameters
    ----------
    graph : Graph
    direction : {"in", "out"}
    max_hops : int
        0 .. 254.
    parallel : bool or None
        None: parallel when the graph has at least ``PARALLEL_MIN_EDGES`` edges and numba has
        more than one thread. The result does not depend on it.
    push_ratio : float
        See ``kernels.multi_source_hops``; affects speed only.
    check_ids : bool
        Run the O(E) id-range checks first.
    level_stats : int64[max_hops + 1, 3], optional
        Filled with what each level did (see ``kernels.multi_source_hops``), for benchmarks.

    Returns
    -------
    hops : uint8[n_nodes, len(graph.categories)]
        ``kernels.NO_HOPS`` (255) where nothing is within ``max_hops``.
    """
    _check_direction(direction)
    max_hops = _check_max_hops(max_hops)
    check_graph(graph, check_ids)
    n_cats = len(graph.categories)
    if n_cats == 0:
        return np.zeros((graph.n_nodes, 0), dtype=np.uint8)
    if parallel is None:
        parallel = graph.n_edges >= PARALLEL_MIN_EDGES and _threads() > 1
    indptr, indices, _ = graph.adjacency(direction)
    rev_indptr, rev_indices, _ = graph.adjacency("in" if direction == "out" else "out")
    if level_stats is None:
        level_stats = np.zeros((max_hops + 1, 3), dtype=np.int64)
    _require(level_stats.reshape(-1), "level_stats", (np.int64,), 3 * (max_hops + 1))
    witness = np.zeros(1, dtype=bits_dtype(n_cats))
    return _jit().multi_source_hops(indptr, indices, rev_indptr, rev_indices, graph.node_cats,
                                    graph.node_stop, max_hops, n_cats, bool(parallel),
                                    _threads(), float(push_ratio), witness, level_stats)


def bits_dtype(n_cats: int) -> type:
    """The smallest unsigned integer type holding ``n_cats`` category bits."""
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if n_cats <= np.iinfo(dtype).bits:
            return dtype
    raise ValueError(f"at most 64 categories, got {n_cats}")


# --------------------------------------------------------------------------------------------
# one-node walks
# --------------------------------------------------------------------------------------------


class Walker:
    """Bounded walks from single nodes of one graph, reusing scratch arrays across calls.

    Building one checks the graph (``check_ids`` runs the O(E) id-range checks) and allocates
    about ``16 * N`` bytes of scratch (plus ``8 * N`` on the first :meth:`shares`). A query then
    costs O(nodes visited), not O(N). Not thread-safe: use one Walker per thread.

    Parameters
    ----------
    graph : Graph
    max_stops : int
        How many stop nodes a :class:`Walk` lists (the count is exact).
    check_ids : bool
    compiled : bool
        Run the ahead-of-time kernels (:mod:`exposure.walk.aot`) when they are built; False:
        always the JIT kernels. The answers are the same either way.
    """

    def __init__(self, graph: Graph, max_stops: int = DEFAULT_MAX_STOPS,
                 check_ids: bool = True, compiled: bool = True) -> None:
        check_graph(graph, check_ids)
        self.graph = graph
        self.max_stops = int(max_stops)
        n = graph.n_nodes
        self._stamp = np.zeros(n, dtype=np.int32)
        self._parent = np.empty(n, dtype=np.int32)
        self._parent_edge = np.empty(n, dtype=graph.out_edge.dtype)
        self._queue = np.empty(n, dtype=np.int32)
        self._acc: np.ndarray | None = None
        self._generation = 0
        self._all_bits = tuple(range(len(graph.categories)))
        # what the kernels read, as read-only views (one compiled signature, see kernels)
        self._adjacency = {
            d: tuple(kernel_input(a, a.dtype) for a in graph.adjacency(d))
            for d in DIRECTIONS
        }
        self._edge_value = kernel_input(graph.edge_value, np.float64)
        self._node_cats = kernel_input(graph.node_cats, np.uint64)
        self._node_stop = kernel_input(graph.node_stop, np.uint8)
        # the ahead-of-time build of the two kernels if there is one (no numba), else the JIT
        compiled = aot.load() if compiled else None
        if compiled is not None:
            suffix = "e64" if graph.out_edge.dtype == np.int64 else "e32"
            self._bfs_nearest = getattr(compiled, f"bfs_nearest_{suffix}")
            self._value_share = getattr(compiled, f"value_share_{suffix}")
        else:
            self._bfs_nearest = _jit().bfs_nearest
            self._value_share = _jit().value_share
        #: Whether the ahead-of-time kernels run this walker's walks.
        self.compiled = compiled is not None

    def _generations(self, count: int) -> int:
        """Reserve ``count`` fresh stamp values; returns the first."""
        if self._generation + count >= _GEN_LIMIT:
            self._stamp.fill(0)
            self._generation = 0
        first = self._generation + 1
        self._generation += count
        return first

    def _start(self, start: int) -> int:
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)):
            raise TypeError(f"start must be an int node id, got {type(start).__name__}")
        if not 0 <= start < self.graph.n_nodes:
            raise ValueError(f"start must be a node id in [0, {self.graph.n_nodes}), got {start}")
        return int(start)

    def _bits(self, categories: Iterable[str] | None) -> tuple[tuple[str, ...], tuple[int, ...]]:
        if categories is None:
            return self.graph.categories, self._all_bits
        names = tuple(categories)
        return names, tuple(self.graph.category_bit(c) for c in names)

    def nearest(self, start: int, direction: str, max_hops: int = DEFAULT_MAX_HOPS,
                categories: Iterable[str] | None = None) -> Walk:
        """Nearest labelled node of each category from ``start`` in ``direction``, with paths.

        Parameters
        ----------
        start : int
            Node id.
        direction : {"in", "out"}
        max_hops : int
            0 .. 32767.
        categories : iterable of str, optional
            Default: all of ``graph.categories``. The walk stops as soon as all are found.

        Returns
        -------
        Walk
        """
        start = self._start(start)
        _check_direction(direction)
        max_hops = _check_max_hops(max_hops, 32767)
        names, bits = self._bits(categories)
        want = 0
        for b in bits:
            want |= 1 << b
        indptr, indices, edge = self._adjacency[direction]
        gen = self._generations(1)
        best_hops, best_node, stops, n_stops, n_visited = self._bfs_nearest(
            indptr, indices, edge, self._node_cats, self._node_stop, start, max_hops,
            np.uint64(want), self._stamp, self._parent, self._parent_edge, self._queue, gen,
            self.max_stops,
        )
        nearest = tuple(self._nearest(name, b, direction, best_hops, best_node)
                        for name, b in zip(names, bits, strict=True))
        return Walk(start, direction, max_hops, nearest, tuple(int(s) for s in stops),
                    int(n_stops), int(n_visited))

    def _nearest(self, name: str, bit: int, direction: str, best_hops: np.ndarray,
                 best_node: np.ndarray) -> Nearest:
        hops = int(best_hops[bit])
        if hops < 0:
            return Nearest(name, direction, None, None, (), ())
        node = int(best_node[bit])
        nodes = [node]
        edges = []
        v = node
        for _ in range(hops):
            edges.append(int(self._parent_edge[v]))
            v = int(self._parent[v])
            nodes.append(v)
        # nodes run labelled -> start: that is the money's order for "in", reversed for "out"
        if direction == "out":
            nodes.reverse()
            edges.reverse()
        return Nearest(name, direction, hops, node, tuple(nodes), tuple(edges))

    def shares(self, start: int, direction: str, max_hops: int = DEFAULT_MAX_HOPS,
               tol: float = DEFAULT_TOL) -> Shares:
        """Value share of each category in ``start``'s flow in ``direction``.

        See ``kernels.value_share`` for the definition (haircut propagation, labelled and stop
        nodes absorb, the start itself is never terminal, parts below ``tol`` dropped).

        Parameters
        ----------
        start : int
        direction : {"in", "out"}
        max_hops : int
        tol : float
            >= 0; default 1e-4.

        Returns
        -------
        Shares
        """
        start = self._start(start)
        _check_direction(direction)
        max_hops = _check_max_hops(max_hops, 32767)
        tol = float(tol)
        if not tol >= 0.0:
            raise ValueError(f"tol must be >= 0, got {tol}")
        if self._acc is None:
            self._acc = np.empty(self.graph.n_nodes, dtype=np.float64)
        indptr, indices, edge = self._adjacency[direction]
        n_cats = len(self.graph.categories)
        gen = self._generations(max_hops + 1)
        share, lab, stop, unatt, total, _ = self._value_share(
            indptr, indices, edge, self._edge_value, self._node_cats, self._node_stop, start,
            max_hops, tol, n_cats, self._stamp, self._acc, gen,
        )
        shares = tuple(float(s) for s in share)
        return Shares(start, direction, max_hops, tol, self.graph.categories, shares,
                      tuple(s * float(total) for s in shares), float(total), float(lab),
                      float(stop), float(unatt))
