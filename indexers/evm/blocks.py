"""Block headers and native value transfers: fetch blocks (batched), traces or receipts, decode.

Native ETH moves in three ways, all kept with the key ``(chain, tx_hash, trace_address)``:
the transaction's own value (``trace_address`` ''), internal calls carrying value
(``'0'``, ``'0.1'``, ... the position in the call tree), contract creations and self-destructs.
Only effects that stuck count: a call that failed, or any of whose ancestors failed, moved nothing.

With a tracing node (``trace_block``, else ``debug_traceBlockByNumber`` with the callTracer) every
value movement comes from the trace. Without tracing, only transactions' own values are indexed,
with their success taken from receipts (``eth_getBlockReceipts``, else per-transaction receipts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from exposure.errors import RpcError

from ..rpc import CallError, RpcClient

TRACE_BLOCK = "trace_block"
DEBUG_TRACE = "debug_traceBlockByNumber"
NO_TRACING = "none"

BLOCK_SCHEMA = pa.schema(
    [
        ("number", pa.uint64()),
        ("hash", pa.string()),
        ("parent_hash", pa.string()),
        ("timestamp", pa.int64()),
    ]
)

NATIVE_SCHEMA = pa.schema(
    [
        ("block_number", pa.uint64()),
        ("tx_hash", pa.string()),
        ("trace_address", pa.string()),
        ("kind", pa.string()),
        ("from_address", pa.string()),
        ("to_address", pa.string()),
        ("amount", pa.string()),
    ]
)

_CALL_TRACER = {"tracer": "callTracer"}


@dataclass(frozen=True)
class NativeRow:
    """One native value movement, before it becomes a column batch."""

    block_number: int
    tx_hash: str
    trace_address: str
    kind: str
    from_address: str
    to_address: str
    amount: int


def fetch_blocks(client: RpcClient, first: int, last: int, *, full: bool) -> list[dict[str, Any]]:
    """Blocks ``first..last`` in one JSON-RPC batch stream (with transactions if ``full``)."""
    calls = [("eth_getBlockByNumber", [hex(n), full]) for n in range(first, last + 1)]
    results = client.batch(calls, context=f"blocks {first}-{last}")
    blocks = []
    for number, result in zip(range(first, last + 1), results, strict=True):
        if isinstance(result, CallError) or result is None:
            what = f"JSON-RPC error {result.code}" if isinstance(result, CallError) else "no block"
            raise RpcError(
                f"eth_getBlockByNumber for block {number} on {client.safe_url}: {what} "
                f"(blocks {first}-{last} not indexed)",
                method="eth_getBlockByNumber",
                block_range=(first, last),
            )
        blocks.append(result)
    return blocks


def block_columns(blocks: Sequence[dict[str, Any]]) -> pa.Table:
    """Header columns of fetched blocks (number, hash, parent hash, unix timestamp)."""
    return pa.table(
        [
            pa.array([int(b["number"], 16) for b in blocks], type=pa.uint64()),
            pa.array([b["hash"].lower() for b in blocks], type=pa.string()),
            pa.array([b["parentHash"].lower() for b in blocks], type=pa.string()),
            pa.array([int(b["timestamp"], 16) for b in blocks], type=pa.int64()),
        ],
        schema=BLOCK_SCHEMA,
    )


def native_columns(rows: Iterable[NativeRow]) -> pa.Table:
    """Native transfer rows as columns (amount as a decimal string, exact)."""
    rows = list(rows)
    return pa.table(
        [
            pa.array([r.block_number for r in rows], type=pa.uint64()),
            pa.array([r.tx_hash for r in rows], type=pa.string()),
            pa.array([r.trace_address for r in rows], type=pa.string()),
            pa.array([r.kind for r in rows], type=pa.string()),
            pa.array([r.from_address for r in rows], type=pa.string()),
            pa.array([r.to_address for r in rows], type=pa.string()),
            pa.array([str(r.amount) for r in rows], type=pa.string()),
        ],
        schema=NATIVE_SCHEMA,
    )


def detect_tracing(client: RpcClient, probe_block: int) -> str:
    """Which tracing method the node offers: ``trace_block``, ``debug_traceBlockByNumber``, none.

    Detected by calling each on ``probe_block``; a JSON-RPC error means "not offered".
    """
    result = client.try_call(TRACE_BLOCK, [hex(probe_block)])
    if not isinstance(result, CallError) and isinstance(result, list):
        return TRACE_BLOCK
    result = client.try_call(DEBUG_TRACE, [hex(probe_block), _CALL_TRACER])
    if not isinstance(result, CallError) and isinstance(result, list):
        return DEBUG_TRACE
    return NO_TRACING


def _addr(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and len(value) == 42 else None


def _value(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return int(value, 16) if value not in ("", "0x") else 0


def native_from_trace_block(block_number: int, traces: Sequence[dict[str, Any]]) -> list[NativeRow]:
    """Value movements of one block from ``trace_block`` (parity-style, flat, with traceAddress)."""
    failed: set[tuple[str, tuple[int, ...]]] = set()
    for t in traces:
        if t.get("error") and t.get("transactionHash"):
            failed.add((t["transactionHash"], tuple(t.get("traceAddress") or ())))
    rows = []
    for t in traces:
        tx = t.get("transactionHash")
        if not tx:
            continue  # block and uncle rewards: issuance, not a transfer
        path = tuple(t.get("traceAddress") or ())
        if any((tx, path[:k]) in failed for k in range(len(path) + 1)):
            continue
        action = t.get("action") or {}
        kind = t.get("type")
        if kind == "call":
            if action.get("callType", "call") not in ("call",):
                continue  # delegatecall/staticcall/callcode move no value to another account
            src, dst, amount = (
                _addr(action.get("from")),
                _addr(action.get("to")),
                action.get("value"),
            )
        elif kind == "create":
            src = _addr(action.get("from"))
            dst = _addr((t.get("result") or {}).get("address"))
            amount = action.get("value")
        elif kind in ("suicide", "selfdestruct"):
            src = _addr(action.get("address"))
            dst = _addr(action.get("refundAddress"))
            amount = action.get("balance")
        else:
            continue
        value = _value(amount)
        if value and src and dst:
            rows.append(
                NativeRow(
                    block_number,
                    tx.lower(),
                    ".".join(map(str, path)),
                    kind if path else "tx",
                    src,
                    dst,
                    value,
                )
            )
    return rows


def native_from_call_tracer(
    block_number: int, traces: Sequence[dict[str, Any]], tx_hashes: Sequence[str]
) -> list[NativeRow]:
    """Value movements of one block from ``debug_traceBlockByNumber`` with the callTracer.

    ``tx_hashes`` are the block's transaction hashes in order, for nodes whose answer lacks
    ``txHash``. Frames are walked depth-first; a frame with ``error`` drops itself and its subtree.
    """
    rows: list[NativeRow] = []
    for position, item in enumerate(traces):
        tx = (
            item.get("txHash") or (tx_hashes[position] if position < len(tx_hashes) else "")
        ).lower()
        root = item.get("result")
        if not tx or not isinstance(root, dict):
            continue
        stack: list[tuple[dict[str, Any], tuple[int, ...]]] = [(root, ())]
        while stack:
            frame, path = stack.pop()
            if frame.get("error"):
                continue
            kind = str(frame.get("type", "")).upper()
            value = _value(frame.get("value"))
            src, dst = _addr(frame.get("from")), _addr(frame.get("to"))
            if value and src and dst and kind in ("CALL", "CREATE", "CREATE2", "SELFDESTRUCT"):
                label = (
                    "tx"
                    if not path
                    else {"CALL": "call", "SELFDESTRUCT": "suicide"}.get(kind, "create")
                )
                rows.append(
                    NativeRow(block_number, tx, ".".join(map(str, path)), label, src, dst, value)
                )
            for i, child in enumerate(frame.get("calls") or ()):
                if isinstance(child, dict):
                    stack.append((child, (*path, i)))
    return rows


def native_from_transactions(
    blocks: Sequence[dict[str, Any]], status: dict[str, int]
) -> list[NativeRow]:
    """Transactions' own value transfers, for nodes without tracing; ``status`` by tx hash."""
    rows = []
    for block in blocks:
        number = int(block["number"], 16)
        for tx in block.get("transactions") or ():
            value = _value(tx.get("value"))
            if not value:
                continue
            h = tx["hash"].lower()
            if status.get(h, 1) != 1:
                continue
            dst = _addr(tx.get("to")) or _addr(tx.get("creates"))
            if dst is None:
                dst = status_contract(status, h)
            src = _addr(tx.get("from"))
            if src and dst:
                rows.append(NativeRow(number, h, "", "tx", src, dst, value))
    return rows


def status_contract(status: dict[str, Any], tx_hash: str) -> str | None:
    """The contract a creation transaction made (``status[tx_hash + ':to']``)."""
    value = status.get(tx_hash + ":to")
    return value if isinstance(value, str) else None


def fetch_statuses(client: RpcClient, blocks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Receipt status (and created contract) of every value-carrying transaction in ``blocks``."""
    wanted = {
        int(b["number"], 16): [
            tx["hash"].lower() for tx in b.get("transactions") or () if _value(tx.get("value"))
        ]
        for b in blocks
    }
    wanted = {n: hs for n, hs in wanted.items() if hs}
    status: dict[str, Any] = {}
    if not wanted:
        return status
    numbers = sorted(wanted)
    answers = client.batch(
        [("eth_getBlockReceipts", [hex(n)]) for n in numbers],
        context=f"receipts of blocks {numbers[0]}-{numbers[-1]}",
    )
    missing: list[str] = []
    for n, receipts in zip(numbers, answers, strict=True):
        if isinstance(receipts, CallError) or not isinstance(receipts, list):
            missing.extend(wanted[n])
            continue
        for r in receipts:
            _record(status, r)
    if missing:
        answers = client.batch(
            [("eth_getTransactionReceipt", [h]) for h in missing],
            context=f"receipts of blocks {numbers[0]}-{numbers[-1]}",
        )
        for h, r in zip(missing, answers, strict=True):
            if isinstance(r, CallError) or not isinstance(r, dict):
                raise RpcError(
                    f"eth_getTransactionReceipt for {h} (blocks {numbers[0]}-{numbers[-1]}) "
                    f"failed on {client.safe_url}",
                    method="eth_getTransactionReceipt",
                    block_range=(numbers[0], numbers[-1]),
                )
            _record(status, r)
    return status


def _record(status: dict[str, Any], receipt: dict[str, Any]) -> None:
    h = str(receipt.get("transactionHash", "")).lower()
    raw = receipt.get("status")
    status[h] = _value(raw) if raw is not None else 1  # pre-Byzantium receipts have no status
    created = _addr(receipt.get("contractAddress"))
    if created:
        status[h + ":to"] = created


def fetch_native(
    client: RpcClient, blocks: Sequence[dict[str, Any]], tracing: str
) -> list[NativeRow]:
    """All native value movements of ``blocks`` (fetched with full transactions)."""
    if not blocks:
        return []
    first, last = int(blocks[0]["number"], 16), int(blocks[-1]["number"], 16)
    if tracing == NO_TRACING:
        return native_from_transactions(blocks, fetch_statuses(client, blocks))
    with_txs = [b for b in blocks if b.get("transactions")]
    if not with_txs:
        return []
    if tracing == TRACE_BLOCK:
        calls = [(TRACE_BLOCK, [b["number"]]) for b in with_txs]
    else:
        calls = [(DEBUG_TRACE, [b["number"], _CALL_TRACER]) for b in with_txs]
    answers = client.batch(calls, context=f"traces of blocks {first}-{last}")
    rows: list[NativeRow] = []
    for block, traces in zip(with_txs, answers, strict=True):
        number = int(block["number"], 16)
        if isinstance(traces, CallError) or not isinstance(traces, list):
            raise RpcError(
                f"{tracing} for block {number} failed on {client.safe_url}"
                + (f": JSON-RPC error {traces.code}" if isinstance(traces, CallError) else "")
                + f" (blocks {first}-{last} not indexed)",
                method=tracing,
                block_range=(first, last),
            )
        if tracing == TRACE_BLOCK:
            rows.extend(native_from_trace_block(number, traces))
        else:
            hashes = [tx["hash"] if isinstance(tx, dict) else tx for tx in block["transactions"]]
            rows.extend(native_from_call_tracer(number, traces, hashes))
    return rows
