"""A scripted chain with known exposure answers, played on anvil with real ERC-20 bytecode.

Used by the screening tests (and the demo): customers 1, 2 and 4 hops from a labelled
mainland-serving exchange in each direction, a path through another labelled exchange that must
not count, dust / zero-value / counterfeit-token "poisoning" transfers that must not create
exposure, an unlabelled hub above the degree cap, and customers whose inbound value is only
partly from the exchange (value shares 0.3, 0.25, 0.01 and 0.005).

Every participant is a named address (``addr(name)``) driven with anvil's account impersonation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils import keccak

from . import DevChain

USDT = 10**6  # the scenario's USDT-like token has 6 decimals


def addr(name: str) -> str:
    """The scenario's address for ``name`` (lowercase 0x-hex, deterministic)."""
    return "0x" + keccak(text=f"exposure-scenario:{name}")[-20:].hex()


@dataclass(frozen=True)
class ExposureScenario:
    """What was played: token addresses, named participants and the transfers' tx hashes."""

    usdt: str
    usdc: str
    counterfeit: str
    names: dict[str, str]
    txs: dict[str, str] = field(default_factory=dict)
    hub_fan_in: int = 0

    def __getitem__(self, name: str) -> str:
        return self.names[name]


def seed_exposure_scenario(chain: DevChain, *, hub_fan_in: int = 25) -> ExposureScenario:
    """Play the scenario on ``chain`` (anvil) and describe it."""
    owner = chain.accounts[0]
    usdt = chain.deploy("TestToken", "Tether USD", "USDT", 6, sender=owner)
    usdc = chain.deploy("TestToken", "USD Coin", "USDC", 6, sender=owner)
    fake = chain.deploy("TestToken", "Tether USD", "USDT", 6, sender=owner)

    names = [
        "exchange_binance", "exchange_kraken", "rwa_issuer", "hub",
        "c1", "c2", "m1", "m2", "c4", "a4", "b4", "d4", "e4", "f4", "g4",
        "c5", "c6", "c7", "c8", "c9", "m9", "y", "z", "c10", "c11", "c12",
    ] + [f"r{i}" for i in range(hub_fan_in)]
    who = {n: addr(n) for n in names}
    for a in who.values():
        chain.rpc("anvil_setBalance", [a, hex(10**20)])
        chain.rpc("anvil_impersonateAccount", [a])

    txs: dict[str, str] = {}

    def mint(token: str, to: str, amount: int) -> None:
        chain.transact(token, "mint(address,uint256)", who[to], amount, sender=owner)

    def pay(key: str, frm: str, to: str, amount: int, token: str = usdt) -> None:
        txs[key] = chain.transact(
            token, "transfer(address,uint256)", who[to], amount, sender=who[frm], gas=120_000
        )

    mint(usdt, "exchange_binance", 10_000_000 * USDT)
    mint(usdt, "y", 1_000_000 * USDT)
    mint(usdt, "z", 1_000_000 * USDT)
    mint(fake, "exchange_binance", 1_000_000 * USDT)
    for i in range(hub_fan_in):
        mint(usdt, f"r{i}", 100 * USDT)
    chain.mine(2)

    # 1 hop each way
    pay("binance->c1", "exchange_binance", "c1", 500 * USDT)
    pay("c1->binance", "c1", "exchange_binance", 100 * USDT)
    # 2 hops each way
    pay("binance->m1", "exchange_binance", "m1", 800 * USDT)
    pay("m1->c2", "m1", "c2", 400 * USDT)
    pay("c2->m2", "c2", "m2", 300 * USDT)
    pay("m2->binance", "m2", "exchange_binance", 300 * USDT)
    # 4 hops in from the exchange, 4 hops out to the RWA issuer
    pay("binance->a4", "exchange_binance", "a4", 1005 * USDT)
    pay("a4->b4", "a4", "b4", 1005 * USDT)
    pay("b4->d4", "b4", "d4", 1005 * USDT)
    pay("d4->c4", "d4", "c4", 1000 * USDT)
    pay("c4->e4", "c4", "e4", 900 * USDT)
    pay("e4->f4", "e4", "f4", 900 * USDT)
    pay("f4->g4", "f4", "g4", 900 * USDT)
    pay("g4->rwa", "g4", "rwa_issuer", 900 * USDT)
    # through another labelled exchange: must not count as 2 hops from binance
    pay("binance->kraken", "exchange_binance", "exchange_kraken", 2000 * USDT)
    pay("kraken->c5", "exchange_kraken", "c5", 600 * USDT)
    # poisoning: dust, zero value, a counterfeit token; and one honest inbound transfer
    pay("dust->c6", "exchange_binance", "c6", 1)
    pay("zero->c6", "exchange_binance", "c6", 0)
    pay("fake->c6", "exchange_binance", "c6", 1000 * USDT, token=fake)
    pay("y->c6", "y", "c6", 50 * USDT)
    # an unlabelled hub with many counterparties
    for i in range(hub_fan_in):
        pay(f"r{i}->hub", f"r{i}", "hub", 10 * USDT)
    pay("binance->hub", "exchange_binance", "hub", 5000 * USDT)
    pay("hub->c7", "hub", "c7", 700 * USDT)
    # value shares: 300 of 1000 from the exchange; 500 of 2000 one hop further back
    pay("binance->c8", "exchange_binance", "c8", 300 * USDT)
    pay("y->c8", "y", "c8", 700 * USDT)
    pay("binance->m9", "exchange_binance", "m9", 500 * USDT)
    pay("z->m9", "z", "m9", 1500 * USDT)
    pay("m9->c9", "m9", "c9", 1000 * USDT)
    # small shares: 2 hops at 1% (medium under the default policy), 4 hops at 0.5% (low)
    pay("m1->c11", "m1", "c11", 10 * USDT)
    pay("y->c11", "y", "c11", 990 * USDT)
    pay("d4->c12", "d4", "c12", 5 * USDT)
    pay("y->c12", "y", "c12", 995 * USDT)
    # native ETH, 1 hop
    txs["binance->c10 eth"] = chain.transfer_eth(who["c10"], 10**18, sender=who["exchange_binance"])
    chain.mine(2)
    for a in who.values():
        chain.rpc("anvil_stopImpersonatingAccount", [a])
    return ExposureScenario(usdt, usdc, fake, who, txs, hub_fan_in)


def scenario_tagpack(s: ExposureScenario, network: str = "devchain") -> str:
    """A TagPack (YAML text) labelling the scenario's exchanges and RWA issuer."""
    return f"""title: Demo labels for the exposure scenario (demo data, not real attributions)
creator: exposure tests
description: Labels for addresses of the scripted local chain; never use outside the demo.
is_public: false
source: exposure devchain scenario
confidence: ownership
lastmod: 2026-01-01
network: {network}
currency: ETH
tags:
- address: '{s['exchange_binance']}'
  label: Binance hot wallet (demo)
  actor: binance
  category: exchange
- address: '{s['exchange_kraken']}'
  label: Kraken hot wallet (demo)
  actor: kraken
  category: exchange
- address: '{s['rwa_issuer']}'
  label: RWA issuer treasury (demo)
  category: organization
  context: '{{"exposure": {{"rwa": "issuer"}}}}'
"""
