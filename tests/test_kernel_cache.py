"""The walk kernels never crash the process, whatever state numba's on-disk cache was left in.

Regression for the SIGSEGV in ``counting_sort_csr`` after several processes had run the kernels
for the first time (numba issues #8578: a cached function calling a ``parallel=True`` one, and
#10128: processes racing on the cache index). Every check runs in fresh processes against an
empty ``NUMBA_CACHE_DIR`` of its own, since only a process that *loads* from the cache crashes.

Workers are this module's ``_worker`` run with ``python -c``; each prints one JSON line with
sha1 digests of what it computed, checked here against references built in this process
(a stable numpy argsort for the CSR, the serial batch kernel for the hops).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numba
import numpy as np
import pytest
from numba.core.dispatcher import Dispatcher

from exposure.graph.csr import Graph, csr_from_edges
from exposure.walk import batch_hops, kernels
from exposure.walk.cache import COMPILE_LOCK_NAME

REPO = Path(__file__).resolve().parents[1]
#: The size of the graph the crash was seen on.
BIG = (1_000_000, 7_000_000)
SMALL = (2_000, 12_000)
CATS = ("exchange", "sanction", "mixer")


# --------------------------------------------------------------------------------------------
# graphs, references, workers
# --------------------------------------------------------------------------------------------


def edge_list(n_nodes: int, n_edges: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_edges`` distinct random pairs sorted by ``(src, dst)``, as read-only int32 arrays
    (what Arrow's zero-copy ``to_numpy()`` hands over)."""
    rng = np.random.default_rng(seed)
    keys = np.sort(rng.integers(0, n_nodes * n_nodes, int(n_edges * 1.01) + 16))
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]  # np.unique is slow here
    keys = np.delete(keys, rng.choice(keys.shape[0], keys.shape[0] - n_edges, replace=False))
    src = (keys // n_nodes).astype(np.int32)
    dst = (keys % n_nodes).astype(np.int32)
    assert src.shape[0] == n_edges
    src.setflags(write=False)
    dst.setflags(write=False)
    return src, dst


def graph_of(n_nodes: int, src: np.ndarray, dst: np.ndarray, seed: int) -> Graph:
    """A Graph over the edges with 0.5% labelled nodes (one of ``CATS`` each), 20 stop nodes."""
    rng = np.random.default_rng(seed + 1)
    out = csr_from_edges(n_nodes, src, dst)
    inn = csr_from_edges(n_nodes, dst, src)
    node_cats = np.zeros(n_nodes, dtype=np.uint64)
    labelled = rng.choice(n_nodes, max(3, n_nodes // 200), replace=False)
    node_cats[labelled] = np.uint64(1) << rng.integers(0, len(CATS), labelled.shape[0]).astype(
        np.uint64)
    node_stop = np.zeros(n_nodes, dtype=np.uint8)
    node_stop[rng.choice(n_nodes, 20, replace=False)] = 1
    node_stop[node_cats != 0] = 0
    m = src.shape[0]
    zeros = np.zeros(m, dtype=np.int64)
    return Graph("test", CATS, *out, *inn, np.ones(m), zeros, zeros, node_cats, node_stop)


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha1()
    for a in arrays:
        h.update(str(a.dtype).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def reference_csr(n_nodes: int, src: np.ndarray, dst: np.ndarray) -> str:
    """Digest of the CSR of ``src -> dst`` by a stable numpy argsort (the oracle)."""
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_nodes), out=indptr[1:])
    return digest(indptr, dst[order], order.astype(np.int32))


def _worker(kind: str, seed: int, barrier: str = "", n_ready: int = 0) -> None:
    """Run in a fresh process: compute, print ``{"name": digest, ...}`` as one JSON line.

    ``kind``: ``small`` (a small CSR with read-only and writable inputs and the batch kernel,
    serial and parallel, in two bit widths), ``big`` (the 1M/7M graph: both CSR directions
    from read-only arrays, then batch hops both ways, parallel), or ``step-rw``, ``step-ro``,
    ``step-big`` (one ``counting_sort_csr`` call of the deterministic crash sequence).
    With ``barrier``, wait until ``n_ready`` workers have reached it before computing.
    """
    if barrier:
        Path(barrier, f"ready-{os.getpid()}").touch()
        deadline = time.monotonic() + 120
        while len(list(Path(barrier).glob("ready-*"))) < n_ready:
            if time.monotonic() > deadline:
                raise SystemExit("barrier timeout")
            time.sleep(0.01)
    result = {}
    if kind.startswith("step-"):
        n, m = BIG if kind == "step-big" else SMALL
        src, dst = edge_list(n, m, seed)
        if kind == "step-rw":
            src, dst = src.copy(), dst.copy()
        csr = kernels.counting_sort_csr(np.int64(n), src, dst, np.zeros(1, np.int32))
        result["out"] = digest(*csr)
    else:
        n, m = BIG if kind == "big" else SMALL
        src, dst = edge_list(n, m, seed)
        g = graph_of(n, src, dst, seed)
        result["out"] = digest(g.out_indptr, g.out_indices, g.out_edge)
        result["in"] = digest(g.in_indptr, g.in_indices, g.in_edge)
        if kind == "small":
            again = csr_from_edges(n, src.copy(), dst.copy())  # writable: same kernels
            result["out_writable"] = digest(*again)
            # a second edge dtype and bit width: more than one entry in the cache indexes
            wide = kernels.counting_sort_csr(np.int64(n), dst, src, np.zeros(1, np.int64))
            result["in_int64"] = digest(wide[0], wide[1], wide[2].astype(np.int32))
        for direction in ("out", "in"):
            result[f"hops_{direction}"] = digest(batch_hops(g, direction, parallel=True))
            if kind == "small":
                result[f"hops_{direction}_serial"] = digest(batch_hops(g, direction,
                                                                       parallel=False))
                ip, ix, _ = g.adjacency(direction)
                rip, rix, _ = g.adjacency("in" if direction == "out" else "out")
                wide = kernels.multi_source_hops(ip, ix, rip, rix, g.node_cats, g.node_stop, 6,
                                                 len(CATS), True, 2, 0.0,
                                                 np.zeros(1, np.uint16),
                                                 np.zeros((7, 3), np.int64))
                result[f"hops_{direction}_uint16"] = digest(wide)
        result["signatures"] = {name: len(obj.signatures) for name, obj in vars(kernels).items()
                                if isinstance(obj, Dispatcher) and obj.signatures}
    print(json.dumps(result), flush=True)


def start(kind: str, seed: int, cache: Path, *extra: object) -> subprocess.Popen:
    """``_worker(kind, seed, *extra)`` in a fresh interpreter with ``NUMBA_CACHE_DIR=cache``."""
    code = f"from tests.test_kernel_cache import _worker; _worker(*{(kind, seed, *extra)!r})"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, what: str) -> dict:
    """Wait for a worker: no crash (a negative code is the signal that killed it), its JSON."""
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, (
        f"{what}: exit code {proc.returncode}"
        f"{f' (killed by signal {-proc.returncode})' if proc.returncode < 0 else ''}"
        f"\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def references() -> dict:
    """Per size, the oracle CSR digests and the serial batch kernel's hops (this process)."""
    refs = {}
    for size, (n, m), seed in (("small", SMALL, 3), ("big", BIG, 5)):
        src, dst = edge_list(n, m, seed)
        g = graph_of(n, src, dst, seed)
        refs[size] = {
            "out": reference_csr(n, src, dst),
            "in": reference_csr(n, dst, src),
            **{f"hops_{d}": digest(batch_hops(g, d, parallel=False)) for d in ("out", "in")},
        }
    return refs


def concurrent_cold_start_then_big_builds(tmp_path: Path, references: dict, rounds: int) -> None:
    """Per round: 4 workers start at once on an empty cache, then 2 fresh 1M/7M builds."""
    small, big = references["small"], references["big"]
    for r in range(rounds):
        cache = tmp_path / f"cache-{r}"
        barrier = tmp_path / f"barrier-{r}"
        barrier.mkdir()
        procs = [start("small", 3, cache, str(barrier), 4) for _ in range(4)]
        results = [finish(p, f"round {r}, cold-start worker {i}") for i, p in enumerate(procs)]
        for res in results:
            for key in ("out", "in", "hops_out", "hops_in"):
                assert res[key] == small[key], key
            assert res["out_writable"] == small["out"]
            assert res["in_int64"] == small["in"]
            for d in ("out", "in"):
                assert res[f"hops_{d}_serial"] == small[f"hops_{d}"]
                assert res[f"hops_{d}_uint16"] == small[f"hops_{d}"]
            # writable and read-only inputs share one compiled variant per dtype choice
            assert res["signatures"]["_bucket_edges"] == 2  # edge ids int32 and int64
            assert res["signatures"]["_count_rows"] == 1
            assert res["signatures"]["_scatter_buckets"] == 2
            assert res["signatures"]["rows_ascending"] == 1
        assert list(cache.glob(f"*/{COMPILE_LOCK_NAME}"))
        for i in range(2):
            res = finish(start("big", 5, cache), f"round {r}, 1M/7M build {i}")
            for key in ("out", "in", "hops_out", "hops_in"):
                assert res[key] == big[key], key


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------


def test_no_jitted_kernel_calls_a_parallel_kernel():
    parallel = {name for name, obj in vars(kernels).items()
                if isinstance(obj, Dispatcher) and obj.targetoptions.get("parallel")}
    assert {"_count_rows", "_scatter_buckets", "_pull_level_parallel"} <= parallel
    for name, obj in vars(kernels).items():
        if isinstance(obj, Dispatcher):
            called = set(obj.py_func.__code__.co_names) & parallel
            assert not called, f"{name} calls the parallel kernel(s) {sorted(called)}"


def test_counting_sort_csr_survives_writable_then_read_only_then_big_run_from_the_cache(
        tmp_path, references):
    """The deterministic crash: (1) writable small, (2) read-only small, (3) read-only 1M/7M,
    each in a fresh process on one cache; (3) died with SIGSEGV before the fix."""
    cache = tmp_path / "cache"
    assert finish(start("step-rw", 3, cache), "step 1")["out"] == references["small"]["out"]
    assert finish(start("step-ro", 3, cache), "step 2")["out"] == references["small"]["out"]
    assert finish(start("step-big", 5, cache), "step 3")["out"] == references["big"]["out"]


def test_kernels_survive_a_concurrent_cold_start_and_big_builds_from_that_cache(
        tmp_path, references):
    concurrent_cold_start_then_big_builds(tmp_path, references, rounds=1)


@pytest.mark.slow
def test_kernels_survive_five_concurrent_cold_starts_and_big_builds(tmp_path, references):
    concurrent_cold_start_then_big_builds(tmp_path, references, rounds=5)


def test_default_cache_is_versioned_outside_the_source_tree(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = ("import numpy as np; from exposure.graph.csr import csr_from_edges; "
            "print(csr_from_edges(3, np.array([0, 1]), np.array([2, 2]))[0].tolist())")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[0, 1, 2, 2]"
    folders = list((tmp_path / "exposure").iterdir())
    version = metadata.version("exposure")
    py = f"{sys.version_info[0]}{sys.version_info[1]}"
    assert [f.name for f in folders] == [f"numba-{numba.__version__}-exposure-{version}-py{py}"]
    assert list(folders[0].glob("walk_*/kernels._bucket_edges-*.nbi"))
    assert list(folders[0].glob(f"walk_*/{COMPILE_LOCK_NAME}"))


def test_a_user_numba_cache_dir_is_respected(tmp_path):
    cache = tmp_path / "mine"
    assert finish(start("step-rw", 3, cache), "worker")["out"]
    assert list(cache.glob("walk_*/kernels._bucket_edges-*.nbi"))
