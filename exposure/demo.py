"""The one-command demo: a local chain with a scripted story, indexed, labelled and screened.

Starts anvil (from npm), deploys USDT- and USDC-like tokens, plays the exposure scenario
(customers, mule chains, an exchange hot wallet, an RWA issuer, dust / zero-value / counterfeit
poisoning transfers, a hub), indexes it with the real indexer, loads a demo label pack (marked
as demo data, never mixed with the real packs: its tags only name the scenario's addresses),
screens a few customers and writes their reports. The node is stopped at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .domain import ChainSpec, Token
from .errors import ExposureError
from .graph.settings import GraphSettings
from .report.model import Report

#: The demo's customers and what they illustrate.
CUSTOMERS = (
    ("c1", "paid by and paying the exchange directly"),
    ("c2", "two hops from the exchange, both ways"),
    ("c4", "four hops in from the exchange, four hops out to the RWA issuer"),
    ("c5", "funded by another labelled exchange: no mainland path through it"),
    ("c6", "dust, zero-value and counterfeit-token poisoning only"),
    ("c7", "behind an unlabelled hub above the degree cap"),
    ("c9", "a quarter of its funds trace back to the exchange"),
)


class DemoError(ExposureError):
    """The demo cannot run (a node cannot start); the message says what to install or free."""

    exit_code = 7


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced."""

    db: Path
    out_dir: Path
    reports: tuple[tuple[str, str, Report, Path], ...]
    blocks: int
    transfers: int
    seconds: float


def run_demo(
    db: Path,
    out_dir: Path,
    *,
    lang: str = "en",
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo into a fresh database ``db`` and write HTML reports into ``out_dir``."""
    from .devchain import Anvil, DevChainError
    from .devchain.exposure_scenario import addr, scenario_tagpack, seed_exposure_scenario
    from .indexers.evm import IndexSettings, index_evm
    from .labels.catalog import ensure_shipped, import_labels
    from .report.render import render
    from .screening import Screener, ScreenOptions
    from .store import connect

    step = on_step or (lambda message: None)
    began = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    try:
        node = Anvil()
        node.start()
    except FileNotFoundError as exc:
        raise DemoError(f"cannot start the local Ethereum node: {exc}") from None
    except DevChainError as exc:
        raise DemoError(
            f"cannot start the local Ethereum node (anvil): {exc}; if a port is taken, free it "
            "or set EXPOSURE_ANVIL to a working anvil"
        ) from None
    try:
        step(f"started anvil at {node.url}")
        with node.chain() as chain:
            scenario = seed_exposure_scenario(chain)
        step(f"played the scenario: {len(scenario.txs)} transactions")
        con = connect(db)
        try:
            spec = ChainSpec(
                "devchain", None, "ETH", 18,
                (Token("USDT", scenario.usdt, 6), Token("USDC", scenario.usdc, 6)),
            )
            result = index_evm(con, node.url, chain=spec,
                               settings=IndexSettings(confirmations=0))
            step(
                f"indexed blocks {result.from_block}-{result.to_block}: "
                f"{result.token_transfers} token and {result.native_transfers} ETH transfers"
            )
            ensure_shipped(con)
            pack = out_dir / "demo-labels.yaml"
            pack.write_text(scenario_tagpack(scenario), encoding="utf-8")
            report = import_labels(con, [pack])
            if report.failed_files:
                raise DemoError(f"demo labels failed: {report.problems[0]}")
            step(f"loaded the shipped label packs and the demo pack ({report.tags} demo tags)")
            screener = Screener(
                con, options=ScreenOptions(settings=GraphSettings(degree_cap=20))
            )
            reports = []
            for name, story in CUSTOMERS:
                rep = screener.screen(addr(name))
                path = out_dir / f"report-{name}.html"
                path.write_text(render(rep, "html", lang), encoding="utf-8")
                reports.append((name, story, rep, path))
            step(f"screened {len(reports)} customers")
        finally:
            con.close()
    finally:
        node.stop()
    return DemoResult(
        db=db, out_dir=out_dir, reports=tuple(reports), blocks=result.blocks,
        transfers=result.token_transfers + result.native_transfers,
        seconds=time.monotonic() - began,
    )
