"""The graph cache: memory-mapped arrays keyed by the data's state, written atomically."""

from __future__ import annotations

import shutil

import numpy as np

from exposure.graph.cache import cache_root, graph_for, hop_table
from exposure.graph.settings import GraphSettings
from exposure.labels.taxonomy import SCREENING_CATEGORIES
from exposure.store import connect
from tests.test_batch import addr

CATS = tuple(SCREENING_CATEGORIES)


def _store(exposure_world, tmp_path):
    source, _ = exposure_world
    db = tmp_path / "s.duckdb"
    shutil.copy(source, db)
    return db


def test_a_cached_graph_is_memory_mapped_and_answers_lookups_by_binary_search(
    exposure_world, tmp_path
):
    db = _store(exposure_world, tmp_path)
    con = connect(db, read_only=True)
    try:
        built, was_built = graph_for(con, db, "devchain", GraphSettings(), CATS)
        cached, again = graph_for(con, db, "devchain", GraphSettings(), CATS)
        addresses = [r[0] for r in con.execute(
            "SELECT DISTINCT from_address FROM transfers UNION SELECT to_address FROM transfers"
        ).fetchall()]
    finally:
        con.close()
    assert was_built and not again
    assert isinstance(cached.graph.out_indices, np.memmap)
    assert isinstance(cached.addr_text, np.memmap)
    # every address with a transfer is a node, in address order
    assert cached.graph.n_nodes == len(addresses)
    assert [cached.node_address(i) for i in range(cached.graph.n_nodes)] == sorted(addresses)
    for a in addresses:
        assert cached.node_address(cached.node_of(a)) == a
    assert cached.node_of("0x" + "00" * 19 + "ff") is None
    assert cached.node_of("x" * 500) is None  # longer than any address: not found, no error
    c1 = addr("c1").lower()
    node = cached.node_of(c1)
    lo, hi = int(cached.activity.ptr[node]), int(cached.activity.ptr[node + 1])
    assert hi > lo and int(cached.activity.count[lo:hi].sum()) > 0
    for name in ("out_indptr", "out_indices", "in_indptr", "in_indices", "edge_value"):
        assert np.array_equal(getattr(built.graph, name), getattr(cached.graph, name))


def test_the_hop_table_is_computed_once_and_kept_with_the_graph(exposure_world, tmp_path):
    db = _store(exposure_world, tmp_path)
    con = connect(db, read_only=True)
    try:
        parts, _ = graph_for(con, db, "devchain", GraphSettings(), CATS)
    finally:
        con.close()
    calls = []

    def compute():
        calls.append(1)
        return np.full((parts.graph.n_nodes, len(CATS)), 3, dtype=np.uint8)

    first = hop_table(parts, "in", 6, compute)
    second = hop_table(parts, "in", 6, compute)
    assert calls == [1]
    assert np.array_equal(first, second) and int(second[0, 0]) == 3
    assert (cache_root(db) / f"devchain-{parts.graph.key}" / "hops-in-6.npy").exists()


def test_a_damaged_cache_is_rebuilt_and_other_settings_keep_their_graphs(
    exposure_world, tmp_path
):
    db = _store(exposure_world, tmp_path)
    con = connect(db, read_only=True)
    try:
        parts, _ = graph_for(con, db, "devchain", GraphSettings(), CATS)
        expected = np.array(parts.graph.out_indices)
        folder = cache_root(db) / f"devchain-{parts.graph.key}"
        damaged = folder / "out_indices.npy"
        damaged.unlink()  # a new file: the mapping above keeps the old one (as renames do)
        damaged.write_bytes(b"garbage")
        rebuilt, was_built = graph_for(con, db, "devchain", GraphSettings(), CATS)
        assert was_built
        assert np.array_equal(rebuilt.graph.out_indices, expected)
        other, _ = graph_for(con, db, "devchain", GraphSettings(degree_cap=20), CATS)
        assert other.graph.key != parts.graph.key
    finally:
        con.close()
    kept = sorted(p.name for p in cache_root(db).iterdir() if p.is_dir())
    assert kept == sorted([f"devchain-{parts.graph.key}", f"devchain-{other.graph.key}"])
