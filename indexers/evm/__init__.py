"""EVM chains: native ETH and ERC-20 (USDT/USDC, RWA tokens) transfers from JSON-RPC nodes."""

from .indexer import IndexSettings, index_evm, resolve_token_decimals, token_stream
from .logs import TRANSFER_TOPIC, decode_transfer_logs, erc20_transfer_mask

__all__ = [
    "TRANSFER_TOPIC",
    "IndexSettings",
    "decode_transfer_logs",
    "erc20_transfer_mask",
    "index_evm",
    "resolve_token_decimals",
    "token_stream",
]
