"""Seeded heavy-tailed transfer graphs for the walk benchmarks, built straight into CSR arrays.

The model (chosen to look like an account-based transfer graph, not to be one):

- every node has a latent activity ``x ~ Pareto(alpha)`` (``alpha`` = 1.2, so degrees follow a
  power law with exponent about 2.2); its out-weight and in-weight are ``x`` times independent
  log-normal noise, so busy senders are mostly busy receivers too;
- out-degrees are one multinomial draw of the (oversampled) edge count over the out-weights;
  each edge's recipient is drawn from the in-weights (Walker alias table); self-loops and
  duplicate ordered pairs are removed (edges are aggregated per pair, as in the real graph), and
  the result is trimmed to exactly ``n_edges`` by a seeded hash, so the out-CSR comes out
  directly with ascending rows and edge ids in ``(src, dst)`` order (``out_edge`` = identity);
- ``edge_value``: log-normal amounts (median about 55 units, heavy tail); ``edge_first`` <=
  ``edge_last`` inside 2021-01-01 .. 2024-01-01;
- labels: ``label_rate`` (0.1%) of the nodes, half drawn in proportion to degree (exchanges and
  issuers are busy), half uniformly; one category each from a skewed mix, a
  ``mainland_exchange`` also carries ``exchange``, 15% get a second random category;
- stop nodes: the ``stop_rate`` (0.01%) highest-degree unlabelled nodes (in + out degree); the
  implied degree cap is recorded in ``meta``.

Everything random comes from a counter-based hash (splitmix64) of the seed and the position, so
the parallel kernels are deterministic: same seed, same graph, any thread count.

Usage::

    python bench/graphgen.py --size medium           # build or reuse .cache/graph-medium-s1
    python bench/graphgen.py --size medium --duckdb  # also write the edge list to DuckDB
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit, prange

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from exposure.graph.csr import Graph  # noqa: E402
from exposure.walk.kernels import counting_sort_csr  # noqa: E402

CACHE = REPO / "bench" / ".cache"

CATEGORIES = (
    "mainland_exchange", "rwa", "exchange", "sanction", "mixing_service", "mining_service",
    "stablecoin_issuer", "defi_bridge",
)
#: Primary category mix of labelled nodes (same order as CATEGORIES).
CATEGORY_MIX = np.array([0.20, 0.05, 0.35, 0.03, 0.07, 0.10, 0.05, 0.15])


@dataclass(frozen=True)
class Size:
    """A named benchmark size."""

    name: str
    n_nodes: int
    n_edges: int


SIZES = {
    "small": Size("small", 100_000, 1_000_000),
    "medium": Size("medium", 1_000_000, 10_000_000),
    "large": Size("large", 10_000_000, 100_000_000),
}

FIELDS = ("out_indptr", "out_indices", "out_edge", "in_indptr", "in_indices", "in_edge",
          "edge_value", "edge_first", "edge_last", "node_cats", "node_stop")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_ONE = np.uint64(1)
_TWO = np.uint64(2)


@njit(cache=True)
def _hash(seed, i):
    """splitmix64 of (seed, i): a uint64 that looks uniform."""
    z = np.uint64(seed) + (np.uint64(i) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def _uniform(seed, i):
    """A float64 in (0, 1) from (seed, i)."""
    return ((_hash(seed, i) >> _S11) + np.uint64(1)) * (1.0 / 9007199254740994.0)


@njit(cache=True)
def _normal(seed, i):
    """A standard normal from (seed, i) (Box-Muller on two hashed uniforms)."""
    u1 = _uniform(seed, 2 * i)
    u2 = _uniform(seed, 2 * i + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True)
def _alias_table(weights):
    """Vose's alias table of ``weights`` (float64[N]) -> (prob float64[N], alias int32[N])."""
    n = weights.shape[0]
    scaled = weights * (n / weights.sum())
    prob = np.ones(n)
    alias = np.arange(n).astype(np.int32)
    small = np.empty(n, dtype=np.int32)
    large = np.empty(n, dtype=np.int32)
    ns = 0
    nl = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        nl -= 1
        g = large[nl]
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = scaled[g] + scaled[s] - 1.0
        if scaled[g] < 1.0:
            small[ns] = g
            ns += 1
        else:
            large[nl] = g
            nl += 1
    return prob, alias


@njit(parallel=True, cache=True)
def _sample_rows(indptr, prob, alias, seed):
    """Recipients of the raw edges of each row, sorted, self-loops and duplicates removed.

    Returns (dst int32[raw E], kept int64[N]): row ``u``'s unique recipients are
    ``dst[indptr[u]:indptr[u]+kept[u]]``.
    """
    n = indptr.shape[0] - 1
    n_in = prob.shape[0]
    dst = np.empty(indptr[-1], dtype=np.int32)
    kept = np.zeros(n, dtype=np.int64)
    for u in prange(n):
        lo = indptr[u]
        hi = indptr[u + 1]
        if hi == lo:
            continue
        for k in range(lo, hi):
            z = _hash(seed, k)
            col = np.int64(((z >> _S32) * np.uint64(n_in)) >> _S32)
            coin = np.float64(z & _LOW32) * (1.0 / 4294967296.0)
            dst[k] = col if coin < prob[col] else alias[col]
        row = np.sort(dst[lo:hi])
        c = 0
        last = -1
        for j in range(row.shape[0]):
            v = row[j]
            if v != last and v != u:
                dst[lo + c] = v
                c += 1
            last = v
        kept[u] = c
    return dst, kept


@njit(parallel=True, cache=True)
def _edge_keys(indptr, dst, kept, seed):
    """A seeded hash per unique edge (row-major), used to trim to an exact edge count."""
    n = indptr.shape[0] - 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    for u in range(n):
        offsets[u + 1] = offsets[u] + kept[u]
    keys = np.empty(offsets[-1], dtype=np.uint64)
    for u in prange(n):
        for j in range(kept[u]):
            v = dst[indptr[u] + j]
            keys[offsets[u] + j] = _hash(seed, np.int64(u) * 4294967296 + v)
    return offsets, keys


@njit(parallel=True, cache=True)
def _compact(indptr, dst, kept, offsets, keys, threshold):
    """out-CSR of the unique edges whose key is below ``threshold``."""
    n = indptr.shape[0] - 1
    count = np.zeros(n, dtype=np.int64)
    for u in prange(n):
        c = 0
        for j in range(kept[u]):
            if keys[offsets[u] + j] < threshold:
                c += 1
        count[u] = c
    out_indptr = np.zeros(n + 1, dtype=np.int64)
    for u in range(n):
        out_indptr[u + 1] = out_indptr[u] + count[u]
    out_indices = np.empty(out_indptr[-1], dtype=np.int32)
    for u in prange(n):
        c = out_indptr[u]
        for j in range(kept[u]):
            if keys[offsets[u] + j] < threshold:
                out_indices[c] = dst[indptr[u] + j]
                c += 1
    return out_indptr, out_indices


@njit(parallel=True, cache=True)
def _edge_attributes(n_edges, seed):
    """(edge_value float64[E], edge_first int64[E], edge_last int64[E])."""
    value = np.empty(n_edges, dtype=np.float64)
    first = np.empty(n_edges, dtype=np.int64)
    last = np.empty(n_edges, dtype=np.int64)
    t0 = 1609459200  # 2021-01-01
    span = 3 * 365 * 86400
    for k in prange(n_edges):
        value[k] = np.exp(4.0 + 2.5 * _normal(seed, k))
        a = t0 + np.int64(_uniform(seed + _ONE, k) * span)
        first[k] = a
        last[k] = a + np.int64(_uniform(seed + _TWO, k) * (t0 + span - a))
    return value, first, last


@njit(cache=True)
def _rows_of(indptr):
    """The row id of every CSR entry: int32[E] (the ``src`` column of the edge list)."""
    n = indptr.shape[0] - 1
    src = np.empty(indptr[-1], dtype=np.int32)
    for u in range(n):
        for k in range(indptr[u], indptr[u + 1]):
            src[k] = u
    return src


def edge_list(graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    """``(src, dst)`` int32[E] of the graph in edge-id order (sorted by (src, dst))."""
    if not np.array_equal(graph.out_edge[:1000], np.arange(min(1000, graph.n_edges))):
        raise ValueError("edge_list expects edge ids in out-CSR order")
    return _rows_of(graph.out_indptr), np.asarray(graph.out_indices)


def generate(n_nodes: int, n_edges: int, seed: int = 1, alpha: float = 1.2,
             label_rate: float = 1e-3, stop_rate: float = 1e-4) -> Graph:
    """Generate a graph (see the module docstring). Deterministic in all arguments."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    rng = np.random.default_rng(seed)
    activity = (1.0 - rng.random(n_nodes)) ** (-1.0 / alpha)
    w_out = activity * rng.lognormal(0.0, 1.0, n_nodes)
    w_in = activity * rng.lognormal(0.0, 1.0, n_nodes)
    prob, alias = _alias_table(w_in)
    p_out = w_out / w_out.sum()
    oversample = 1.12
    for _ in range(6):
        raw = int(n_edges * oversample)
        degree = rng.multinomial(raw, p_out)
        indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(degree, out=indptr[1:])
        del degree
        dst, kept = _sample_rows(indptr, prob, alias, np.uint64(seed * 7919 + 17))
        unique = int(kept.sum())
        if unique >= n_edges:
            break
        oversample *= 1.02 * n_edges / unique
    else:
        raise RuntimeError("could not reach the edge count; lower n_edges for this n_nodes")
    timings["sample"] = time.perf_counter() - t
    t = time.perf_counter()
    offsets, keys = _edge_keys(indptr, dst, kept, np.uint64(seed * 104729 + 3))
    # keep the n_edges smallest keys (all of them if there are not more)
    threshold = np.partition(keys, n_edges)[n_edges] if unique > n_edges else ~np.uint64(0)
    out_indptr, out_indices = _compact(indptr, dst, kept, offsets, keys, threshold)
    del dst, keys, offsets, kept, indptr
    e = out_indices.shape[0]
    edge_dtype = np.int64 if e >= 2**31 else np.int32
    out_edge = np.arange(e, dtype=edge_dtype)
    timings["dedupe_trim"] = time.perf_counter() - t

    t = time.perf_counter()
    src = _rows_of(out_indptr)
    in_indptr, in_indices, in_edge = counting_sort_csr(
        np.int64(n_nodes), out_indices, src, np.zeros(1, dtype=edge_dtype))
    del src
    timings["in_csr"] = time.perf_counter() - t

    t = time.perf_counter()
    edge_value, edge_first, edge_last = _edge_attributes(e, np.uint64(seed * 31337 + 5))
    degree = np.diff(out_indptr) + np.diff(in_indptr)
    node_cats = np.zeros(n_nodes, dtype=np.uint64)
    n_label = max(1, round(label_rate * n_nodes))
    n_busy = n_label // 2
    # Efraimidis-Spirakis: the top-k of log(u) / w is a weighted sample without replacement
    key = np.log(rng.random(n_nodes)) / (degree + 1.0)
    busy = np.argpartition(-key, n_busy)[:n_busy] if n_busy else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(n_nodes), busy)
    anyone = rng.choice(rest, n_label - n_busy, replace=False)
    labelled = np.sort(np.concatenate([busy, anyone]))
    primary = rng.choice(len(CATEGORIES), labelled.shape[0], p=CATEGORY_MIX)
    bits = np.left_shift(np.uint64(1), primary.astype(np.uint64))
    is_mainland = primary == CATEGORIES.index("mainland_exchange")
    bits[is_mainland] |= np.uint64(1 << CATEGORIES.index("exchange"))
    second = rng.random(labelled.shape[0]) < 0.15
    extra = rng.integers(0, len(CATEGORIES), labelled.shape[0]).astype(np.uint64)
    bits[second] |= np.left_shift(np.uint64(1), extra[second])
    node_cats[labelled] = bits

    node_stop = np.zeros(n_nodes, dtype=np.uint8)
    n_stop = max(1, round(stop_rate * n_nodes))
    ranked = np.where(node_cats == 0, degree, -1)
    stop = np.argpartition(-ranked, n_stop)[:n_stop]
    node_stop[stop] = 1
    cap = int(ranked[stop].min())
    timings["attributes_labels"] = time.perf_counter() - t

    meta = {
        "n_nodes": n_nodes, "n_edges": e, "seed": seed, "alpha": alpha,
        "label_rate": label_rate, "stop_rate": stop_rate, "n_labelled": int(labelled.shape[0]),
        "n_stop": int(n_stop), "stop_degree_cap": cap,
        "max_out_degree": int(np.diff(out_indptr).max()),
        "max_in_degree": int(np.diff(in_indptr).max()),
        "raw_edges_sampled": raw, "unique_before_trim": unique,
        "labelled_per_category": {c: int(((node_cats >> np.uint64(i)) & np.uint64(1)).sum())
                                  for i, c in enumerate(CATEGORIES)},
        "generate_seconds": {k: round(v, 2) for k, v in timings.items()},
    }
    return Graph("bench", CATEGORIES, out_indptr, out_indices, out_edge, in_indptr, in_indices,
                 in_edge, edge_value, edge_first, edge_last, node_cats, node_stop,
                 key=f"bench-{n_nodes}-{e}-s{seed}", meta=meta)


def cache_dir(size: str, seed: int = 1) -> Path:
    """Where the graph of ``size`` and ``seed`` is cached."""
    return CACHE / f"graph-{size}-s{seed}"


def save(graph: Graph, folder: Path) -> None:
    """Write every array as ``.npy`` plus ``meta.json`` (written last: its presence = complete)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").unlink(missing_ok=True)
    for name in FIELDS:
        np.save(folder / f"{name}.npy", getattr(graph, name))
    meta = dict(graph.meta, categories=list(graph.categories), key=graph.key)
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))


def load(folder: Path, mmap: bool = True) -> Graph:
    """Read a cached graph; ``mmap`` maps the arrays read-only instead of reading them."""
    meta = json.loads((folder / "meta.json").read_text())
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None)
              for name in FIELDS}
    return Graph("bench", tuple(meta["categories"]), key=meta["key"], meta=meta, **arrays)


def cached(size: str, seed: int = 1, mmap: bool = True) -> tuple[Graph, bool]:
    """The graph of ``size``, from the cache or generated and cached; ``(graph, was_cached)``."""
    folder = cache_dir(size, seed)
    if (folder / "meta.json").exists():
        return load(folder, mmap), True
    spec = SIZES[size]
    graph = generate(spec.n_nodes, spec.n_edges, seed)
    save(graph, folder)
    return (load(folder, mmap) if mmap else graph), False


def graph_bytes(folder: Path) -> dict[str, int]:
    """On-disk bytes of each cached array."""
    return {name: (folder / f"{name}.npy").stat().st_size for name in FIELDS}


def write_parquet(graph: Graph, folder: Path) -> tuple[Path, Path]:
    """Write ``edges.parquet`` (src, dst, value) and ``nodes.parquet`` (node, cats, stop)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    src, dst = edge_list(graph)
    edges_path = folder / "edges.parquet"
    nodes_path = folder / "nodes.parquet"
    table = pa.table({"src": src, "dst": dst, "value": np.asarray(graph.edge_value)})
    pq.write_table(table, edges_path, row_group_size=8_000_000)
    nodes = pa.table({"node": np.arange(graph.n_nodes, dtype=np.int32),
                      "cats": np.asarray(graph.node_cats), "stop": np.asarray(graph.node_stop)})
    pq.write_table(nodes, nodes_path)
    return edges_path, nodes_path


def write_duckdb(graph: Graph, folder: Path, threads: int = 2) -> Path:
    """Write tables ``edges(src, dst, value)`` and ``nodes(node, cats, stop)`` to ``graph.duckdb``.

    A benchmark peer's own database (not an exposure store), so it is opened with
    ``duckdb.connect`` directly.
    """
    import duckdb

    path = folder / "graph.duckdb"
    if path.exists():
        return path
    edges_path, nodes_path = write_parquet(graph, folder)
    tmp = folder / "graph.duckdb.tmp"
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp), config={"threads": threads})
    try:
        con.execute("CREATE TABLE edges AS SELECT * FROM read_parquet(?)", [str(edges_path)])
        con.execute("CREATE TABLE nodes AS SELECT * FROM read_parquet(?)", [str(nodes_path)])
    finally:
        con.close()
    tmp.rename(path)
    edges_path.unlink()
    nodes_path.unlink()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duckdb", action="store_true", help="also write the DuckDB edge table")
    args = parser.parse_args(argv)
    t = time.perf_counter()
    graph, was_cached = cached(args.size, args.seed, mmap=True)
    print(f"{'loaded' if was_cached else 'generated'} {cache_dir(args.size, args.seed)} in "
          f"{time.perf_counter() - t:.1f} s")
    print(json.dumps(graph.meta, indent=1))
    if args.duckdb:
        t = time.perf_counter()
        path = write_duckdb(graph, cache_dir(args.size, args.seed))
        print(f"duckdb: {path} in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
