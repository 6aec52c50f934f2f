"""Shared fixtures: real local nodes (anvil from npm) on 127.0.0.1, started by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

# bitcoinlib writes a data folder at import: keep it out of the home directory in tests.
os.environ.setdefault("BCL_DATA_DIR", tempfile.mkdtemp(prefix="exposure-bcl-"))

import pytest

from exposure.devchain import Anvil, DevChain, Scenario, find_anvil, seed_scenario

REPO = Path(__file__).resolve().parents[1]


def _require_anvil() -> None:
    try:
        find_anvil()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise  # CI installs it: a missing node there is a failure, not a skip
        pytest.skip(f"anvil not installed: {exc}")


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
    from exposure.devchain.exposure_scenario import scenario_tagpack, seed_exposure_scenario
    from exposure.domain import ChainSpec, Token
    from exposure.indexers.evm import IndexSettings, index_evm
    from exposure.labels.catalog import ensure_shipped, import_labels
    from exposure.store import connect

    _require_anvil()
    folder = tmp_path_factory.mktemp("exposure-world")
    db = folder / "s.duckdb"
    with Anvil() as node, node.chain() as chain:
        s = seed_exposure_scenario(chain)
        con = connect(db)
        spec = ChainSpec(
            "devchain", None, "ETH", 18, (Token("USDT", s.usdt, 6), Token("USDC", s.usdc, 6))
        )
        index_evm(con, node.url, chain=spec, settings=IndexSettings(confirmations=0))
        ensure_shipped(con)
        (folder / "demo.yaml").write_text(scenario_tagpack(s))
        report = import_labels(con, [folder / "demo.yaml"])
        assert report.failed_files == (), report.problems
        con.close()
    return db, s
