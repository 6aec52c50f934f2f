"""The TRON indexer's driver: plan block batches, fetch, check the chain, commit, repeat.

Streams: ``native`` (TRX) and ``trc20:<T address>`` per tracked token, each with a checkpoint
``first..last`` of fully committed blocks, written with the batch's rows and block headers in
one DuckDB transaction (:func:`exposure.store.writes.write_evm_batch`: the same tables as the EVM
chains, so graph, walk, screening and reports read TRON unchanged).

Before a batch is written its blocks must chain onto the stored block ``a-1`` (``parentHash``
against the stored ``blockID``) and onto each other, and every transaction info must belong to
its block; a mismatch is a reorganisation: the store is rolled back to the common ancestor and
the blocks above it are indexed again. Only blocks ``confirmations`` below the head are indexed
(default 19: what java-tron's solidity node treats as final).
"""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb

from exposure.domain import ChainSpec, IndexProgress, IndexResult, Token
from exposure.errors import DataError, InputError, RpcError
from exposure.store import reads, writes

from ..planning import start_block
from .decode import (
    AddressForms,
    block_columns,
    block_number,
    decode_transfers,
    token_lookup,
    tx_succeeded,
)
from .fetch import fetch_blocks, fetch_infos, head_number
from .http import TronHttpClient

CHAIN = "tron"
NATIVE = "native"
#: What the run records as its source of internal transfers.
INTERNAL = "internal_transactions"

USDT = Token("USDT", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", 6)
USDC = Token("USDC", "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8", 6)
#: TRON as a chain: TRX (6 decimals, the sun) and the tracked TRC-20 stablecoins.
TRON = ChainSpec(CHAIN, None, "TRX", 6, (USDT, USDC))


def token_stream(token: Token) -> str:
    """The checkpoint stream name of a TRC-20 token."""
    return f"trc20:{token.address}"


@dataclass
class TronSettings:
    """Tunables of a run."""

    confirmations: int = 19
    native: bool = True
    batch_blocks: int = 100
    workers: int = 4
    reorg_retries: int = 5


class _Reorg(Exception):
    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


def resolve_token_decimals(client: TronHttpClient, symbol: str, address: str) -> Token:
    """A token whose decimals are read from the contract (``decimals()`` through
    ``/wallet/triggerconstantcontract``)."""
    try:
        answer = client.post(
            "/wallet/triggerconstantcontract",
            {"owner_address": address, "contract_address": address,
             "function_selector": "decimals()", "parameter": "", "visible": True},
            context=f"decimals() of {symbol}",
        )
        value = int(answer["constant_result"][0], 16)
    except (RpcError, KeyError, IndexError, TypeError, ValueError):
        raise InputError(
            f"cannot read decimals() of token {symbol} at {address} on tron: give them "
            f"explicitly as {symbol}={address}:DECIMALS"
        ) from None
    return Token(symbol, address, value)


def index_tron(
    con: duckdb.DuckDBPyConnection,
    rpc: str | TronHttpClient,
    *,
    tokens: Sequence[Token] | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
    settings: TronSettings | None = None,
    api_key: str | None = None,
    on_progress: Callable[[IndexProgress], None] | None = None,
) -> IndexResult:
    """Index TRX and TRC-20 transfers from a java-tron HTTP API at ``rpc`` into the store.

    Parameters
    ----------
    con:
        An open store.
    rpc:
        The node's base URL (credentials allowed; never stored or shown) or a ready client.
    tokens:
        TRC-20 tokens to track (addresses ``T...``); default USDT and USDC.
    from_block, to_block:
        Inclusive range. Default: resume after the checkpoint (or from 0), up to the head minus
        ``confirmations``. A range that would leave a gap in a stream is refused.
    api_key:
        Sent as ``TRON-PRO-API-KEY`` when ``rpc`` is a URL.
    on_progress:
        Called after every committed batch.
    """
    settings = settings or TronSettings()
    client = rpc if isinstance(rpc, TronHttpClient) else TronHttpClient(rpc, api_key=api_key)
    started = time.monotonic()
    if from_block is not None and from_block < 0:
        raise InputError(f"--from-block must be >= 0, got {from_block}")
    if to_block is not None and from_block is not None and to_block < from_block:
        raise InputError(f"--to-block {to_block} is below --from-block {from_block}")
    tracked = tuple(tokens) if tokens is not None else TRON.tokens
    spec = ChainSpec(CHAIN, None, TRON.native_symbol, TRON.native_decimals, tracked)

    head = head_number(client)
    target = head - settings.confirmations if to_block is None else min(
        to_block, head - settings.confirmations
    )
    writes.register_chain(con, spec, None)

    streams = ([NATIVE] if settings.native else []) + [token_stream(t) for t in tracked]
    if not streams:
        raise InputError("nothing to index: no tokens tracked and TRX transfers disabled")
    token_of = {token_stream(t): t for t in tracked}
    cps = reads.checkpoints(con, CHAIN)
    next_block = {
        s: start_block(cps.get(s), f"{s} on {CHAIN}", from_block, to_block, "block")
        for s in streams
    }
    first_planned = min(next_block.values())
    totals = {"blocks": 0, "tokens": 0, "native": 0, "reorgs": 0}
    forms = AddressForms()
    reorg_attempts = 0

    def report(committed: int, message: str | None = None) -> None:
        if on_progress is not None:
            on_progress(IndexProgress(CHAIN, first_planned, target, committed, totals["blocks"],
                                      totals["tokens"], totals["native"], message))

    def fetch(lo: int, hi: int) -> tuple[list[dict], dict[int, list[dict]]]:
        got = fetch_blocks(client, lo, hi)
        return got, fetch_infos(client, [block_number(x) for x in got], workers=settings.workers)

    # The next batch is fetched while this one is decoded and written. The cyclic GC is off
    # meanwhile: a batch's JSON is hundreds of thousands of dicts (no cycles), which it would
    # rescan on every collection, doubling the run's time; it is restored at the end.
    gc_was_on = gc.isenabled()
    gc.disable()
    ahead: tuple[int, int, Future[Any]] | None = None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tron-prefetch")
    try:
        while True:
            pending = {s: b for s, b in next_block.items() if b <= target}
            if not pending:
                break
            a = min(pending.values())
            group = [s for s, b in pending.items() if b == a]
            later = [b for b in pending.values() if b > a]
            b = min(target, (min(later) - 1) if later else target, a + settings.batch_blocks - 1)
            has_native = NATIVE in group
            lookup = token_lookup(token_of[s] for s in group if s in token_of)
            try:
                if ahead is not None and ahead[:2] == (a, b):
                    blocks, infos = ahead[2].result()
                else:
                    if ahead is not None:
                        ahead[2].cancel()
                    blocks, infos = fetch(a, b)
                ahead = None
                if not later and b < target:
                    nb = min(target, b + settings.batch_blocks)
                    ahead = (b + 1, nb, pool.submit(fetch, b + 1, nb))
                _check_chain(con, a, blocks)
                _check_infos(blocks, infos)
            except _Reorg as reorg:
                ahead = _drop(ahead)
                reorg_attempts += 1
                if reorg_attempts > settings.reorg_retries:
                    raise DataError(
                        f"the chain on {client.safe_url} kept reorganising around block "
                        f"{reorg.at} ({reorg_attempts} attempts): try again later or raise "
                        "--confirmations"
                    ) from None
                ancestor = _common_ancestor(con, client, reorg.at)
                if ancestor is not None:
                    writes.rollback_after(con, CHAIN, ancestor)
                    totals["reorgs"] += 1
                    next_block = {s: min(n, ancestor + 1) for s, n in next_block.items()}
                    report(ancestor, f"reorganisation: rolled back to block {ancestor}")
                continue
            except RpcError as exc:
                ahead = _drop(ahead)
                if exc.block_range is None:
                    raise RpcError(
                        f"{exc} (while indexing blocks {a}-{b} of tron)",
                        method=exc.method,
                        block_range=(a, b),
                        code=exc.code,
                    ) from None
                raise
            reorg_attempts = 0
            token_table, native_table = decode_transfers(
                blocks, infos, lookup, native=has_native, forms=forms
            )
            ranges = [
                writes.StreamRange(s, a, b, token_of[s].address if s in token_of else None)
                for s in group
            ]
            writes.write_evm_batch(con, CHAIN, ranges, block_columns(blocks), token_table,
                                   native_table if has_native else None)
            del blocks, infos
            totals["blocks"] += b - a + 1
            totals["tokens"] += token_table.num_rows
            totals["native"] += native_table.num_rows if has_native else 0
            for s in group:
                next_block[s] = b + 1
            report(b)
    finally:
        _drop(ahead)
        pool.shutdown(wait=True, cancel_futures=True)
        if gc_was_on:
            gc.enable()

    if totals["blocks"]:
        writes.record_run(con, chain=CHAIN, source=client.safe_url, node_chain_id=None,
                          tracing=INTERNAL, from_block=first_planned, to_block=target,
                          reorgs=totals["reorgs"])
    return IndexResult(
        chain=CHAIN,
        from_block=first_planned,
        to_block=target,
        blocks=totals["blocks"],
        token_transfers=totals["tokens"],
        native_transfers=totals["native"],
        tracing=INTERNAL,
        reorgs=totals["reorgs"],
        seconds=time.monotonic() - started,
        up_to_date=totals["blocks"] == 0,
    )


def _drop(ahead: tuple[int, int, Future[Any]] | None) -> None:
    """Forget a prefetch (its result or error is not wanted any more)."""
    if ahead is not None and not ahead[2].cancel():
        ahead[2].exception()  # wait for it, so no request is left running
    return None


def _check_chain(con: duckdb.DuckDBPyConnection, first: int, blocks: list[dict]) -> None:
    """Raise _Reorg unless ``blocks`` chain onto the stored block ``first - 1`` and each other."""
    if first > 0 and blocks:
        stored = reads.block_hashes(con, CHAIN, first - 1, first - 1).get(first - 1)
        parent = blocks[0]["block_header"]["raw_data"]["parentHash"].lower()
        if stored is not None and parent != stored:
            raise _Reorg(first - 1)
    for prev, block in itertools.pairwise(blocks):
        if block["block_header"]["raw_data"]["parentHash"].lower() != prev["blockID"].lower():
            raise _Reorg(block_number(block))


def _check_infos(blocks: list[dict], infos: dict[int, list[dict]]) -> None:
    """Raise _Reorg unless every info names a transaction of its block (the block changed
    between the two calls), and RpcError if a successful contract call has no info (its logs
    and internal transactions would be lost)."""
    for block in blocks:
        number = block_number(block)
        txs = block.get("transactions") or ()
        ids = {tx["txID"] for tx in txs}
        have = {info.get("id") for info in infos.get(number, ())}
        if not have <= ids:
            raise _Reorg(number)
        if len(have) == len(ids):
            continue
        for tx in txs:
            kind = tx["raw_data"]["contract"][0].get("type")
            if (kind in ("TriggerSmartContract", "CreateSmartContract") and tx_succeeded(tx)
                    and tx["txID"] not in have):
                raise RpcError(
                    f"/wallet/gettransactioninfobyblocknum for block {number}: no info for "
                    f"transaction {tx['txID'].lower()} (block {number} not indexed)",
                    method="/wallet/gettransactioninfobyblocknum",
                    block_range=(number, number),
                )


def _common_ancestor(con: duckdb.DuckDBPyConnection, client: TronHttpClient, at: int) -> int | None:
    """The highest stored block at or below ``at`` whose ``blockID`` the node still has; None
    when nothing stored is affected, -1 when no stored block survives."""
    top = reads.highest_block(con, CHAIN)
    if top is None or at > top:
        return None
    hi = min(at, top)
    step = 16
    while hi >= 0:
        lo = max(0, hi - step + 1)
        stored = reads.block_hashes(con, CHAIN, lo, hi)
        if not stored:
            return lo - 1 if lo > 0 else -1
        first = min(stored)
        node = {block_number(b): b["blockID"].lower()
                for b in fetch_blocks(client, first, hi, strict=False)}
        for n in sorted(stored, reverse=True):
            if node.get(n) == stored[n]:
                return n
        hi = lo - 1
        step = min(step * 2, 100)
    return -1
