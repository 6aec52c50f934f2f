"""TRON: TRX and TRC-20 (USDT/USDC) transfers from a java-tron FullNode HTTP API."""

from .decode import AddressForms, block_columns, decode_transfers, token_lookup
from .http import API_KEY_HEADER, TronHttpClient
from .indexer import (
    TRON,
    USDC,
    USDT,
    TronSettings,
    index_tron,
    resolve_token_decimals,
    token_stream,
)

__all__ = [
    "API_KEY_HEADER",
    "TRON",
    "USDC",
    "USDT",
    "AddressForms",
    "TronHttpClient",
    "TronSettings",
    "block_columns",
    "decode_transfers",
    "index_tron",
    "resolve_token_decimals",
    "token_lookup",
    "token_stream",
]
