"""Built-in EVM chains and their USDT/USDC contracts (addresses from the issuers' own pages).

The same indexer code serves every EVM chain; a chain is only configuration. Custom tokens are
given on the command line (``--token SYMBOL=0xADDRESS[:DECIMALS]``); RWA tokens come from the
label packs later.
"""

from __future__ import annotations

from .domain import ChainSpec, Token
from .errors import InputError


def _t(symbol: str, address: str, decimals: int) -> Token:
    return Token(symbol=symbol, address=address.lower(), decimals=decimals)


CHAINS: dict[str, ChainSpec] = {
    "ethereum": ChainSpec(
        "ethereum",
        1,
        "ETH",
        18,
        (
            _t("USDT", "0xdAC17F958D2ee523a2206206994597C13D831ec7", 6),
            _t("USDC", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6),
        ),
    ),
    "bsc": ChainSpec(
        "bsc",
        56,
        "BNB",
        18,
        (
            _t("USDT", "0x55d398326f99059fF775485246999027B3197955", 18),
            _t("USDC", "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", 18),
        ),
    ),
    "polygon": ChainSpec(
        "polygon",
        137,
        "POL",
        18,
        (
            _t("USDT", "0xc2132D05D31c914a87C6611C10748AEb04B58e8F", 6),
            _t("USDC", "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", 6),
        ),
    ),
    "arbitrum": ChainSpec(
        "arbitrum",
        42161,
        "ETH",
        18,
        (
            _t("USDT", "0xFd086bC7CD5C481DCC9C85ebE478A1C0b69FCbb9", 6),
            _t("USDC", "0xaf88d065e77c8cC2239327C5EDb3A432268e5831", 6),
        ),
    ),
}


def chain_spec(name: str) -> ChainSpec:
    """The built-in chain ``name``, or a chain with no expected id and no tokens (local/private)."""
    key = name.strip().lower()
    if not key or not key.replace("-", "").replace("_", "").isalnum():
        raise InputError(f"invalid chain name {name!r}: use letters, digits, '-' or '_'")
    return CHAINS.get(key, ChainSpec(key, None))
