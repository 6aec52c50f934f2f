"""ERC-20 Transfer logs: the adaptive eth_getLogs fetch and the bulk decode into columns.

The one definition of "this log is an ERC-20 transfer" lives here (:func:`erc20_transfer_mask`):
topic0 is ``Transfer(address,address,uint256)``, there are exactly three topics (an ERC-721
Transfer has four) and the data is one 32-byte word. Decoding slices the fixed-width hex of all
logs at once (numpy over the joined bytes, one ``bytes.fromhex`` for the amounts), never through
per-log web3 event objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from exposure.errors import RpcError

from ..rpc import CallError, RpcClient

#: keccak256("Transfer(address,address,uint256)")
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

#: Columns of a decoded batch (the ``token_transfers`` table with the amount in two words).
TRANSFER_SCHEMA = pa.schema(
    [
        ("token_address", pa.string()),
        ("block_number", pa.uint64()),
        ("block_hash", pa.string()),
        ("tx_hash", pa.string()),
        ("log_index", pa.uint32()),
        ("from_address", pa.string()),
        ("to_address", pa.string()),
        ("amount_hi", pa.uint64()),
        ("amount_lo", pa.uint64()),
        ("amount_big", pa.string()),
    ]
)


def erc20_transfer_mask(
    topics: Sequence[Any], data: Sequence[Any], *, prefix: str = "0x"
) -> np.ndarray:
    """Which logs are ERC-20 ``Transfer`` events: topic0 matches, exactly 3 topics, 32-byte data.

    An ERC-721 ``Transfer`` (same topic0, the token id as a fourth topic) is not one, nor is a
    log whose words are not 32-byte hex. ``topics[i]``/``data[i]`` are one log's JSON-RPC fields.
    ``prefix`` is what precedes the hex digits: ``0x`` in JSON-RPC, '' in java-tron's HTTP API
    (TRC-20 logs are the same fact). Returns a bool array of ``len(topics)``.
    """
    topic0 = TRANSFER_TOPIC[2:] if prefix == "" else TRANSFER_TOPIC
    width = 64 + len(prefix)
    n = len(topics)
    try:  # the common, well-formed case, column at a time
        three = np.fromiter(map(len, topics), dtype=np.int64, count=n) == 3
        if not three.all():
            raise TypeError
        words = np.fromiter(map(len, data), dtype=np.int64, count=n) == width
        t0 = list(map(itemgetter(0), topics))
        first = np.fromiter(map(topic0.__eq__, t0), dtype=bool, count=n)
        for i in np.flatnonzero(~first):  # nodes may answer in upper case
            first[i] = t0[i].lower() == topic0
        w1 = np.fromiter(map(len, map(itemgetter(1), topics)), dtype=np.int64, count=n) == width
        w2 = np.fromiter(map(len, map(itemgetter(2), topics)), dtype=np.int64, count=n) == width
        return three & words & first & w1 & w2
    except (TypeError, IndexError, ValueError):
        pass
    t0 = topic0

    def ok(t: Any, d: Any) -> bool:
        try:
            return (
                len(t) == 3
                and (t[0] == t0 or t[0].lower() == t0)
                and len(d) == width
                and len(t[1]) == width
                and len(t[2]) == width
            )
        except (TypeError, AttributeError):
            return False

    return np.fromiter(map(ok, topics, data), dtype=bool, count=n)


def _fixed_hex(values: list[str], width: int, keep_from: int) -> pa.StringArray:
    """Lowercased ``"0x" + v[keep_from:]`` for fixed-width hex strings, built with numpy.

    Every value must be exactly ``width`` characters (checked). Hex digits lowercase under
    ``| 0x20`` and decimal digits are unchanged by it, so the case fold is one vector op.
    """
    n = len(values)
    raw = "".join(values).encode("ascii", "replace")
    if len(raw) != n * width:
        raise ValueError("hex field of unexpected width")
    chars = np.frombuffer(raw, dtype=np.uint8).reshape(n, width)[:, keep_from:]
    out = np.empty((n, 2 + width - keep_from), dtype=np.uint8)
    out[:, 0] = ord("0")
    out[:, 1] = ord("x")
    out[:, 2:] = chars | 0x20
    offsets = np.arange(0, (n + 1) * out.shape[1], out.shape[1], dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


def _hex_ints(values: list[str]) -> np.ndarray:
    """Hex quantities to uint64; values repeat a lot within a batch, so each is parsed once."""
    parsed = {v: int(v, 16) for v in set(values)}
    return np.fromiter(map(parsed.__getitem__, values), dtype=np.uint64, count=len(values))


def decode_transfer_logs(logs: Sequence[dict[str, Any]]) -> pa.Table:
    """Decode ``eth_getLogs`` results into :data:`TRANSFER_SCHEMA` columns.

    Logs that are not ERC-20 transfers (see :func:`erc20_transfer_mask`) and logs flagged
    ``removed`` are dropped. The amount is split into two 64-bit words ``amount_hi``,
    ``amount_lo`` (value = hi * 2**64 + lo) when it fits in 128 bits; otherwise both are 0 and
    ``amount_big`` holds the exact decimal string. Addresses and hashes come out lowercase.
    """
    topics = list(map(itemgetter("topics"), logs))
    data = list(map(itemgetter("data"), logs))
    keep = erc20_transfer_mask(topics, data)
    removed = [i for i, log in enumerate(logs) if log.get("removed")]
    keep[removed] = False
    if not keep.all():
        logs = [log for log, k in zip(logs, keep, strict=True) if k]
        topics = [t for t, k in zip(topics, keep, strict=True) if k]
        data = [d for d, k in zip(data, keep, strict=True) if k]
    n = len(logs)
    if n == 0:
        return TRANSFER_SCHEMA.empty_table()

    words = np.frombuffer(bytes.fromhex("".join(data).replace("0x", "")), dtype=">u8")
    words = words.reshape(n, 4)
    fits = (words[:, 0] == 0) & (words[:, 1] == 0)
    amount_hi = np.where(fits, words[:, 2], 0).astype(np.uint64)
    amount_lo = np.where(fits, words[:, 3], 0).astype(np.uint64)
    big: list[str | None] = [None] * n
    for i in np.flatnonzero(~fits):
        big[i] = str(int(data[i], 16))

    return pa.table(
        [
            _fixed_hex(list(map(itemgetter("address"), logs)), 42, 2),
            pa.array(_hex_ints(list(map(itemgetter("blockNumber"), logs))), type=pa.uint64()),
            _fixed_hex(list(map(itemgetter("blockHash"), logs)), 66, 2),
            _fixed_hex(list(map(itemgetter("transactionHash"), logs)), 66, 2),
            pa.array(_hex_ints(list(map(itemgetter("logIndex"), logs))), type=pa.uint32()),
            _fixed_hex([t[1] for t in topics], 66, 26),
            _fixed_hex([t[2] for t in topics], 66, 26),
            pa.array(amount_hi, type=pa.uint64()),
            pa.array(amount_lo, type=pa.uint64()),
            pa.array(big, type=pa.string()),
        ],
        schema=TRANSFER_SCHEMA,
    )


@dataclass
class LogRange:
    """Adaptive block span for eth_getLogs: shrinks on errors, grows while answers are small."""

    span: int = 2_000
    min_span: int = 1
    max_span: int = 100_000
    target_logs: int = 5_000

    def adapt(self, n_logs: int, blocks: int) -> None:
        """Adjust the span after an answer of ``n_logs`` logs over ``blocks`` blocks."""
        if n_logs < self.target_logs // 4 and blocks >= self.span:
            self.span = min(self.max_span, self.span * 2)
        elif n_logs > self.target_logs * 2:
            self.span = max(self.min_span, self.span // 2)


def fetch_transfer_logs(
    client: RpcClient,
    tokens: Sequence[str],
    first: int,
    last: int,
    window: LogRange,
) -> tuple[int, list[dict[str, Any]]]:
    """Fetch Transfer logs of ``tokens`` from block ``first`` up to at most ``last``.

    Returns ``(end, logs)``: the logs of blocks ``first..end`` (``end <= last``), where ``end`` is
    where the adaptive window stopped. Any JSON-RPC error for a range of more than one block halves
    the range and tries again (nodes answer "too many results", "response size exceeded" or
    time-outs under various codes); a failing single block raises RpcError naming it.
    """
    end = min(last, first + window.span - 1)
    while True:
        params = [
            {
                "fromBlock": hex(first),
                "toBlock": hex(end),
                "address": list(tokens),
                "topics": [TRANSFER_TOPIC],
            }
        ]
        # Any error halves a range (which also cures "too many results"); a single block whose
        # answer is a transient error is asked again.
        result = client.try_call(
            "eth_getLogs", params, context=f"blocks {first}-{end}", retry_errors=end == first
        )
        if not isinstance(result, CallError):
            if not isinstance(result, list):
                raise RpcError(
                    f"eth_getLogs for blocks {first}-{end} on {client.safe_url} answered "
                    "something that is not a list of logs",
                    method="eth_getLogs",
                    block_range=(first, end),
                )
            window.adapt(len(result), end - first + 1)
            return end, result
        if result.unsupported or end == first:
            raise RpcError(
                f"eth_getLogs for blocks {first}-{end} failed on {client.safe_url}: "
                f"JSON-RPC error {result.code}: {' '.join(result.message.split())[:200]}",
                method="eth_getLogs",
                block_range=(first, end),
                code=result.code,
            )
        end = first + (end - first) // 2
        window.span = max(window.min_span, end - first + 1)
