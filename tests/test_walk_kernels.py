"""The walk kernels and drivers, specified against oracles (plain-Python BFS, scipy, hand cases).

Semantics under test (DESIGN.md section 6): a direct counterparty is 1 hop, a labelled start is
0 hops for its own categories and is still expanded, other labelled nodes are terminal, stop
nodes are never expanded and are reported, ties go to the first node discovered in BFS order
(frontier in discovery order, rows in ascending id order), paths are listed in the order the
money moved.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.graph.csr import Graph
from exposure.walk import NO_HOPS, Walker, batch_hops, build_csr, kernels

CATS = ("mainland_exchange", "rwa", "sanction")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def make_graph(n: int, edges, values=None, cats=None, stops=(), categories=CATS) -> Graph:
    """A Graph of ``n`` nodes from ``(u, v)`` pairs; edge ids follow the sorted ``(u, v)`` order.

    ``values`` maps ``(u, v)`` to the edge value (default 1.0); ``cats`` maps a node to the
    category names it carries; ``stops`` lists stop nodes.
    """
    edges = sorted(set(edges))
    src = np.array([u for u, _ in edges], dtype=np.int32)
    dst = np.array([v for _, v in edges], dtype=np.int32)
    values = values or {}
    value = np.array([float(values.get(e, 1.0)) for e in edges], dtype=np.float64)
    node_cats = np.zeros(n, dtype=np.uint64)
    for node, names in (cats or {}).items():
        for name in names:
            node_cats[node] |= np.uint64(1 << categories.index(name))
    node_stop = np.zeros(n, dtype=np.uint8)
    for node in stops:
        node_stop[node] = 1
    out = build_csr(n, src, dst)
    inn = build_csr(n, dst, src)
    times = np.arange(len(edges), dtype=np.int64)
    return Graph("test", tuple(categories), *out, *inn, value, times, times, node_cats, node_stop)


def edge_pairs(graph: Graph) -> list[tuple[int, int]]:
    """``(u, v)`` of every edge id."""
    pairs = [None] * graph.n_edges
    for u in range(graph.n_nodes):
        for k in range(graph.out_indptr[u], graph.out_indptr[u + 1]):
            pairs[graph.out_edge[k]] = (u, int(graph.out_indices[k]))
    return pairs


def neighbours(graph: Graph, direction: str) -> list[list[tuple[int, int]]]:
    """Per node, ``(neighbour, edge id)`` in CSR order, from the arrays (the walked view)."""
    indptr, indices, edge = graph.adjacency(direction)
    return [[(int(indices[k]), int(edge[k])) for k in range(indptr[u], indptr[u + 1])]
            for u in range(graph.n_nodes)]


def reference_bfs(graph: Graph, start: int, direction: str, max_hops: int):
    """Plain BFS with the DESIGN.md section 6 rules, exhaustive (no early stop).

    Returns ``(best, stops)``: ``best[bit] = (hops, node)`` for the first labelled node of each
    category discovered in BFS order, and the stop nodes in discovery order.
    """
    adj = neighbours(graph, direction)
    cats = [int(c) for c in graph.node_cats]
    stop = [int(s) for s in graph.node_stop]
    best: dict[int, tuple[int, int]] = {}
    for bit in range(64):
        if cats[start] >> bit & 1:
            best[bit] = (0, start)
    seen = {start}
    stops: list[int] = []
    queue = deque([(start, 0)])
    while queue:
        u, d = queue.popleft()
        if d == max_hops:
            continue
        for v, _ in adj[u]:
            if v in seen:
                continue
            seen.add(v)
            if cats[v]:
                for bit in range(64):
                    if cats[v] >> bit & 1 and bit not in best:
                        best[bit] = (d + 1, v)
            elif stop[v]:
                stops.append(v)
            else:
                queue.append((v, d + 1))
    return best, stops


def reference_shares(graph: Graph, start: int, direction: str, max_hops: int, tol: float):
    """Level-by-level haircut propagation with dicts; returns (share, labelled, stop, unattributed)."""
    adj = neighbours(graph, direction)
    value = graph.edge_value
    n_cats = len(graph.categories)
    share = [0.0] * n_cats
    labelled = stopped = unattributed = 0.0
    mass = {start: 1.0}
    for _ in range(max_hops):
        nxt: dict[int, float] = {}
        for u, m in mass.items():
            total = sum(value[e] for _, e in adj[u] if value[e] > 0)
            if total <= 0:
                unattributed += m
                continue
            for v, e in adj[u]:
                if not value[e] > 0:
                    continue
                part = m * value[e] / total
                if part < tol:
                    unattributed += part
                elif v != start and graph.node_cats[v]:
                    labelled += part
                    for bit in range(n_cats):
                        if int(graph.node_cats[v]) >> bit & 1:
                            share[bit] += part
                elif v != start and graph.node_stop[v]:
                    stopped += part
                else:
                    nxt[v] = nxt.get(v, 0.0) + part
        mass = nxt
    unattributed += sum(mass.values())
    return share, labelled, stopped, unattributed


def assert_valid_path(graph: Graph, walk, item) -> None:
    """The path joins up, runs in the money's order, and passes only through transparent nodes."""
    pairs = edge_pairs(graph)
    nodes, edges = item.path_nodes, item.path_edges
    assert len(nodes) == item.hops + 1 and len(edges) == item.hops
    for i, e in enumerate(edges):
        assert pairs[e] == (nodes[i], nodes[i + 1])
    screened, labelled = (nodes[0], nodes[-1]) if walk.direction == "out" else (nodes[-1], nodes[0])
    assert screened == walk.start
    assert labelled == item.node
    bit = graph.category_bit(item.category)
    assert int(graph.node_cats[labelled]) >> bit & 1
    for middle in nodes[1:-1]:
        assert graph.node_cats[middle] == 0 and graph.node_stop[middle] == 0


@st.composite
def random_graphs(draw, max_nodes: int = 24):
    """Small random directed graphs with labels (3 categories, some nodes two) and stop nodes.

    Sizes, densities and label/stop rates are drawn; the rest comes from a drawn seed, so
    examples are dense enough to have long paths, ties and blocked routes.
    """
    n = draw(st.integers(1, max_nodes))
    density = draw(st.sampled_from([0.02, 0.06, 0.12, 0.25, 0.5]))
    p_label = draw(st.sampled_from([0.0, 0.1, 0.25]))
    p_stop = draw(st.sampled_from([0.0, 0.1, 0.25]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mask = rng.random((n, n)) < density
    np.fill_diagonal(mask, False)
    edges = [(int(u), int(v)) for u, v in zip(*np.nonzero(mask), strict=True)]
    values = {e: float(rng.choice([0.5, 1.0, 2.0, 3.0, 10.0])) for e in edges}
    cats = {}
    stops = []
    for node in range(n):
        r = rng.random()
        if r < p_label:
            k = 1 + int(rng.random() < 0.3)
            cats[node] = [CATS[i] for i in rng.choice(len(CATS), k, replace=False)]
        elif r < p_label + p_stop:
            stops.append(node)
    return make_graph(n, edges, values, cats, stops)


# --------------------------------------------------------------------------------------------
# CSR build
# --------------------------------------------------------------------------------------------


def test_counting_sort_csr_matches_a_stable_sort_and_records_input_positions():
    rng = np.random.default_rng(7)
    n, m = 50, 1000
    src = rng.integers(0, n, m).astype(np.int32)
    dst = rng.integers(0, n, m).astype(np.int32)
    indptr, indices, edge = build_csr(n, src, dst)
    order = np.argsort(src, kind="stable")
    assert indptr.dtype == np.int64 and indices.dtype == np.int32 and edge.dtype == np.int32
    np.testing.assert_array_equal(indptr, np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))]))
    np.testing.assert_array_equal(edge, order)
    np.testing.assert_array_equal(indices, dst[order])


def test_counting_sort_csr_rows_are_ascending_both_ways_when_input_is_sorted_by_pair():
    rng = np.random.default_rng(8)
    pairs = np.unique(rng.integers(0, 40, (600, 2)), axis=0)
    src, dst = pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int32)
    for a, b in ((src, dst), (dst, src)):
        indptr, indices, edge = build_csr(40, a, b)
        for u in range(40):
            row = indices[indptr[u]:indptr[u + 1]]
            assert np.all(np.diff(row) > 0)
            np.testing.assert_array_equal(a[edge[indptr[u]:indptr[u + 1]]], u)


def test_counting_sort_csr_handles_nodes_without_edges_and_empty_input():
    indptr, indices, edge = build_csr(3, np.array([], np.int32), np.array([], np.int32))
    np.testing.assert_array_equal(indptr, [0, 0, 0, 0])
    assert indices.shape == (0,) and edge.shape == (0,)


def test_build_csr_rejects_ids_out_of_range():
    with pytest.raises(ValueError, match=r"dst must hold node ids in \[0, 3\)"):
        build_csr(3, np.array([0], np.int32), np.array([3], np.int32))


# --------------------------------------------------------------------------------------------
# nearest: hand-made cases
# --------------------------------------------------------------------------------------------


def test_direct_counterparty_is_one_hop_and_chain_counts_each_transfer():
    g = make_graph(4, [(0, 1), (1, 2), (2, 3)], cats={1: ["rwa"], 3: ["sanction"]})
    walk = Walker(g).nearest(0, "out")
    assert walk.for_category("rwa").hops == 1
    # node 3 is only reachable through the labelled node 1: terminal, so not found
    assert walk.for_category("sanction").hops is None


def test_labelled_start_is_zero_hops_for_its_categories_and_is_still_expanded():
    g = make_graph(3, [(0, 1), (1, 2)], cats={0: ["rwa"], 2: ["sanction"]})
    walk = Walker(g).nearest(0, "out")
    rwa = walk.for_category("rwa")
    assert (rwa.hops, rwa.node, rwa.path_nodes, rwa.path_edges) == (0, 0, (0,), ())
    assert walk.for_category("sanction").hops == 2


def test_labelled_node_is_terminal_and_blocks_paths_through_it():
    # 0 -> 1 (exchange) -> 2 (sanction), and a longer clean route 0 -> 3 -> 4 -> 2
    g = make_graph(5, [(0, 1), (1, 2), (0, 3), (3, 4), (4, 2)],
                   cats={1: ["mainland_exchange"], 2: ["sanction"]})
    walk = Walker(g).nearest(0, "out")
    assert walk.for_category("sanction").hops == 3
    assert walk.for_category("sanction").path_nodes == (0, 3, 4, 2)


def test_stop_node_blocks_the_walk_and_is_reported():
    g = make_graph(4, [(0, 1), (1, 2), (0, 3)], cats={2: ["rwa"]}, stops=[1])
    walk = Walker(g).nearest(0, "out")
    assert walk.for_category("rwa").hops is None
    assert walk.stop_nodes == (1,) and walk.n_stop_nodes == 1


def test_stop_node_as_start_is_expanded():
    g = make_graph(2, [(0, 1)], cats={1: ["rwa"]}, stops=[0])
    assert Walker(g).nearest(0, "out").for_category("rwa").hops == 1


def test_diamond_tie_goes_to_the_first_node_discovered_in_bfs_order():
    # 0 -> {1, 2} -> {3, 4}, both 3 and 4 labelled rwa at 2 hops; 1 is scanned first (lower id)
    # and reaches 4 only: 4 is discovered before 3
    g = make_graph(5, [(0, 1), (0, 2), (1, 4), (2, 3)], cats={3: ["rwa"], 4: ["rwa"]})
    item = Walker(g).nearest(0, "out").for_category("rwa")
    assert (item.hops, item.node, item.path_nodes) == (2, 4, (0, 1, 4))


def test_diamond_parent_is_the_first_frontier_node_that_reaches_the_target():
    g = make_graph(4, [(0, 1), (0, 2), (1, 3), (2, 3)], cats={3: ["rwa"]})
    item = Walker(g).nearest(0, "out").for_category("rwa")
    assert item.path_nodes == (0, 1, 3)


def test_in_path_runs_from_the_labelled_node_to_the_screened_one():
    # money: 3 (exchange) -> 2 -> 1 -> 0 (screened)
    g = make_graph(4, [(3, 2), (2, 1), (1, 0)], cats={3: ["mainland_exchange"]})
    walk = Walker(g).nearest(0, "in")
    item = walk.for_category("mainland_exchange")
    assert item.hops == 3
    assert item.path_nodes == (3, 2, 1, 0)
    pairs = edge_pairs(g)
    assert [pairs[e] for e in item.path_edges] == [(3, 2), (2, 1), (1, 0)]
    assert walk.direction == "in"


def test_out_path_runs_from_the_screened_node_to_the_labelled_one():
    g = make_graph(3, [(0, 1), (1, 2)], cats={2: ["rwa"]})
    item = Walker(g).nearest(0, "out").for_category("rwa")
    pairs = edge_pairs(g)
    assert item.path_nodes == (0, 1, 2)
    assert [pairs[e] for e in item.path_edges] == [(0, 1), (1, 2)]


def test_max_hops_bounds_the_walk():
    g = make_graph(4, [(0, 1), (1, 2), (2, 3)], cats={3: ["rwa"]})
    walker = Walker(g)
    assert walker.nearest(0, "out", max_hops=2).for_category("rwa").hops is None
    assert walker.nearest(0, "out", max_hops=3).for_category("rwa").hops == 3
    assert walker.nearest(0, "out", max_hops=0).for_category("rwa").hops is None


def test_disconnected_label_is_not_found_and_direction_matters():
    g = make_graph(4, [(0, 1), (2, 3)], cats={3: ["rwa"], 1: ["sanction"]})
    walker = Walker(g)
    assert walker.nearest(0, "out").for_category("rwa").hops is None
    assert walker.nearest(0, "out").for_category("sanction").hops == 1
    assert walker.nearest(0, "in").for_category("sanction").hops is None


def test_self_loop_does_not_change_distances():
    g = make_graph(3, [(0, 0), (0, 1), (1, 1), (1, 2)], cats={2: ["rwa"]})
    assert Walker(g).nearest(0, "out").for_category("rwa").path_nodes == (0, 1, 2)


def test_walk_stops_early_once_every_wanted_category_is_found():
    # star: 0 -> 1 (rwa) and 0 -> 2..99 (plain); asking only for rwa visits little
    edges = [(0, v) for v in range(1, 100)] + [(v, v + 1) for v in range(2, 99)]
    g = make_graph(100, edges, cats={1: ["rwa"]})
    walk = Walker(g).nearest(0, "out", categories=["rwa"])
    assert walk.for_category("rwa").hops == 1
    assert walk.n_visited == 2


def test_unknown_category_is_rejected():
    g = make_graph(2, [(0, 1)])
    with pytest.raises(ValueError, match="not in tuple"):
        Walker(g).nearest(0, "out", categories=["casino"])


def test_walker_rejects_bad_start_and_direction():
    walker = Walker(make_graph(2, [(0, 1)]))
    with pytest.raises(ValueError, match=r"start must be a node id in \[0, 2\)"):
        walker.nearest(2, "out")
    with pytest.raises(ValueError, match="direction must be 'in' or 'out'"):
        walker.nearest(0, "both")
    with pytest.raises(ValueError, match="max_hops must be in"):
        walker.nearest(0, "out", max_hops=-1)


def test_walker_rejects_wrong_dtypes_and_ids_out_of_range():
    g = make_graph(3, [(0, 1), (1, 2)])
    bad = Graph(g.chain, g.categories, g.out_indptr.astype(np.int32), *g.adjacency("out")[1:],
                *g.adjacency("in"), g.edge_value, g.edge_first, g.edge_last, g.node_cats,
                g.node_stop)
    with pytest.raises(TypeError, match="out indptr must be int64"):
        Walker(bad)
    broken = g.out_indices.copy()
    broken[0] = 7
    bad = Graph(g.chain, g.categories, g.out_indptr, broken, g.out_edge, *g.adjacency("in"),
                g.edge_value, g.edge_first, g.edge_last, g.node_cats, g.node_stop)
    with pytest.raises(ValueError, match=r"out indices must be node ids in \[0, 3\)"):
        Walker(bad)


def test_scratch_reuse_gives_the_same_answers_as_a_fresh_walker():
    g = make_graph(6, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)], cats={3: ["rwa"]})
    walker = Walker(g)
    first = [walker.nearest(s, d) for s in range(6) for d in ("in", "out")]
    again = [walker.nearest(s, d) for s in range(6) for d in ("in", "out")]
    fresh = [Walker(g).nearest(s, d) for s in range(6) for d in ("in", "out")]
    assert first == again == fresh


def test_generation_wraparound_resets_the_stamps():
    g = make_graph(3, [(0, 1), (1, 2)], cats={2: ["rwa"]})
    walker = Walker(g)
    expected = walker.nearest(0, "out")
    walker._generation = 2**31 - 3
    assert walker.nearest(0, "out") == expected
    assert walker.nearest(0, "out") == expected
    assert walker._generation < 10


# --------------------------------------------------------------------------------------------
# nearest and batch: properties against the plain-Python reference
# --------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=random_graphs(), data=st.data())
def test_nearest_matches_the_reference_bfs(g, data):
    start = data.draw(st.integers(0, g.n_nodes - 1))
    direction = data.draw(st.sampled_from(["in", "out"]))
    max_hops = data.draw(st.integers(0, 6))
    best, _ = reference_bfs(g, start, direction, max_hops)
    walk = Walker(g).nearest(start, direction, max_hops)
    for bit, item in enumerate(walk.nearest):
        if bit in best:
            assert (item.hops, item.node) == best[bit]
            assert_valid_path(g, walk, item)
        else:
            assert item.hops is None and item.path_nodes == ()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=random_graphs(), data=st.data())
def test_stop_nodes_are_reported_in_bfs_order_when_the_walk_is_exhaustive(g, data):
    start = data.draw(st.integers(0, g.n_nodes - 1))
    direction = data.draw(st.sampled_from(["in", "out"]))
    max_hops = data.draw(st.integers(0, 6))
    _, stops = reference_bfs(g, start, direction, max_hops)
    # a category no node carries keeps the walk going to max_hops
    g2 = Graph(g.chain, (*CATS, "never"), *g.adjacency("out"), *g.adjacency("in"), g.edge_value,
               g.edge_first, g.edge_last, g.node_cats, g.node_stop)
    walker = Walker(g2, max_stops=3)
    walk = walker.nearest(start, direction, max_hops, categories=["never"])
    assert walk.n_stop_nodes == len(stops)
    assert walk.stop_nodes == tuple(stops[:3])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=random_graphs(), direction=st.sampled_from(["in", "out"]), max_hops=st.integers(0, 6))
def test_batch_hops_equal_single_source_walks_from_every_node(g, direction, max_hops):
    hops = batch_hops(g, direction, max_hops)
    assert hops.shape == (g.n_nodes, len(CATS)) and hops.dtype == np.uint8
    for a in range(g.n_nodes):
        best, _ = reference_bfs(g, a, direction, max_hops)
        expected = [best[b][0] if b in best else NO_HOPS for b in range(len(CATS))]
        assert hops[a].tolist() == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=random_graphs(40), direction=st.sampled_from(["in", "out"]))
def test_batch_hops_are_identical_serial_parallel_push_and_pull(g, direction):
    results = [batch_hops(g, direction, 6, parallel=p, push_ratio=r)
               for p in (False, True) for r in (0.0, 8.0, float("inf"))]
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


def test_batch_hops_serial_equals_parallel_on_a_larger_random_graph():
    rng = np.random.default_rng(3)
    n = 5000
    pairs = np.unique(rng.integers(0, n, (40000, 2)), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    labelled = rng.choice(n, 30, replace=False)
    cats = {int(v): [CATS[i % 3]] for i, v in enumerate(labelled)}
    stops = [int(v) for v in rng.choice(np.setdiff1d(np.arange(n), labelled), 20, replace=False)]
    g = make_graph(n, [tuple(p) for p in pairs.tolist()], cats=cats, stops=stops)
    for direction in ("in", "out"):
        serial = batch_hops(g, direction, 6, parallel=False, push_ratio=float("inf"))
        parallel = batch_hops(g, direction, 6, parallel=True, push_ratio=float("inf"))
        hybrid = batch_hops(g, direction, 6, parallel=True)
        np.testing.assert_array_equal(serial, parallel)
        np.testing.assert_array_equal(serial, hybrid)
        walker = Walker(g)
        for a in rng.choice(n, 50, replace=False):
            walk = walker.nearest(int(a), direction)
            got = [NO_HOPS if item.hops is None else item.hops for item in walk.nearest]
            assert got == serial[a].tolist()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hops_to_a_single_label_are_plain_shortest_paths(data):
    scipy_csgraph = pytest.importorskip("scipy.sparse.csgraph")
    sparse = pytest.importorskip("scipy.sparse")
    n = data.draw(st.integers(2, 25))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    edges = sorted(set(data.draw(st.lists(pairs, max_size=4 * n))))
    target = data.draw(st.integers(0, n - 1))
    g = make_graph(n, edges, cats={target: ["rwa"]})
    rows = [u for u, _ in edges]
    cols = [v for _, v in edges]
    matrix = sparse.csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(n, n))
    dist = scipy_csgraph.shortest_path(matrix, directed=True, unweighted=True)
    bit = CATS.index("rwa")
    for direction, column in (("out", dist[:, target]), ("in", dist[target, :])):
        expected = [int(d) if d <= 6 else NO_HOPS for d in column]
        assert batch_hops(g, direction, 6)[:, bit].tolist() == expected


# --------------------------------------------------------------------------------------------
# value share
# --------------------------------------------------------------------------------------------


def test_share_splits_fifty_fifty_between_two_equal_counterparties():
    g = make_graph(3, [(0, 1), (0, 2)], values={(0, 1): 5.0, (0, 2): 5.0},
                   cats={1: ["rwa"], 2: ["sanction"]})
    s = Walker(g).shares(0, "out")
    assert s.for_category("rwa") == (0.5, 5.0)
    assert s.for_category("sanction") == (0.5, 5.0)
    assert s.total_value == 10.0
    assert (s.absorbed_labelled, s.absorbed_stop, s.unattributed) == (1.0, 0.0, 0.0)


def test_share_is_proportional_through_unlabelled_intermediaries_and_dead_ends():
    # 0 -> 1 (10), 1 -> 2 rwa (3), 1 -> 3 (1), 3 has no outgoing edge: a dead end
    g = make_graph(4, [(0, 1), (1, 2), (1, 3)], values={(0, 1): 10, (1, 2): 3, (1, 3): 1},
                   cats={2: ["rwa"]})
    s = Walker(g).shares(0, "out")
    assert s.for_category("rwa") == (0.75, 7.5)
    assert s.unattributed == 0.25


def test_share_is_absorbed_by_labelled_nodes_and_stops_there():
    g = make_graph(3, [(0, 1), (1, 2)], cats={1: ["mainland_exchange"], 2: ["sanction"]})
    s = Walker(g).shares(0, "out")
    assert s.for_category("mainland_exchange")[0] == 1.0
    assert s.for_category("sanction")[0] == 0.0


def test_share_credits_every_category_of_a_multi_labelled_node():
    g = make_graph(2, [(0, 1)], cats={1: ["mainland_exchange", "rwa"]})
    s = Walker(g).shares(0, "out")
    assert s.share == (1.0, 1.0, 0.0)
    assert s.absorbed_labelled == 1.0


def test_share_absorbed_by_a_stop_node_is_reported_as_stopped():
    g = make_graph(3, [(0, 1), (1, 2)], cats={2: ["rwa"]}, stops=[1])
    s = Walker(g).shares(0, "out")
    assert (s.share[1], s.absorbed_stop) == (0.0, 1.0)


def test_share_below_tolerance_is_dropped_as_unattributed():
    g = make_graph(3, [(0, 1), (0, 2)], values={(0, 1): 1.0, (0, 2): 9999.0},
                   cats={1: ["rwa"], 2: ["sanction"]})
    walker = Walker(g)
    cut = walker.shares(0, "out", tol=1e-3)
    assert cut.for_category("rwa")[0] == 0.0
    assert cut.unattributed == pytest.approx(1e-4)
    kept = walker.shares(0, "out", tol=1e-5)
    assert kept.for_category("rwa")[0] == pytest.approx(1e-4)


def test_share_in_flight_after_max_hops_is_unattributed():
    g = make_graph(4, [(0, 1), (1, 2), (2, 3)], cats={3: ["rwa"]})
    walker = Walker(g)
    assert walker.shares(0, "out", max_hops=2).unattributed == 1.0
    assert walker.shares(0, "out", max_hops=3).for_category("rwa")[0] == 1.0


def test_share_in_direction_follows_the_money_backwards():
    # 3 (exchange) -> 1 (30), 2 (plain, no senders) -> 1 (10), 1 -> 0 (8): 0's inbound is 75% exchange
    g = make_graph(4, [(3, 1), (2, 1), (1, 0)], values={(3, 1): 30, (2, 1): 10, (1, 0): 8},
                   cats={3: ["mainland_exchange"]})
    s = Walker(g).shares(0, "in")
    assert s.total_value == 8.0
    assert s.for_category("mainland_exchange") == (0.75, 6.0)
    assert s.unattributed == 0.25


def test_labelled_start_pushes_its_flow_instead_of_absorbing_it():
    g = make_graph(2, [(0, 1)], cats={0: ["rwa"], 1: ["sanction"]})
    s = Walker(g).shares(0, "out")
    assert s.for_category("rwa")[0] == 0.0
    assert s.for_category("sanction")[0] == 1.0


def test_share_of_a_node_without_flow_is_all_unattributed():
    g = make_graph(2, [(0, 1)], cats={0: ["rwa"]})
    s = Walker(g).shares(1, "out")
    assert (s.total_value, s.unattributed, s.share) == (0.0, 1.0, (0.0, 0.0, 0.0))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=random_graphs(), data=st.data())
def test_shares_match_the_reference_and_conserve_mass(g, data):
    start = data.draw(st.integers(0, g.n_nodes - 1))
    direction = data.draw(st.sampled_from(["in", "out"]))
    max_hops = data.draw(st.integers(0, 6))
    tol = data.draw(st.sampled_from([0.0, 1e-4, 0.05]))
    share, labelled, stopped, unattributed = reference_shares(g, start, direction, max_hops, tol)
    s = Walker(g).shares(start, direction, max_hops, tol)
    assert s.share == pytest.approx(share, abs=1e-12)
    assert (s.absorbed_labelled, s.absorbed_stop, s.unattributed) == pytest.approx(
        (labelled, stopped, unattributed), abs=1e-12)
    assert s.absorbed_labelled + s.absorbed_stop + s.unattributed == pytest.approx(1.0)


def test_value_share_kernel_leaves_no_visible_state_between_calls():
    g = make_graph(4, [(0, 1), (1, 2), (2, 0), (1, 3)], cats={3: ["rwa"]})
    walker = Walker(g)
    first = [walker.shares(s, d) for s in range(4) for d in ("in", "out")]
    walker.nearest(0, "out")
    again = [walker.shares(s, d) for s in range(4) for d in ("in", "out")]
    assert first == again


def _top_level_imports(module) -> set[str]:
    import ast
    import inspect

    imported = set()
    for node in ast.parse(inspect.getsource(module)).body:  # module level only
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    return imported


def test_kernels_module_imports_only_numpy_numba_and_its_numba_free_neighbours():
    """The kernels depend on no project code: only on the layout of their inputs and on where
    their compiled code is cached, two modules that import neither numba nor the project."""
    from exposure.walk import cache, layout

    assert _top_level_imports(kernels) <= {
        "__future__", "sys", "numpy", "numba", "exposure.walk.layout", "exposure.walk.cache"}
    for neighbour in (layout, cache):
        imported = _top_level_imports(neighbour)
        assert not {m for m in imported if m.startswith(("numba", "exposure"))}, imported


def test_walker_rejects_rows_that_are_not_ascending():
    g = make_graph(3, [(0, 1), (0, 2)])
    swapped = g.out_indices[::-1].copy()
    bad = Graph(g.chain, g.categories, g.out_indptr, swapped, g.out_edge, *g.adjacency("in"),
                g.edge_value, g.edge_first, g.edge_last, g.node_cats, g.node_stop)
    with pytest.raises(ValueError, match="out rows must hold strictly ascending neighbour ids"):
        Walker(bad)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
def test_batch_hops_do_not_depend_on_the_bit_storage_type(dtype):
    rng = np.random.default_rng(11)
    n = 300
    pairs = np.unique(rng.integers(0, n, (2000, 2)), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    cats = {int(v): [CATS[i % 3]] for i, v in enumerate(rng.choice(n, 12, replace=False))}
    g = make_graph(n, [tuple(p) for p in pairs.tolist()], cats=cats)
    expected = batch_hops(g, "out", 6)
    ip, ix, _ = g.adjacency("out")
    rip, rix, _ = g.adjacency("in")
    for parallel, ratio in ((False, 0.0), (True, 0.0), (True, float("inf"))):
        stats = np.zeros((7, 3), np.int64)
        got = kernels.multi_source_hops(ip, ix, rip, rix, g.node_cats, g.node_stop, 6, len(CATS),
                                        parallel, 3, ratio, np.zeros(1, dtype), stats)
        np.testing.assert_array_equal(got, expected)


def test_batch_hops_with_more_than_eight_categories():
    names = tuple(f"c{i}" for i in range(10))
    g = make_graph(4, [(0, 1), (1, 2), (2, 3)], cats={3: ["c9"], 1: ["c0"]}, categories=names)
    hops = batch_hops(g, "out", 6)
    # node 1 is labelled c0: terminal for node 0, but as a start it is expanded
    assert hops[:, 9].tolist() == [NO_HOPS, 2, 1, 0]
    assert hops[:, 0].tolist() == [1, 0, NO_HOPS, NO_HOPS]
    walk = Walker(g).nearest(2, "out")
    assert walk.for_category("c9").hops == 1


def test_batch_hops_record_what_each_level_did():
    g = make_graph(4, [(0, 1), (1, 2), (2, 3)], cats={3: ["rwa"]})
    stats = np.zeros((7, 3), np.int64)
    batch_hops(g, "out", 6, level_stats=stats, push_ratio=0.0)
    assert stats[0].tolist() == [0, 1, 0]
    assert stats[1].tolist() == [1, 1, 1]  # pushed from node 3 to its one predecessor
    assert stats[4].tolist() == [1, 1, 0]  # node 0 has no predecessor: the frontier dies
    assert stats[5].tolist() == [0, 0, 0]  # level 5 never runs


def reference_group_edges(src, dst, value, ts, block):
    """Transfers sorted stably by (src, dst), one edge per run: the plain-Python oracle."""
    order = np.lexsort((dst, src))  # stable: a run keeps input order
    edges: list[list] = []
    for r in order:
        key = (int(src[r]), int(dst[r]))
        if not edges or tuple(edges[-1][:2]) != key:
            edges.append([key[0], key[1], 0.0, 0, None, None, int(block[r])])
        e = edges[-1]
        e[2] += float(value[r])
        e[3] += 1
        if ts[r] != kernels.NO_TS_MIN:
            e[4] = int(ts[r]) if e[4] is None else min(e[4], int(ts[r]))
            e[5] = int(ts[r]) if e[5] is None else max(e[5], int(ts[r]))
        e[6] = min(e[6], int(block[r]))
    return [(*e[:4], e[4] or 0, e[5] or 0, e[6]) for e in edges]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(1, 40), rows=st.integers(0, 400),
       hub=st.booleans())
def test_group_edges_sums_each_pair_in_input_order_and_sorts_by_pair(seed, n, rows, hub):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, rows).astype(np.int32)
    dst = rng.integers(0, n, rows).astype(np.int32)
    if hub and rows:  # one sender with a long row (the merge-sort path, > 32 entries)
        src[: rows // 2] = 0
    value = rng.choice([0.1, 0.2, 0.3, 1e16, 1.0, 0.0], rows)  # order-sensitive sums
    ts = np.where(rng.random(rows) < 0.2, kernels.NO_TS_MIN, rng.integers(0, 1000, rows))
    block = rng.integers(0, 50, rows).astype(np.int64)
    got = kernels.group_edges(np.int64(n), src, dst, value, ts.astype(np.int64), block)
    assert [a.dtype for a in got] == [np.int64] * 2 + [np.float64] + [np.int64] * 4
    rows_got = list(zip(*(a.tolist() for a in got), strict=True))
    assert rows_got == reference_group_edges(src, dst, value, ts, block)
