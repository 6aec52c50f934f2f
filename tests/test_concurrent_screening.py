"""Several officers at once: screens and batches in parallel processes on one store.

Screening never writes the store (DESIGN 3): the graph and its hop tables live in the graph
cache beside it, built once under a file lock, so no process meets "being written by another
process" and the store file is byte-for-byte the same afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

from tests.conftest import REPO
from tests.test_batch import addr, book


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "CI": "true"}
    return subprocess.Popen([sys.executable, "-m", "exposure", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_screens_and_batches_run_at_once_on_a_cold_cache_and_never_write_the_store(
    exposure_world, tmp_path
):
    source, _ = exposure_world
    db = tmp_path / "s.duckdb"
    shutil.copy(source, db)  # a cold graph cache: every process wants the graph built
    before = _digest(db)
    customers = ["c1", "c2", "c4", "c5", "c7", "c9"]
    path = book(tmp_path, [(c, addr(c)) for c in customers])
    procs = [
        _start("batch", str(path), "--out", str(tmp_path / f"b{i}.json"), "--db", str(db),
               "--degree-cap", "20")
        for i in range(2)
    ] + [
        _start("screen", addr(c), "--format", "json", "--db", str(db), "--degree-cap", "20")
        for c in customers[:4]
    ]
    results = [(p, *p.communicate(timeout=300)) for p in procs]
    for p, _, err in results:
        assert p.returncode == 0, err
        assert "being written" not in err and "in use" not in err
    assert _digest(db) == before
    first, second = (json.loads((tmp_path / f"b{i}.json").read_text()) for i in range(2))
    assert first == second
    screens = [json.loads(out) for _, out, _ in results[2:]]
    for customer, report in zip(customers, screens, strict=False):
        row = next(r for r in first if r["input"] == addr(customer))
        for e in report["exposures"]:
            assert row[f"hops_{e['category']}_{e['direction']}"] == e["hops"], customer
    graphs = [p for p in (tmp_path / "s.duckdb.graphs").iterdir() if p.is_dir()]
    assert len(graphs) == 1, graphs  # built once, not once per process
    assert sorted(p.name for p in graphs[0].glob("hops-*.npy")) == [
        "hops-in-6.npy", "hops-out-6.npy"]
