"""The graph cache: CSR arrays saved as .npy files and memory-mapped, keyed by the data's state.

A cached graph is reused while the store's transfers, labels and the filter settings are the
same; anything else builds a new one. Files are written to a temporary folder and renamed, so
a crash never leaves a half-written cache that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .build import GraphParts, build_graph
from .csr import Graph
from .settings import GraphSettings

_ARRAYS = (
    "out_indptr", "out_indices", "out_edge", "in_indptr", "in_indices", "in_edge",
    "edge_value", "edge_first", "edge_last", "node_cats", "node_stop",
)
FORMAT = 2


def data_state(con: duckdb.DuckDBPyConnection, chain: str) -> dict:
    """What the graph of ``chain`` depends on: indexed ranges, row counts, label versions."""
    checkpoints = con.execute(
        "SELECT stream, first_block, last_block FROM checkpoints WHERE chain = ? ORDER BY 1",
        [chain],
    ).fetchall()
    counts = con.execute(
        "SELECT (SELECT count(*) FROM token_transfers WHERE chain = $c), "
        "(SELECT count(*) FROM native_transfers WHERE chain = $c), "
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
    return {
        "chain": chain,
        "checkpoints": [list(map(str, c)) for c in checkpoints],
        "counts": [str(c) for c in counts],
        "labels": [str(x) for x in labels],
        "packs": hashlib.sha256("".join(p[0] for p in packs).encode()).hexdigest()[:16],
        "assets": [list(map(str, a)) for a in assets],
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


def save(parts: GraphParts, folder: Path) -> None:
    """Write a graph atomically into ``folder``."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        g = parts.graph
        for name in _ARRAYS:
            np.save(tmp / f"{name}.npy", getattr(g, name), allow_pickle=False)
        pq.write_table(pa.table({"address": parts.addresses}), tmp / "nodes.parquet")
        pq.write_table(parts.evidence, tmp / "edges.parquet")
        (tmp / "meta.json").write_text(
            json.dumps({"chain": g.chain, "categories": list(g.categories), "key": g.key,
                        "meta": g.meta, "format": FORMAT})
        )
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load(folder: Path) -> GraphParts:
    """Memory-map a cached graph."""
    meta = json.loads((folder / "meta.json").read_text())
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
    graph = Graph(
        chain=meta["chain"], categories=tuple(meta["categories"]), key=meta["key"],
        meta=meta["meta"], **arrays,
    )
    nodes = pq.read_table(folder / "nodes.parquet", memory_map=True)["address"].combine_chunks()
    evidence = pq.read_table(folder / "edges.parquet", memory_map=True)
    return GraphParts(graph, nodes, evidence)


def graph_for(
    con: duckdb.DuckDBPyConnection,
    db_file: Path,
    chain: str,
    settings: GraphSettings,
    categories: tuple[str, ...],
) -> tuple[GraphParts, bool]:
    """The graph of ``chain`` from the cache, built first if the data or settings changed.

    Returns ``(parts, built)``.
    """
    key = cache_key(data_state(con, chain), settings, categories)
    folder = cache_root(db_file) / f"{chain}-{key}"
    if (folder / "meta.json").exists():
        try:
            return load(folder), False
        except (OSError, ValueError, KeyError):
            shutil.rmtree(folder, ignore_errors=True)  # damaged: rebuild
    parts = build_graph(con, chain, settings, categories, key=key)
    if str(db_file) != ":memory:":
        for old in cache_root(db_file).glob(f"{chain}-*"):
            if old.is_dir() and old.name != folder.name and "." not in old.name:
                shutil.rmtree(old, ignore_errors=True)
        save(parts, folder)
    return parts, True
