"""The graph cache: fixed-width arrays saved as .npy files and memory-mapped, keyed by data state.

A cached graph is reused while the store's transfers, labels and the filter settings are the
same; anything else builds a new one. A graph folder holds the CSR arrays, the sorted address
column (binary search, no full read), per-address activity, per-edge evidence keys and, once a
batch asked for them, the multi-source hop tables (``hops-<direction>-<max_hops>.npy``).

Writes are atomic (a temporary folder or file, then a rename) and serialised by a file lock per
chain (``<chain>.lock``), so several processes that find the same graph missing build it once
and never see a half-written one. Nothing here writes the store: any number of screens and
batches read at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np

from .build import Activity, GraphParts, build_graph
from .csr import Graph
from .settings import GraphSettings

_GRAPH_ARRAYS = (
    "out_indptr", "out_indices", "out_edge", "in_indptr", "in_indices", "in_edge",
    "edge_value", "edge_first", "edge_last", "node_cats", "node_stop",
)
_PART_ARRAYS = (
    "addr_text", "addr_id", "addr_node", "node_text", "edge_count", "edge_rep_block",
    "edge_rep_from", "edge_rep_to",
)
_ACTIVITY_ARRAYS = ("first", "last", "ptr", "asset", "direction", "count", "amount")
FORMAT = 3


def data_state(con: duckdb.DuckDBPyConnection, chain: str) -> dict:
    """What the graph of ``chain`` depends on: indexed ranges, row counts, label versions."""
    checkpoints = con.execute(
        "SELECT stream, first_block, last_block FROM checkpoints WHERE chain = ? ORDER BY 1",
        [chain],
    ).fetchall()
    counts = con.execute(
        "SELECT (SELECT count(*) FROM token_transfers WHERE chain = $c), "
        "(SELECT count(*) FROM native_transfers WHERE chain = $c), "
        "(SELECT count(*) FROM btc_transfers WHERE chain = $c), "
        "(SELECT count(*) FROM addresses WHERE chain = $c), "
        "(SELECT max(number) FROM blocks WHERE chain = $c), "
        "(SELECT max(hash) FROM blocks WHERE chain = $c AND number = "
        " (SELECT max(number) FROM blocks WHERE chain = $c))",
        {"c": chain},
    ).fetchall()[0]
    labels = con.execute(
        "SELECT count(*), coalesce(max(tag_id), 0) FROM tags"
    ).fetchall()[0]
    packs = con.execute("SELECT sha256 FROM label_packs ORDER BY pack_id").fetchall()
    assets = con.execute(
        "SELECT asset, token_address, decimals FROM assets WHERE chain = ? ORDER BY 1", [chain]
    ).fetchall()
    clusters = con.execute(
        "SELECT data_key, computed_at::VARCHAR FROM btc_cluster_state WHERE chain = ?", [chain]
    ).fetchall()
    return {
        "chain": chain,
        "checkpoints": [list(map(str, c)) for c in checkpoints],
        "counts": [str(c) for c in counts],
        "labels": [str(x) for x in labels],
        "packs": hashlib.sha256("".join(p[0] for p in packs).encode()).hexdigest()[:16],
        "assets": [list(map(str, a)) for a in assets],
        "clusters": [list(map(str, c)) for c in clusters],
    }


def cache_key(state: dict, settings: GraphSettings, categories: tuple[str, ...]) -> str:
    """The cache key of a graph: its data state, filter settings and category order."""
    blob = json.dumps(
        {"format": FORMAT, "state": state, "settings": settings.describe(), "cats": categories},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def cache_root(db_file: Path) -> Path:
    """Where graphs of the store at ``db_file`` are cached (``<db>.graphs/``)."""
    override = os.environ.get("EXPOSURE_GRAPH_CACHE")
    return Path(override) if override else db_file.with_name(db_file.name + ".graphs")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock on ``path`` (created if missing), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save_array(folder: Path, name: str, array: np.ndarray | None) -> None:
    if array is not None:
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)


def save(parts: GraphParts, folder: Path) -> None:
    """Write a graph atomically into ``folder`` (a temporary folder, then a rename)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        g = parts.graph
        for name in _GRAPH_ARRAYS:
            _save_array(tmp, name, getattr(g, name))
        for name in _PART_ARRAYS:
            _save_array(tmp, name, getattr(parts, name))
        for name in _ACTIVITY_ARRAYS:
            _save_array(tmp, f"activity_{name}", getattr(parts.activity, name))
        (tmp / "meta.json").write_text(
            json.dumps({"chain": g.chain, "categories": list(g.categories), "key": g.key,
                        "meta": g.meta, "format": FORMAT,
                        "activity_assets": list(parts.activity.assets)})
        )
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load_array(folder: Path, name: str) -> np.ndarray | None:
    path = folder / f"{name}.npy"
    return np.load(path, mmap_mode="r") if path.exists() else None


def load(folder: Path) -> GraphParts:
    """Memory-map a cached graph (nothing is read in full)."""
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"graph cache format {meta.get('format')}, expected {FORMAT}")
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _GRAPH_ARRAYS}
    graph = Graph(
        chain=meta["chain"], categories=tuple(meta["categories"]), key=meta["key"],
        meta=meta["meta"], **arrays,
    )
    parts = {name: _load_array(folder, name) for name in _PART_ARRAYS}
    activity = Activity(
        assets=tuple(meta["activity_assets"]),
        **{name: np.load(folder / f"activity_{name}.npy", mmap_mode="r")
           for name in _ACTIVITY_ARRAYS},
    )
    return GraphParts(graph=graph, activity=activity, extra={"folder": str(folder)}, **parts)


def hop_table(
    parts: GraphParts, direction: str, max_hops: int,
    compute: Callable[[], np.ndarray],
) -> np.ndarray:
    """The multi-source hop table (uint8[n_nodes, n_categories]) of a cached graph, computed
    once by ``compute`` and kept beside the graph (atomically, under the chain's lock)."""
    folder = parts.extra.get("folder")
    if folder is None:
        return compute()
    path = Path(folder) / f"hops-{direction}-{max_hops}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    with file_lock(Path(folder).parent / f"{parts.graph.chain}.lock"):
        if path.exists():
            return np.load(path, mmap_mode="r")
        table = np.ascontiguousarray(compute(), dtype=np.uint8)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=folder)
        os.close(fd)
        try:
            with open(tmp, "wb") as handle:
                np.save(handle, table, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return np.load(path, mmap_mode="r")


def graph_for(
    con: duckdb.DuckDBPyConnection,
    db_file: Path,
    chain: str,
    settings: GraphSettings,
    categories: tuple[str, ...],
) -> tuple[GraphParts, bool]:
    """The graph of ``chain`` from the cache, built first if the data or settings changed.

    Returns ``(parts, built)``. Several processes asking at once build it once (file lock).
    """
    key = cache_key(data_state(con, chain), settings, categories)
    if str(db_file) == ":memory:":
        return build_graph(con, chain, settings, categories, key=key), True
    root = cache_root(db_file)
    folder = root / f"{chain}-{key}"
    cached = _try_load(folder)
    if cached is not None:
        return cached, False
    with file_lock(root / f"{chain}.lock"):
        cached = _try_load(folder)
        if cached is not None:
            return cached, False
        parts = build_graph(con, chain, settings, categories, key=key)
        try:
            save(parts, folder)
        except OSError:
            return parts, True  # a cache folder we may not write: use the graph in memory
        _prune(root, chain, keep=folder.name)
    return load(folder), True


#: Graphs of one chain kept besides the current one (other settings, e.g. another degree cap,
#: used by other officers at the same time).
KEEP_OTHERS = 3


def _prune(root: Path, chain: str, keep: str) -> None:
    others = sorted(
        (p for p in root.glob(f"{chain}-*") if p.is_dir() and p.name != keep and "." not in p.name),
        key=lambda p: p.stat().st_mtime, reverse=True,
    )
    for old in others[KEEP_OTHERS:]:
        shutil.rmtree(old, ignore_errors=True)


def _try_load(folder: Path) -> GraphParts | None:
    if not (folder / "meta.json").exists():
        return None
    try:
        return load(folder)
    except (OSError, ValueError, KeyError):
        shutil.rmtree(folder, ignore_errors=True)  # damaged or an older format: rebuild
        return None
