"""The one-command demo: a local chain with a scripted story, indexed, labelled and screened.

Starts anvil (from npm) and, where installed, bcoin in regtest mode; deploys USDT- and USDC-like
tokens, plays the exposure scenario (customers, mule chains, an exchange hot wallet, an RWA
issuer, dust / zero-value / counterfeit poisoning transfers, a hub), indexes it with the real
indexers, loads demo label packs (marked as demo data, never mixed with the real packs: their
tags only name the demo chains' addresses), screens a few customers and writes their reports.
The nodes are stopped at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    bitcoin: str = "not run"


BTC = 100_000_000


def _bitcoin_part(con, out_dir: Path, lang: str, step: Callable[[str], None]) -> tuple[
    list[tuple[str, str, Report, Path]], str
]:
    """Where bcoin is installed: a regtest chain with an exchange paying a customer, a
    consolidation (clustered) and coinbase payouts (mining labels), indexed and screened."""
    from .devchain import DevChainError
    from .devchain.bitcoin import Bcoin, find_bcoin
    from .graph.clusters import compute_clusters
    from .indexers.bitcoin.indexer import BtcIndexSettings, index_btc
    from .indexers.rpc import RpcClient
    from .labels.catalog import import_labels
    from .labels.mining import derive_mining_labels
    from .report.render import render
    from .screening import Screener

    try:
        find_bcoin()
    except FileNotFoundError:
        return [], "skipped: bcoin is not installed (npm ci installs it)"
    try:
        with Bcoin() as node, node.chain() as btc:
            btc.mine(101)
            btc.create_wallet("exchange")
            btc.create_wallet("customer")
            funding = btc.send([(btc.new_address("exchange"), 5 * BTC)])
            btc.mine(1)
            btc.wait_confirmed("exchange", [funding])
            payout = btc.send([(btc.new_address("customer"), 1 * BTC)], wallet="exchange")
            btc.mine(1)
            btc.wait_confirmed("customer", [payout])
            merged = btc.consolidate(3, BTC // 10, wallet="customer2",
                                     to_address=btc.new_address("customer"))
            btc.mine(1)
            result = index_btc(con, RpcClient(node.url), network="regtest",
                               settings=BtcIndexSettings(confirmations=0))
    except DevChainError as exc:
        return [], f"skipped: the Bitcoin node failed ({exc})"
    chain = result.chain
    compute_clusters(con, chain)
    payouts = derive_mining_labels(con, chain)

    def output(txid: str, sat: int) -> str:
        return con.execute(
            "SELECT address FROM btc_outputs WHERE chain = ? AND txid = ? AND value_sat = ?",
            [chain, txid, sat],
        ).fetchall()[0][0]

    exchange = output(funding, 5 * BTC)
    customer = output(payout, 1 * BTC)
    pack = out_dir / "demo-labels-bitcoin.yaml"
    pack.write_text(
        "title: Demo labels for the Bitcoin regtest chain (demo data, not real attributions)\n"
        "creator: exposure demo\nsource: exposure demo\nconfidence: ownership\n"
        f"network: {chain}\ncurrency: BTC\ntags:\n"
        f"- address: '{exchange}'\n  label: Binance deposit address (demo)\n"
        "  actor: binance\n  category: exchange\n",
        encoding="utf-8",
    )
    import_labels(con, [pack])
    step(
        f"Bitcoin: indexed {result.blocks} regtest blocks ({result.transactions} transactions), "
        f"{payouts} mining payout addresses, a 3-input consolidation clustered"
    )
    rep = Screener(con).screen(customer, chain=chain)
    path = out_dir / "report-btc-customer.html"
    path.write_text(render(rep, "html", lang), encoding="utf-8")
    return [("btc", "Bitcoin customer paid by the exchange", rep, path)], (
        f"{result.blocks} blocks, consolidation {merged.spend_txid[:12]}…"
    )


def load_scenario(con, node_url: str, scenario, pack: Path) -> tuple[Any, Any]:
    """Index the exposure scenario's chain from ``node_url`` and load the shipped label packs
    plus the scenario's demo pack (written to ``pack``): the store the demo, the tests and the
    benchmarks screen. Returns the index result and the labels import report."""
    from .devchain.exposure_scenario import scenario_tagpack
    from .indexers.evm import IndexSettings, index_evm
    from .labels.catalog import ensure_shipped, import_labels

    spec = ChainSpec(
        "devchain", None, "ETH", 18,
        (Token("USDT", scenario.usdt, 6), Token("USDC", scenario.usdc, 6)),
    )
    result = index_evm(con, node_url, chain=spec, settings=IndexSettings(confirmations=0))
    ensure_shipped(con)
    pack.write_text(scenario_tagpack(scenario), encoding="utf-8")
    return result, import_labels(con, [pack])


def run_demo(
    db: Path,
    out_dir: Path,
    *,
    lang: str = "en",
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo into a fresh database ``db`` and write HTML reports into ``out_dir``."""
    from .devchain import Anvil, DevChainError
    from .devchain.exposure_scenario import addr, seed_exposure_scenario
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
            result, report = load_scenario(con, node.url, scenario, out_dir / "demo-labels.yaml")
            step(
                f"indexed blocks {result.from_block}-{result.to_block}: "
                f"{result.token_transfers} token and {result.native_transfers} ETH transfers"
            )
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
            node.stop()
            extra, bitcoin = _bitcoin_part(con, out_dir, lang, step)
            reports.extend(extra)
        finally:
            con.close()
    finally:
        node.stop()
    return DemoResult(
        db=db, out_dir=out_dir, reports=tuple(reports), blocks=result.blocks,
        transfers=result.token_transfers + result.native_transfers,
        seconds=time.monotonic() - began, bitcoin=bitcoin,
    )
