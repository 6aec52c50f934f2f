"""Walk benchmark: exposure's Numba kernels against scipy, python-igraph and DuckDB, same graph.

On one seeded heavy-tailed graph from ``bench/graphgen.py`` (cached in ``bench/.cache``):

1. cache: bytes per edge per direction, time to open (mmap) and to read the cached arrays;
2. CSR build of both directions from the edge list, each in its own process for its peak RSS:
   exposure's counting sort vs numpy's stable argsort vs scipy's COO -> CSR;
3. one screen (nearest labelled node of every category, both directions, max_hops 6, evidence
   paths built): median/p95 over ``--starts`` random active addresses; peer: a full
   scipy ``breadth_first_order`` from the same address (what a BFS without early stop costs);
4. value shares of one screen (both directions, tol 1e-4), same starts;
5. batch hops of every node to every category, each direction; peers: scipy
   ``breadth_first_order`` from a super-source (order only: no distances, no terminal or stop
   rules, one "category"), DuckDB recursive SQL with ``USING KEY`` (distances to the nearest
   labelled node of any category with the terminal and stop rules; checked equal to ours), and
   python-igraph (build + BFS from a super-source, ``--size medium`` only unless
   ``--igraph-large``).

Prints each figure, the peer's and the ratio; writes ``bench/results/walk.json`` (one entry per
size, merged with what is there). Timings are wall clock on this machine; the 1-minute load
average before each part is recorded, since other work on the machine skews them.

Run: ``python bench/walk.py [--size small|medium|large]`` (default medium, about 3 minutes once
the graph is cached; large needs about 10 GB of RAM and 10-15 minutes, DuckDB included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import graphgen  # noqa: E402

from exposure.graph.csr import Graph  # noqa: E402
from exposure.walk import Walker, batch_hops, kernels  # noqa: E402

MAX_HOPS = 6
TARGETS = {
    "csr_build_seconds_100M": 30.0,
    "csr_build_peak_gb_100M": 6.0,
    "cache_load_seconds": 2.0,
    "screen_median_ms": 1.0,
    "shares_median_ms": 50.0,
    "batch_seconds_100M": 1.0,
    "batch_vs_scipy": 2.0,
    "batch_vs_duckdb": 20.0,
    "batch_vs_igraph_10M": 5.0,
    "bytes_per_edge_per_direction": 16.0,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def peak_rss_gb() -> float:
    """This process's peak RSS in GB: VmHWM (ru_maxrss would carry the parent's peak across
    fork + exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e6  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def ratio(slow: float | None, fast: float | None) -> float | None:
    if not slow or not fast:
        return None
    return round(slow / fast, 2)


def row(name: str, ours: str, peer: str = "", r: float | None = None) -> None:
    ratio_text = f"{r:.1f}x" if r is not None else ""
    print(f"  {name:<44} {ours:>16} {peer:>26} {ratio_text:>8}", flush=True)


# --------------------------------------------------------------------------------------------
# edge list files and child processes (peak RSS per method)
# --------------------------------------------------------------------------------------------


def edge_list_files(graph: Graph, size: str, seed: int) -> tuple[Path, Path]:
    folder = graphgen.cache_dir(size, seed)
    src_path, dst_path = folder / "edges_src.npy", folder / "edges_dst.npy"
    if not dst_path.exists():
        src, dst = graphgen.edge_list(graph)
        np.save(src_path, src)
        np.save(dst_path, np.asarray(dst))
    return src_path, dst_path


def child_csr(method: str, size: str, seed: int) -> dict[str, Any]:
    """In this (child) process: build both CSR directions from the edge list with ``method``."""
    folder = graphgen.cache_dir(size, seed)
    meta = json.loads((folder / "meta.json").read_text())
    n = meta["n_nodes"]
    src = np.load(folder / "edges_src.npy")
    dst = np.load(folder / "edges_dst.npy")
    if method == "counting":
        from exposure.walk import build_csr

        build_csr(4, np.array([0, 1], np.int32), np.array([2, 3], np.int32))  # compile/load
        base = peak_rss_gb()
        t = time.perf_counter()
        out = build_csr(n, src, dst)
        inn = build_csr(n, dst, src)
        seconds = time.perf_counter() - t
        built = (out[1], inn[1])
    elif method == "argsort":
        base = peak_rss_gb()
        t = time.perf_counter()
        parts = []
        for a, b in ((src, dst), (dst, src)):
            order = np.argsort(a, kind="stable")
            indptr = np.zeros(n + 1, np.int64)
            np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
            parts.append((indptr, b[order], order.astype(np.int32)))
            del order
        seconds = time.perf_counter() - t
        built = (parts[0][1], parts[1][1])
    elif method == "scipy":
        import scipy.sparse as sp

        ids = np.arange(src.shape[0], dtype=np.int32)
        base = peak_rss_gb()
        t = time.perf_counter()
        out = sp.csr_array((ids, (src, dst)), shape=(n, n))
        inn = sp.csr_array((ids, (dst, src)), shape=(n, n))
        seconds = time.perf_counter() - t
        built = (out.indices, inn.indices)
    else:
        raise SystemExit(f"unknown method {method}")
    check = all(np.array_equal(b, np.load(folder / f"{d}_indices.npy", mmap_mode="r"))
                for b, d in zip(built, ("out", "in"), strict=True))
    return {"seconds": round(seconds, 3), "peak_rss_gb": round(peak_rss_gb(), 3),
            "rss_after_inputs_gb": round(base, 3), "equal_to_cache": check}


def child_igraph(size: str, seed: int, direction: str) -> dict[str, Any]:
    """In this (child) process: python-igraph build from the edge list + super-source BFS."""
    import igraph as ig

    folder = graphgen.cache_dir(size, seed)
    meta = json.loads((folder / "meta.json").read_text())
    n = meta["n_nodes"]
    src = np.load(folder / "edges_src.npy")
    dst = np.load(folder / "edges_dst.npy")
    labelled = np.flatnonzero(np.load(folder / "node_cats.npy") != 0).astype(np.int32)
    base = peak_rss_gb()
    t = time.perf_counter()
    graph = ig.Graph(n=n + 1, edges=np.column_stack([src, dst]), directed=True)
    build = time.perf_counter() - t
    # "out" hops follow money forward to the labelled node: the BFS runs from a super-source
    # behind the labelled nodes against the edges; "in" the other way round
    if direction == "out":
        graph.add_edges(np.column_stack([labelled, np.full(labelled.shape[0], n, np.int32)]))
        mode = ig.IN
    else:
        graph.add_edges(np.column_stack([np.full(labelled.shape[0], n, np.int32), labelled]))
        mode = ig.OUT
    times = []
    for _ in range(2):
        t = time.perf_counter()
        vids, _layers, _parents = graph.bfs(n, mode=mode)
        times.append(time.perf_counter() - t)
    return {"build_seconds": round(build, 3), "bfs_seconds": [round(x, 3) for x in times],
            "reached": len(vids) - 1, "peak_rss_gb": round(peak_rss_gb(), 3),
            "rss_after_inputs_gb": round(base, 3)}


DUCKDB_SQL = """
WITH RECURSIVE bfs(node, hops) USING KEY (node) AS (
    SELECT node, 0 FROM nodes WHERE cats <> 0
  UNION
    SELECT e.{near}, any_value(b.hops) + 1
    FROM bfs b
    JOIN nodes nb ON nb.node = b.node
    JOIN edges e ON e.{far} = b.node
    WHERE b.hops < ?
      AND (b.hops = 0 OR (nb.cats = 0 AND nb.stop = 0))
      AND e.{near} NOT IN (SELECT node FROM recurring.bfs)
    GROUP BY e.{near}
)
SELECT node, hops FROM bfs
"""


def child_duckdb(size: str, seed: int, direction: str) -> dict[str, Any]:
    """In this (child) process: hops to the nearest labelled node (any category) in DuckDB SQL.

    Same rules as ``batch_hops`` (labelled nodes terminal, stop nodes never passed on, any
    start), one "category": any label. The result is compared with the minimum over the
    categories of exposure's own batch hops.
    """
    import duckdb

    folder = graphgen.cache_dir(size, seed)
    path = folder / "graph.duckdb"
    # a peer's own database, not an exposure store: opened directly
    con = duckdb.connect(str(path), read_only=True, config={"threads": 2})
    near, far = ("src", "dst") if direction == "out" else ("dst", "src")
    sql = DUCKDB_SQL.format(near=near, far=far)
    t = time.perf_counter()
    result = con.execute(sql, [MAX_HOPS]).fetchnumpy()
    seconds = time.perf_counter() - t
    con.close()
    np.save(folder / f"duckdb_hops_{direction}.npy",
            np.stack([result["node"].astype(np.int64), result["hops"].astype(np.int64)]))
    return {"seconds": round(seconds, 3), "rows": int(result["node"].shape[0]),
            "peak_rss_gb": round(peak_rss_gb(), 3)}


def run_child(args: list[str], timeout: float) -> dict[str, Any] | None:
    """Run ``bench/walk.py --child ...`` and parse its JSON; None (and a log line) on timeout."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        log(f"  {' '.join(args)}: did not finish within {timeout:.0f} s")
        return None
    if proc.returncode != 0:
        log(f"  {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# parts
# --------------------------------------------------------------------------------------------


def part_cache(size: str, seed: int) -> tuple[Graph, dict[str, Any]]:
    t = time.perf_counter()
    graph, was_cached = graphgen.cached(size, seed, mmap=True)
    made = time.perf_counter() - t
    folder = graphgen.cache_dir(size, seed)
    t = time.perf_counter()
    graphgen.load(folder, mmap=True)
    open_s = time.perf_counter() - t
    t = time.perf_counter()
    in_ram = graphgen.load(folder, mmap=False)
    read_s = time.perf_counter() - t
    del in_ram
    sizes = graphgen.graph_bytes(folder)
    e, n = graph.n_edges, graph.n_nodes
    adjacency = {d: (sizes[f"{d}_indices"] + sizes[f"{d}_edge"]) / e for d in ("out", "in")}
    edge_attrs = (sizes["edge_value"] + sizes["edge_first"] + sizes["edge_last"]) / e
    node_bytes = (sizes["out_indptr"] + sizes["in_indptr"] + sizes["node_cats"]
                  + sizes["node_stop"]) / n
    total = sum(sizes.values())
    info = {
        "generated_now": not was_cached, "generate_or_open_seconds": round(made, 2),
        "open_mmap_seconds": round(open_s, 4), "read_into_ram_seconds": round(read_s, 3),
        "total_bytes": total,
        "adjacency_bytes_per_edge_per_direction": adjacency,
        "edge_attribute_bytes_per_edge": edge_attrs,
        "node_bytes_per_node": node_bytes,
        "all_bytes_per_edge_per_direction": round(total / (2 * e), 2),
        "graph": graph.meta,
    }
    print(f"graph {size}: {n:,} nodes, {e:,} edges, {graph.meta['n_labelled']:,} labelled, "
          f"{graph.meta['n_stop']:,} stop nodes (degree > {graph.meta['stop_degree_cap']:,})")
    row("cache: open (mmap)", f"{open_s * 1e3:.1f} ms")
    row("cache: read all arrays into RAM", f"{read_s:.2f} s")
    row("cache: adjacency bytes/edge/direction", f"{adjacency['out']:.1f}")
    row("cache: edge attributes bytes/edge", f"{edge_attrs:.1f}")
    row("cache: all bytes/edge/direction (+nodes)", f"{total / (2 * e):.2f}")
    return graph, info


def part_csr(size: str, seed: int, graph: Graph, skip_peers: bool) -> dict[str, Any]:
    edge_list_files(graph, size, seed)
    out: dict[str, Any] = {"load1": load1()}
    methods = ["counting"] if skip_peers else ["counting", "argsort", "scipy"]
    for method in methods:
        out[method] = run_child(["csr", method, size, str(seed)], timeout=900)
    ours = out["counting"]
    row("CSR build both directions (counting sort)",
        f"{ours['seconds']:.2f} s", f"peak RSS {ours['peak_rss_gb']:.2f} GB")
    for method in methods[1:]:
        peer = out[method]
        if peer:
            row(f"  peer: {method}", f"{peer['seconds']:.2f} s",
                f"peak RSS {peer['peak_rss_gb']:.2f} GB", ratio(peer["seconds"], ours["seconds"]))
    return out


def random_starts(graph: Graph, count: int, seed: int) -> np.ndarray:
    """``count`` random nodes with at least one edge (addresses present in the data)."""
    rng = np.random.default_rng(seed)
    degree = np.diff(np.asarray(graph.out_indptr)) + np.diff(np.asarray(graph.in_indptr))
    active = np.flatnonzero(degree > 0)
    return rng.choice(active, size=min(count, active.shape[0]), replace=False)


def summary_ms(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1e3
    return {"median_ms": round(float(np.median(ms)), 4),
            "p95_ms": round(float(np.percentile(ms, 95)), 4),
            "p99_ms": round(float(np.percentile(ms, 99)), 4), "max_ms": round(float(ms.max()), 3),
            "mean_ms": round(float(ms.mean()), 4)}


def warm(graph: Graph) -> None:
    """Touch every page of the mapped arrays (a screening service keeps them resident)."""
    for name in graphgen.FIELDS:
        np.asarray(getattr(graph, name)).sum()


def part_screens(graph: Graph, starts: np.ndarray, peer_starts: int) -> dict[str, Any]:
    t = time.perf_counter()
    walker = Walker(graph)
    build = time.perf_counter() - t
    walker.nearest(int(starts[0]), "out")
    walker.shares(int(starts[0]), "out")
    out: dict[str, Any] = {"walker_build_seconds": round(build, 3), "load1": load1()}

    times, visited, found, stops = [], [], [], []
    for s in starts:
        s = int(s)
        t = time.perf_counter()
        w_out = walker.nearest(s, "out", MAX_HOPS)
        w_in = walker.nearest(s, "in", MAX_HOPS)
        times.append(time.perf_counter() - t)
        visited.append(w_out.n_visited + w_in.n_visited)
        found.append(sum(x.hops is not None for x in (*w_out.nearest, *w_in.nearest)))
        stops.append(w_out.n_stop_nodes + w_in.n_stop_nodes)
    out["screen"] = summary_ms(times)
    out["screen"]["visited_median"] = float(np.median(visited))
    out["screen"]["visited_p95"] = float(np.percentile(visited, 95))
    out["screen"]["categories_found_mean"] = round(float(np.mean(found)), 2)
    out["screen"]["of_categories"] = 2 * len(graph.categories)
    out["screen"]["stop_nodes_met_median"] = float(np.median(stops))

    times = []
    for s in starts:
        s = int(s)
        t = time.perf_counter()
        walker.shares(s, "out", MAX_HOPS)
        walker.shares(s, "in", MAX_HOPS)
        times.append(time.perf_counter() - t)
    out["shares"] = summary_ms(times)

    # peer: a full BFS from the same address (no early stop, no terminal rules), scipy
    import scipy.sparse as sp
    import scipy.sparse.csgraph as csgraph

    n = graph.n_nodes
    matrices = {}
    for d in ("out", "in"):
        ip, ix, _ = graph.adjacency(d)
        matrices[d] = sp.csr_matrix((np.ones(graph.n_edges, np.int8), np.asarray(ix),
                                     np.asarray(ip)), shape=(n, n))
    times = []
    for s in starts[:peer_starts]:
        t = time.perf_counter()
        for d in ("out", "in"):
            csgraph.breadth_first_order(matrices[d], int(s), directed=True,
                                        return_predecessors=False)
        times.append(time.perf_counter() - t)
    out["peer_scipy_full_bfs"] = summary_ms(times)
    out["peer_scipy_full_bfs"]["starts"] = len(times)
    del matrices

    s_ = out["screen"]
    row("walker build (checks + scratch)", f"{build:.2f} s")
    row("one screen, both directions: median", f"{s_['median_ms']:.3f} ms",
        f"scipy full BFS {out['peer_scipy_full_bfs']['median_ms']:.1f} ms",
        ratio(out["peer_scipy_full_bfs"]["median_ms"], s_["median_ms"]))
    row("one screen, both directions: p95 / p99", f"{s_['p95_ms']:.2f} / {s_['p99_ms']:.2f} ms")
    row("  nodes visited per screen: median / p95", f"{s_['visited_median']:.0f} / "
        f"{s_['visited_p95']:.0f}")
    row("  categories found (of 2 x categories)",
        f"{s_['categories_found_mean']:.1f} / {s_['of_categories']}")
    row("value shares, both directions: median", f"{out['shares']['median_ms']:.2f} ms")
    row("value shares, both directions: p95 / p99",
        f"{out['shares']['p95_ms']:.2f} / {out['shares']['p99_ms']:.2f} ms")
    return out


def scipy_super_source(graph: Graph, direction: str):
    """A callable running scipy's breadth_first_order from a super-source behind every labelled
    node (built once, so only the BFS is timed)."""
    import scipy.sparse as sp
    import scipy.sparse.csgraph as csgraph

    n = graph.n_nodes
    labelled = np.flatnonzero(np.asarray(graph.node_cats) != 0).astype(np.int32)
    # the BFS from the labelled side runs against the walked direction
    ip, ix, _ = graph.adjacency("in" if direction == "out" else "out")
    indptr = np.concatenate([np.asarray(ip), [ip[-1] + labelled.shape[0]]])
    indices = np.concatenate([np.asarray(ix), labelled])
    matrix = sp.csr_matrix((np.ones(indices.shape[0], np.int8), indices, indptr),
                           shape=(n + 1, n + 1))

    def run() -> int:
        order = csgraph.breadth_first_order(matrix, n, directed=True, return_predecessors=False)
        return int(order.shape[0] - 1)

    return run


def part_batch(graph: Graph, size: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"load1": load1(), "runs": args.runs,
                           "note": "ours and scipy alternate run by run; best and median kept"}
    batch_hops(graph, "out", 1, check_ids=False)  # compile/load
    hops_any = {}
    for direction in ("out", "in"):
        scipy_run = scipy_super_source(graph, direction)
        ours, theirs = [], []
        stats = np.zeros((MAX_HOPS + 1, 3), np.int64)
        for _ in range(args.runs):
            t = time.perf_counter()
            hops = batch_hops(graph, direction, MAX_HOPS, check_ids=False, level_stats=stats)
            ours.append(time.perf_counter() - t)
            if _ < args.runs - 1:
                del hops
            t = time.perf_counter()
            reached = scipy_run()
            theirs.append(time.perf_counter() - t)
        del scipy_run
        reach = (hops != kernels.NO_HOPS).mean(axis=0)
        hops_any[direction] = hops.min(axis=1)
        del hops
        out[direction] = {
            "seconds": [round(x, 3) for x in ours],
            "best_seconds": round(min(ours), 3),
            "median_seconds": round(float(np.median(ours)), 3),
            "levels": [{"level": i, "mode": "push" if m else "pull", "frontier": int(f),
                        "frontier_degree_sum": int(c)} for i, (m, f, c) in enumerate(stats)][1:],
            "reached_share_per_category": dict(zip(graph.categories, np.round(reach, 4).tolist(),
                                                   strict=True)),
            "peer_scipy": {"seconds": [round(x, 3) for x in theirs],
                           "best_seconds": round(min(theirs), 3),
                           "median_seconds": round(float(np.median(theirs)), 3),
                           "reached": reached},
        }
        best, peer = min(ours), min(theirs)
        row(f"batch hops, all nodes x {len(graph.categories)} categories, {direction}",
            f"{best:.3f} s", f"scipy super-source BFS {peer:.3f} s", ratio(peer, best))
        row("  (median of runs)", f"{np.median(ours):.3f} s", f"{np.median(theirs):.3f} s",
            ratio(float(np.median(theirs)), float(np.median(ours))))

    if not args.skip_duckdb:
        t = time.perf_counter()
        graphgen.write_duckdb(graph, graphgen.cache_dir(size, seed))
        out["duckdb_load_seconds"] = round(time.perf_counter() - t, 1)
        out["duckdb"] = {}
        for direction in ("out", "in"):
            res = run_child(["duckdb", size, str(seed), direction], timeout=args.duckdb_timeout)
            out["duckdb"][direction] = res
            best = min(out[direction]["seconds"])
            if res is None:
                row(f"  peer: DuckDB recursive SQL, {direction}", "",
                    f"> {args.duckdb_timeout:.0f} s (stopped)")
                continue
            saved = np.load(graphgen.cache_dir(size, seed) / f"duckdb_hops_{direction}.npy")
            theirs = np.full(graph.n_nodes, kernels.NO_HOPS, np.int64)
            theirs[saved[0]] = saved[1]
            res["equal_to_exposure"] = bool(np.array_equal(theirs, hops_any[direction]))
            row(f"  peer: DuckDB recursive SQL (any label), {direction}", "",
                f"{res['seconds']:.2f} s, equal: {res['equal_to_exposure']}",
                ratio(res["seconds"], best))

    if not args.skip_igraph and (size != "large" or args.igraph_large):
        res = run_child(["igraph", size, str(seed), "out"], timeout=1800)
        out["igraph"] = res
        if res:
            best = min(out["out"]["seconds"])
            row("  peer: python-igraph build", "", f"{res['build_seconds']:.2f} s, "
                f"peak RSS {res['peak_rss_gb']:.1f} GB")
            row("  peer: python-igraph super-source BFS, out", "",
                f"{min(res['bfs_seconds']):.3f} s", ratio(min(res["bfs_seconds"]), best))
    return out


def part_via_import(size: str, seed: int, args: argparse.Namespace) -> tuple[Graph, dict]:
    """The graph as the product builds it from files: ``exposure import transfers`` of the
    synthetic graph's dump (``bench/import.py``), labels, then ``build_graph`` from the store.

    The dump has one USDT transfer per edge, addresses whose first 4 bytes are the node id (so
    the store's address order is the node order). Labels are not part of a transfer dump: the
    graph's labelled nodes are written to ``address_categories`` directly (one row per node and
    category, tag id 0). The dust filter is off and the degree cap is the synthetic graph's, so
    the built graph has the synthetic graph's edges, labels and stop nodes, less the nodes
    without any edge.
    """
    import importlib

    import pyarrow as pa

    from exposure.graph.build import build_graph
    from exposure.graph.settings import GraphSettings
    from exposure.store import connect, transaction

    bench_import = importlib.import_module("import")
    rows = graphgen.SIZES[size].n_edges
    info: dict[str, Any] = {"rows": rows, "load1": load1()}
    folder, facts = bench_import.generate_dump(rows, seed, args.per_block)
    info["dump"] = facts
    db = graphgen.CACHE / f"store-{size}-s{seed}.duckdb"
    if args.reimport or not db.exists():
        for p in (db, db.with_name(db.name + ".wal")):
            p.unlink(missing_ok=True)
        res = bench_import.run_exposure(folder, db)
        info["import"] = {k: res[k] for k in ("seconds", "peak_rss_gb", "rows", "command")}
        row("import transfers (CLI, files -> store)", f"{res['seconds']:.1f} s",
            f"{rows / res['seconds']:,.0f} rows/s, peak {res['peak_rss_gb']:.2f} GB")
    else:
        info["import"] = "reused"
        row("import transfers (CLI, files -> store)", "reused", str(db.relative_to(REPO)))
    cached, _ = graphgen.cached(size, seed, mmap=True)
    words = bench_import.address_words(cached.n_nodes, seed)
    cats = np.asarray(cached.node_cats)
    con = connect(db)
    try:
        labelled = np.flatnonzero(cats)
        nodes, names = [], []
        for i, category in enumerate(graphgen.CATEGORIES):
            has = labelled[(cats[labelled] >> np.uint64(i)) & np.uint64(1) == 1]
            nodes.append(has)
            names.extend([category] * has.shape[0])
        nodes_all = np.concatenate(nodes)
        table = pa.table({"address": bench_import.addresses(words, nodes_all).cast(pa.string()),
                          "category": pa.array(names, pa.string())})
        with transaction(con):
            con.execute("DELETE FROM address_categories WHERE chain = 'ethereum'")
            con.register("_labels", table)
            con.execute("INSERT INTO address_categories SELECT 'ethereum', address, category, 0 "
                        "FROM _labels")
            con.unregister("_labels")
        settings = GraphSettings(dust_usd=0.0, degree_cap=int(cached.meta["stop_degree_cap"]))
        t = time.perf_counter()
        parts = build_graph(con, "ethereum", settings, graphgen.CATEGORIES, key=f"import-{size}")
        info["build_graph_seconds"] = round(time.perf_counter() - t, 2)
    finally:
        con.close()
    graph = parts.graph
    info["build_graph_peak_rss_gb"] = round(peak_rss_gb(), 3)
    info["graph"] = {"n_nodes": graph.n_nodes, "n_edges": graph.n_edges,
                     "n_labelled": int((np.asarray(graph.node_cats) != 0).sum()),
                     "n_stop": int(np.asarray(graph.node_stop).sum()),
                     "synthetic_n_nodes": cached.n_nodes, "synthetic_n_edges": cached.n_edges}
    row("build_graph (store -> CSR, product path)", f"{info['build_graph_seconds']:.1f} s",
        f"peak RSS {info['build_graph_peak_rss_gb']:.2f} GB")
    print(f"graph from the store: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges, "
          f"{info['graph']['n_labelled']:,} labelled, {info['graph']['n_stop']:,} stop nodes")
    del parts
    return graph, info


def write_results(size: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "walk.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("sizes", {})[size] = result
    data["targets"] = TARGETS
    path.write_text(json.dumps(data, indent=1, default=float))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(graphgen.SIZES), default="medium")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--starts", type=int, default=1000, help="random addresses screened")
    parser.add_argument("--peer-starts", type=int, default=10,
                        help="addresses for the full-BFS peer of one screen")
    parser.add_argument("--runs", type=int, default=3, help="runs of each batch (best is used)")
    parser.add_argument("--skip-csr-peers", action="store_true")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--duckdb-timeout", type=float, default=600.0)
    parser.add_argument("--skip-igraph", action="store_true")
    parser.add_argument("--igraph-large", action="store_true",
                        help="also build python-igraph on the large graph (about 20 GB, minutes)")
    parser.add_argument("--via-import", action="store_true",
                        help="build the graph the product's way: import the synthetic graph's "
                        "dump with `exposure import transfers`, then build_graph from the store; "
                        "screens and batch hops run on that graph (scipy peers only)")
    parser.add_argument("--reimport", action="store_true",
                        help="with --via-import: import again even if the store is cached")
    parser.add_argument("--per-block", type=int, default=100,
                        help="with --via-import: transfers per block in the dump")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind == "csr":
            result = child_csr(rest[0], rest[1], int(rest[2]))
        elif kind == "igraph":
            result = child_igraph(rest[0], int(rest[1]), rest[2])
        elif kind == "duckdb":
            result = child_duckdb(rest[0], int(rest[1]), rest[2])
        else:
            raise SystemExit(f"unknown child {kind}")
        print(json.dumps(result))
        return 0

    import numba

    started = time.perf_counter()
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "numba": numba.__version__, "threads": numba.get_num_threads(),
                    "cpus": os.cpu_count(), "load1_at_start": load1()},
        "max_hops": MAX_HOPS,
    }
    print(f"{'':<46} {'exposure':>16} {'peer':>26} {'ratio':>8}")
    if args.via_import:
        # the DuckDB and igraph peers read graphgen's own files (node ids of the synthetic
        # graph); the store's graph leaves out nodes without edges, so only scipy runs here
        args.skip_duckdb = args.skip_igraph = True
        graph, result["via_import"] = part_via_import(args.size, args.seed, args)
    else:
        graph, result["cache"] = part_cache(args.size, args.seed)
        result["csr_build"] = part_csr(args.size, args.seed, graph, args.skip_csr_peers)
        t = time.perf_counter()
        warm(graph)
        result["cache"]["touch_all_pages_seconds"] = round(time.perf_counter() - t, 3)
        row("cache: touch every mapped page (warm-up)", f"{time.perf_counter() - t:.2f} s")
    starts = random_starts(graph, args.starts, args.seed)
    result["walks"] = part_screens(graph, starts, args.peer_starts)
    result["batch"] = part_batch(graph, args.size, args.seed, args)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    path = write_results(args.size + ("-via-import" if args.via_import else ""), result)
    print(f"results: {path.relative_to(REPO)} ({result['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
