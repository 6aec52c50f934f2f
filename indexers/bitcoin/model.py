"""The columns a parsed Bitcoin block yields (the contract between parser, indexer and store).

All arrays of one :class:`ParsedBlocks` are numpy/pyarrow columns, one row per item; several
blocks can be concatenated. Hashes and txids are lowercase hex in the usual display order
(byte-reversed), as block explorers and ``getrawtransaction`` use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class ParsedBlocks:
    """Blocks, transactions, outputs and inputs of one or more raw blocks.

    blocks:  height int64 (-1 if unknown to the parser), hash str, prev_hash str,
             merkle_root str, time int64 (unix), n_tx int32
    txs:     block_hash str, position int32 (index in block), txid str, is_coinbase bool,
             coinbase_script bytes (empty unless coinbase), n_in int32, n_out int32,
             has_witness bool, size int32, vsize int32
    outputs: txid str, vout int32, value int64 (satoshi), script bytes (scriptPubKey),
             script_type str, address str | None (None for OP_RETURN, non-standard, bare
             multisig)
    inputs:  txid str, vin int32, prev_txid str, prev_vout int64 (4294967295 for coinbase),
             is_coinbase bool
    """

    blocks: pa.Table
    txs: pa.Table
    outputs: pa.Table
    inputs: pa.Table


__all__ = ["ParsedBlocks", "np"]
