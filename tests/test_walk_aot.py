"""The ahead-of-time build of a screen's two kernels: same answers as the JIT kernels, no numba.

A screen process that finds the build (``./scripts/setup`` makes it) walks with it and never
imports numba; one that does not (no build, a stale one, a corrupt file) walks with the JIT
kernels and gets the same report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.graph.csr import Graph
from exposure.walk import Walker, aot, build_csr
from exposure.walk.cache import kernel_cache_dir

REPO = Path(__file__).resolve().parents[1]
CATS = ("mainland_exchange", "rwa", "sanction")


@pytest.fixture(scope="module")
def compiled_folder(tmp_path_factory) -> Path:
    """A folder holding the current build: the user's cache if setup built it, else a new one."""
    folder = kernel_cache_dir()
    if folder and aot.load(folder) is not None:
        return Path(folder)
    fresh = tmp_path_factory.mktemp("aot")
    aot.build(fresh)
    return fresh


@pytest.fixture(scope="module")
def compiled_env(compiled_folder):
    """Walkers of this module find the build (where aot.load looks: NUMBA_CACHE_DIR)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NUMBA_CACHE_DIR", str(compiled_folder))
        yield compiled_folder


def random_graph(seed: int, n: int, m: int, edge_dtype=np.int32) -> Graph:
    rng = np.random.default_rng(seed)
    pairs = sorted({(int(u), int(v)) for u, v in rng.integers(0, n, (m, 2))})
    src = np.array([u for u, _ in pairs], dtype=np.int32)
    dst = np.array([v for _, v in pairs], dtype=np.int32)
    out, inn = build_csr(n, src, dst), build_csr(n, dst, src)
    if edge_dtype == np.int64:
        out = (out[0], out[1], out[2].astype(np.int64))
        inn = (inn[0], inn[1], inn[2].astype(np.int64))
    value = rng.choice([0.0, np.nan, 1.0, 3.5, 1e6, 1e-3], size=len(pairs))
    node_cats = np.zeros(n, dtype=np.uint64)
    labelled = rng.choice(n, max(1, n // 8), replace=False)
    node_cats[labelled] = rng.integers(1, 8, labelled.shape[0]).astype(np.uint64)
    node_stop = np.zeros(n, dtype=np.uint8)
    node_stop[rng.choice(n, max(1, n // 10), replace=False)] = 1
    node_stop[node_cats != 0] = 0
    times = np.zeros(len(pairs), dtype=np.int64)
    return Graph("test", CATS, *out, *inn, value, times, times, node_cats, node_stop)


def test_the_build_is_named_after_the_kernels_and_loads_without_numba(compiled_folder):
    path = aot.module_path(compiled_folder)
    assert path is not None and path.is_file()
    assert path.name.startswith(aot.module_name())
    code = ("import sys; from exposure.walk import aot; "
            f"m = aot.load({str(compiled_folder)!r}); "
            "print(m is not None, 'numba' in sys.modules, sorted(n for n in dir(m) "
            "if n.endswith(('_e32', '_e64'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.split(" ", 2)
    assert out[:2] == ["True", "False"]
    assert "bfs_nearest_e32" in out[2] and "value_share_e64" in out[2]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(2, 60), density=st.floats(0.5, 4.0),
       max_hops=st.integers(0, 7), wide=st.booleans(), max_stops=st.integers(0, 5))
def test_compiled_walks_equal_the_jit_walks(compiled_env, seed, n, density, max_hops, wide,
                                            max_stops):
    graph = random_graph(seed, n, int(n * density), np.int64 if wide else np.int32)
    fast = Walker(graph, max_stops=max_stops, compiled=True)
    slow = Walker(graph, max_stops=max_stops, compiled=False)
    assert fast.compiled and not slow.compiled
    rng = np.random.default_rng(seed)
    for start in rng.choice(n, min(n, 5), replace=False):
        for direction in ("in", "out"):
            for cats in (None, ("rwa",), ("sanction", "mainland_exchange")):
                assert (fast.nearest(int(start), direction, max_hops, cats)
                        == slow.nearest(int(start), direction, max_hops, cats))
            for tol in (0.0, 1e-4, 0.3):
                # bit for bit: the same source compiled by the same numba
                assert (fast.shares(int(start), direction, max_hops, tol)
                        == slow.shares(int(start), direction, max_hops, tol))


def test_without_a_current_build_the_walker_uses_the_jit_kernels(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    graph = random_graph(1, 20, 60)
    assert not Walker(graph).compiled
    # a stale or broken file under the current name is not loaded either
    path = aot.module_path(tmp_path)
    path.write_bytes(b"not a shared object")
    aot._loaded.clear()
    walker = Walker(graph)
    assert not walker.compiled
    assert walker.nearest(0, "out").start == 0


def test_a_cli_screen_with_the_build_never_imports_numba(compiled_folder, exposure_world):
    """The officer's screen: the whole CLI process, as run from a shell, on the anvil scenario
    (c1 received from the mainland-serving exchange directly), once the graph is cached (the
    first screen of a store builds it, with the JIT kernels)."""
    db, scenario = exposure_world
    env = {**os.environ, "NUMBA_CACHE_DIR": str(compiled_folder)}
    code = ("import sys, json; from exposure.cli import main\n"
            "code = main(sys.argv[1:])\n"
            "print(json.dumps({'numba': 'numba' in sys.modules}), file=sys.stderr)\n"
            "raise SystemExit(code)")
    args = ["screen", scenario.names["c1"], "--db", str(db), "--format", "json"]
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                              text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == {"numba": False}
    report = json.loads(proc.stdout)
    found = {(e["category"], e["direction"]): e["hops"] for e in report["exposures"]}
    assert found[("mainland_exchange", "in")] == 1
