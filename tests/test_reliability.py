"""Reliability under faults, crashes, reorganisations and concurrent readers (short forms).

Real anvil and bcoin nodes sit behind the fault-injecting JSON-RPC proxy (tests/proxy.py,
tests/faults.py). The oracle is always a fault-free run of the same chain: the stores must be
identical row for row. ``python bench/reliability.py`` runs the same scenarios at full size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from exposure.devchain import Anvil
from exposure.errors import StoreError
from exposure.store import connect
from tests.conftest import REPO, _require_anvil, run_cli
from tests.faults import (
    EVM_TABLES,
    FaultPlan,
    build_evm_soak_chain,
    crash_evm,
    diff_rows,
    index_evm_store,
    soak_btc,
    soak_evm,
    table_rows,
)
from tests.proxy import FAULT_KINDS, ProxyRules, RpcProxy

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def long_chain(tmp_path_factory):
    """A 1,500-block anvil chain with about 300 token transfers, and its fault-free store."""
    _require_anvil()
    with Anvil() as node, node.chain() as chain:
        soak = build_evm_soak_chain(chain, blocks=1_500, transfers=300, rounds=6)
        reference = tmp_path_factory.mktemp("reliability") / "reference.duckdb"
        index_evm_store(node.url, reference, soak, max_native_blocks=50)
        yield node, soak, table_rows(reference, EVM_TABLES)


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_at_a_20_percent_rate_loses_and_duplicates_nothing(long_chain, tmp_path, kind):
    node, soak, reference = long_chain
    plan = FaultPlan(0.2, kinds=(kind,), seed=FAULT_KINDS.index(kind))
    db = tmp_path / "x.duckdb"
    with RpcProxy(node.url, ProxyRules(faults=plan)) as proxy:
        index_evm_store(proxy.url, db, soak, max_native_blocks=100)
    assert plan.injected[kind] > 0
    diff = diff_rows(table_rows(db, EVM_TABLES), reference)
    assert (diff.lost, diff.duplicated) == (0, 0)


def test_an_evm_soak_at_10_percent_faults_with_a_reorg_equals_a_fault_free_run(tmp_path):
    _require_anvil()
    figures = soak_evm(tmp_path, blocks=2_000, transfers=300, rate=0.10, max_native_blocks=25)
    assert figures.faults.get("reorg") == 1 and figures.reorgs_seen >= 1
    assert sum(figures.faults.values()) >= 10
    assert figures.diff.compared > 2_000
    assert (figures.diff.lost, figures.diff.duplicated) == (0, 0)


def test_a_bitcoin_soak_at_10_percent_faults_with_a_reorg_equals_a_fault_free_run(tmp_path):
    from tests.conftest import require_bcoin

    require_bcoin()
    figures = soak_btc(tmp_path, blocks=160, payments=20, rate=0.10, max_blocks=10)
    assert figures.faults.get("reorg") == 1 and figures.reorgs_seen >= 1
    assert figures.transfers > 0 and sum(figures.faults.values()) >= 3
    assert (figures.diff.lost, figures.diff.duplicated) == (0, 0)


# -- crashes -----------------------------------------------------------------------------------


def test_sigkill_at_random_moments_shows_only_committed_batches_and_the_rerun_equals_the_reference(
    long_chain, tmp_path
):
    node, soak, _ = long_chain
    figures = crash_evm(tmp_path, node, soak, kills=5, seed=3, batch_blocks=40)
    assert figures.kills == 5
    assert figures.unclean_opens == 0 and figures.partial_batches_seen == 0
    assert (figures.diff.lost, figures.diff.duplicated) == (0, 0)


# -- concurrency -------------------------------------------------------------------------------


def _slow_indexer(node: Anvil, soak, db: Path, proxy: RpcProxy) -> subprocess.Popen:
    s = soak.scenario
    return subprocess.Popen(
        [sys.executable, "-m", "exposure", "index", "evm", "--rpc", proxy.url, "--chain", "local",
         "--confirmations", "0", "--token", f"USDT={s.usdt}:6", "--batch-blocks", "20",
         "--to-block", "400", "--db", str(db)],
        cwd=REPO, env={**os.environ, "CI": "true"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def test_a_screen_while_the_indexer_writes_says_retry_at_once_and_answers_afterwards(
    long_chain, tmp_path
):
    node, soak, _ = long_chain
    db = tmp_path / "x.duckdb"
    plan = FaultPlan(1.0, kinds=("latency",))  # every answer late: the run takes a while
    writing = threading.Event()

    def first_commit(request):
        if isinstance(request, list) and len(request) > 1:
            writing.set()
        return None

    with RpcProxy(node.url, ProxyRules(faults=plan, intercept=first_commit)) as proxy:
        indexer = _slow_indexer(node, soak, db, proxy)
        try:
            assert writing.wait(60)
            tries = []
            while indexer.poll() is None and len(tries) < 3:
                began = time.monotonic()
                done = run_cli("screen", soak.scenario.fresh_addresses[0], "--db", str(db))
                tries.append((done, time.monotonic() - began))
            in_python = []
            if indexer.poll() is None:
                began = time.monotonic()
                with pytest.raises(StoreError, match="being written by another process, retry"):
                    connect(db, read_only=True)
                in_python.append(time.monotonic() - began)
        finally:
            _, errors = indexer.communicate(timeout=300)
    assert indexer.returncode == 0, errors
    refused = [(d, t) for d, t in tries if d.returncode == 4]
    assert refused, "no screen ran while the indexer wrote"
    for done, seconds in tries:
        assert "Traceback" not in done.stderr
        if done.returncode == 4:
            assert "is being written by another process, retry" in done.stderr
            assert len(done.stderr.strip().splitlines()) == 1
            assert seconds < 15  # no waiting on the lock: only the interpreter's start-up
        else:
            assert done.returncode == 0, done.stderr
    assert all(t < 1 for t in in_python)
    after = run_cli("screen", soak.scenario.fresh_addresses[0], "--db", str(db))
    assert after.returncode == 0, after.stderr


def test_an_indexer_started_while_a_notebook_reads_fails_at_once_and_the_reader_is_unharmed(
    long_chain, tmp_path
):
    node, soak, reference = long_chain
    db = tmp_path / "x.duckdb"
    index_evm_store(node.url, db, soak, max_native_blocks=200)
    reader = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom exposure.store import connect\n"
         f"con = connect({str(db)!r}, read_only=True)\n"
         "print(con.execute('SELECT count(*) FROM blocks').fetchall()[0][0], flush=True)\n"
         "time.sleep(30)\n"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout is not None and int(reader.stdout.readline()) == soak.head + 1
        began = time.monotonic()
        done = run_cli("index", "evm", "--rpc", node.url, "--chain", "local", "--confirmations",
                       "0", "--db", str(db))
        seconds = time.monotonic() - began
    finally:
        reader.kill()
        reader.wait()
    assert done.returncode == 4 and "Traceback" not in done.stderr
    assert "retry" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert seconds < 15
    assert diff_rows(table_rows(db, EVM_TABLES), reference).identical


def test_a_transient_error_on_the_tracing_probe_does_not_drop_internal_transfers(
    long_chain, tmp_path
):
    node, soak, reference = long_chain
    failed = []

    def first_trace_fails(request):
        items = request if isinstance(request, list) else [request]
        if items[0].get("method") == "trace_block" and not failed:
            failed.append(items[0])
            body = [{"jsonrpc": "2.0", "id": i.get("id"),
                     "error": {"code": -32603, "message": "internal error"}} for i in items]
            return 200, json.dumps(body if isinstance(request, list) else body[0]).encode()
        return None

    db = tmp_path / "x.duckdb"
    with RpcProxy(node.url, ProxyRules(intercept=first_trace_fails)) as proxy:
        result = index_evm_store(proxy.url, db, soak, max_native_blocks=100)
    assert failed and result.tracing == "trace_block"
    assert diff_rows(table_rows(db, EVM_TABLES), reference).identical
