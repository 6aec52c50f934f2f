"""Shared fixtures: real local nodes (anvil from npm) on 127.0.0.1, started by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

# bitcoinlib writes a data folder at import: keep it out of the home directory in tests.
os.environ.setdefault("BCL_DATA_DIR", tempfile.mkdtemp(prefix="exposure-bcl-"))

import pytest

from exposure.devchain import Anvil, DevChain, Scenario, find_anvil, seed_scenario

REPO = Path(__file__).resolve().parents[1]


def _require(find: Callable[[], str], name: str) -> None:
    try:
        find()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise  # CI installs it: a missing node there is a failure, not a skip
        pytest.skip(f"{name} not installed: {exc}")


def _require_anvil() -> None:
    _require(find_anvil, "anvil")


def require_bcoin() -> None:
    """Skip the test where bcoin (npm) is not installed; in CI its absence is a failure."""
    from exposure.devchain.bitcoin import find_bcoin

    _require(find_bcoin, "bcoin")


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    """A fresh anvil node for one test."""
    _require_anvil()
    with Anvil() as node:
        yield node


@pytest.fixture
def chain(anvil: Anvil) -> Iterator[DevChain]:
    """A client for the test's own anvil node."""
    with anvil.chain() as dev:
        yield dev


@pytest.fixture
def scenario(chain: DevChain) -> Scenario:
    """The built-in scenario played on the test's own node."""
    return seed_scenario(chain)


@pytest.fixture(scope="module")
def shared_scenario() -> Iterator[tuple[Anvil, Scenario]]:
    """One node with the scenario, shared by a module's read-only tests (do not mutate it)."""
    _require_anvil()
    with Anvil() as node, node.chain() as dev:
        yield node, seed_scenario(dev)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``python -m exposure ARGS`` as a user would; returns the finished process."""
    full_env = {**os.environ, "CI": "true", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "exposure", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=REPO,
    )


@pytest.fixture(scope="session")
def exposure_world(tmp_path_factory):
    """The exposure scenario indexed into a store with its demo labels: (db path, scenario).

    Shared by the screening and batch tests; read-only use only.
    """
    from exposure.demo import load_scenario
    from exposure.devchain.exposure_scenario import seed_exposure_scenario
    from exposure.store import connect

    _require_anvil()
    folder = tmp_path_factory.mktemp("exposure-world")
    db = folder / "s.duckdb"
    with Anvil() as node, node.chain() as chain:
        s = seed_exposure_scenario(chain)
        con = connect(db)
        _, report = load_scenario(con, node.url, s, folder / "demo.yaml")
        assert report.failed_files == (), report.problems
        con.close()
    return db, s


@pytest.fixture(scope="session")
def real_world(tmp_path_factory) -> Path:
    """The real-shaped store of :mod:`tests.realshaped` (read-only use only)."""
    from tests.realshaped import build_real_shaped_store

    return build_real_shaped_store(tmp_path_factory.mktemp("real-shaped"))


def comparable_rows(con, table: str, *, ordered: bool = True) -> list[tuple]:
    """A table's rows for comparing two stores: address ids are store-local (their order
    depends on what was written first), so they are checked against ``addresses`` here and
    left out of the rows."""
    from exposure.store.schema import ADDRESS_TABLES

    order = " ORDER BY ALL" if ordered else ""
    if table not in ADDRESS_TABLES:
        return con.execute(f"SELECT * FROM {table}{order}").fetchall()
    wrong = con.execute(
        f"SELECT count(*) FROM {table} t LEFT JOIN addresses f ON f.chain = t.chain "
        f"AND f.id = t.from_id LEFT JOIN addresses d ON d.chain = t.chain AND d.id = t.to_id "
        f"WHERE f.address IS DISTINCT FROM t.from_address OR d.address IS DISTINCT FROM t.to_address"
    ).fetchall()[0][0]
    assert wrong == 0, f"{table}: {wrong} rows whose address ids do not match their addresses"
    return con.execute(f"SELECT * EXCLUDE (from_id, to_id) FROM {table}{order}").fetchall()
