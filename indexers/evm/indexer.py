"""The EVM indexer's driver: plan block batches, fetch, check the chain, commit, repeat.

Streams: ``native`` (ETH value transfers) and ``erc20:<token>`` per tracked token. Each has a
checkpoint ``first..last`` of fully committed blocks. A batch covers blocks ``a..b`` of the streams
that need them; it is committed in one transaction with its block headers and checkpoints.

Before a batch is written, its headers must chain onto the stored block ``a-1`` and onto each
other, and every log must belong to the header's block hash; a mismatch is a reorganisation: the
store is rolled back to the common ancestor and the blocks above it are indexed again. Only blocks
at least ``confirmations`` below the node's head are indexed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

import duckdb

from exposure.chains import chain_spec
from exposure.domain import ChainSpec, IndexProgress, IndexResult, Token
from exposure.errors import DataError, InputError, RpcError
from exposure.store import reads, writes

from ..planning import start_block
from ..rpc import CallError, RpcClient
from .blocks import (
    NO_TRACING,
    block_columns,
    detect_tracing,
    fetch_blocks,
    fetch_native,
    native_columns,
)
from .logs import LogRange, decode_transfer_logs, fetch_transfer_logs

NATIVE = "native"
_DECIMALS_SELECTOR = "0x313ce567"


def token_stream(token: Token) -> str:
    """The checkpoint stream name of a token."""
    return f"erc20:{token.address}"


@dataclass
class IndexSettings:
    """Tunables of a run (defaults suit public nodes and local ones alike)."""

    confirmations: int = 12
    native: bool = True
    max_native_blocks: int = 200
    max_header_blocks: int = 5_000
    log_window: LogRange = field(default_factory=LogRange)
    reorg_retries: int = 5
    #: A batch is committed once it holds this many transfers or took this long to fetch.
    batch_rows: int = 131_072  # >= one DuckDB row group: written straight to the file, no WAL
    batch_seconds: float = 5.0


class _Reorg(Exception):
    """The node's chain changed under the batch; ``at`` is the first block that disagreed."""

    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


def resolve_token_decimals(client: RpcClient, chain: str, symbol: str, address: str) -> Token:
    """A token whose decimals are read from the contract's ``decimals()``."""
    result = client.try_call(
        "eth_call", [{"to": address, "data": _DECIMALS_SELECTOR}, "latest"], retry_errors=False
    )
    if isinstance(result, CallError) or not isinstance(result, str) or len(result) < 3:
        raise InputError(
            f"cannot read decimals() of token {symbol} at {address} on {chain}: give them "
            f"explicitly as {symbol}={address}:DECIMALS"
        )
    return Token(symbol, address, int(result, 16))


def index_evm(
    con: duckdb.DuckDBPyConnection,
    rpc: str | RpcClient,
    *,
    chain: str | ChainSpec = "ethereum",
    tokens: Sequence[Token] | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
    settings: IndexSettings | None = None,
    on_progress: Callable[[IndexProgress], None] | None = None,
) -> IndexResult:
    """Index native and ERC-20 transfers of ``chain`` from the node at ``rpc`` into the store.

    Parameters
    ----------
    con:
        An open store (``exposure.store.connect``).
    rpc:
        A JSON-RPC URL (credentials allowed; never stored or shown) or a ready client.
    chain:
        A built-in chain name (its id is checked against the node), any other name for a
        local/private chain, or a :class:`ChainSpec`.
    tokens:
        Tokens to track; default the chain's USDT and USDC.
    from_block, to_block:
        Inclusive range. Default: resume after the checkpoint (or from 0), up to the head minus
        ``confirmations``. A range that would leave a gap in a stream is refused.
    on_progress:
        Called after every committed batch.
    """
    settings = settings or IndexSettings()
    spec = chain if isinstance(chain, ChainSpec) else chain_spec(chain)
    client = rpc if isinstance(rpc, RpcClient) else RpcClient(rpc)
    started = time.monotonic()
    if from_block is not None and from_block < 0:
        raise InputError(f"--from-block must be >= 0, got {from_block}")
    if to_block is not None and from_block is not None and to_block < from_block:
        raise InputError(f"--to-block {to_block} is below --from-block {from_block}")

    node_chain_id = int(client.call("eth_chainId"), 16)
    if spec.chain_id is not None and node_chain_id != spec.chain_id:
        raise InputError(
            f"the node at {client.safe_url} serves chain id {node_chain_id}, but chain "
            f"{spec.name!r} is id {spec.chain_id}: pass the right --chain (any other name for a "
            "local or private chain)"
        )
    tracked = tuple(tokens) if tokens is not None else spec.tokens
    spec = ChainSpec(spec.name, spec.chain_id, spec.native_symbol, spec.native_decimals, tracked)
    writes.register_chain(con, spec, node_chain_id)

    head = int(client.call("eth_blockNumber"), 16)
    safe_head = head - settings.confirmations
    target = safe_head if to_block is None else min(to_block, safe_head)

    stream_names = ([NATIVE] if settings.native else []) + [token_stream(t) for t in tracked]
    if not stream_names:
        raise InputError("nothing to index: no tokens tracked and native transfers disabled")
    token_of = {token_stream(t): t for t in tracked}
    cps = reads.checkpoints(con, spec.name)
    next_block: dict[str, int] = {}
    for name in stream_names:
        next_block[name] = start_block(
            cps.get(name), f"{name} on {spec.name}", from_block, to_block, "block"
        )

    first_planned = min(next_block.values())
    tracing = NO_TRACING
    if settings.native and first_planned <= target:
        tracing = detect_tracing(client, max(0, min(first_planned, target)))

    totals = {"blocks": 0, "tokens": 0, "native": 0, "reorgs": 0}
    window = settings.log_window
    reorg_attempts = 0

    def report(committed: int, message: str | None = None) -> None:
        if on_progress is not None:
            on_progress(
                IndexProgress(
                    spec.name,
                    first_planned,
                    target,
                    committed,
                    totals["blocks"],
                    totals["tokens"],
                    totals["native"],
                    message,
                )
            )

    if tracing == NO_TRACING and settings.native and first_planned <= target:
        report(first_planned - 1, "node offers no tracing: internal ETH transfers not indexed")

    while True:
        pending = {s: b for s, b in next_block.items() if b <= target}
        if not pending:
            break
        a = min(pending.values())
        group = [s for s, b in pending.items() if b == a]
        later = [b for b in pending.values() if b > a]
        b_max = min(target, (min(later) - 1) if later else target)
        has_native = NATIVE in group
        cap = settings.max_native_blocks if has_native else settings.max_header_blocks
        b = min(b_max, a + cap - 1)
        group_tokens = [token_of[s].address for s in group if s in token_of]
        try:
            # Several eth_getLogs windows go into one commit (commits cost ~15 ms each).
            logs: list[dict] = []
            blocks: list[dict] = []
            native_rows = []
            cur = a
            began = time.monotonic()
            while True:
                end, part = b, []
                if group_tokens:
                    end, part = fetch_transfer_logs(client, group_tokens, cur, b, window)
                got = fetch_blocks(client, cur, end, full=has_native)
                _check_chain(con, spec.name, cur, got, part, blocks[-1] if blocks else None)
                if has_native:
                    native_rows.extend(fetch_native(client, got, tracing))
                logs.extend(part)
                blocks.extend(got)
                if (
                    end >= b
                    or len(logs) >= settings.batch_rows
                    or time.monotonic() - began > settings.batch_seconds
                ):
                    b = end
                    break
                cur = end + 1
        except _Reorg as reorg:
            reorg_attempts += 1
            if reorg_attempts > settings.reorg_retries:
                raise DataError(
                    f"the chain on {client.safe_url} kept reorganising around block {reorg.at} "
                    f"({reorg_attempts} attempts): try again later or raise --confirmations"
                ) from None
            ancestor = _common_ancestor(con, client, spec.name, reorg.at)
            if ancestor is not None:
                writes.rollback_after(con, spec.name, ancestor)
                totals["reorgs"] += 1
                next_block = {s: min(b, ancestor + 1) for s, b in next_block.items()}
                report(ancestor, f"reorganisation: rolled back to block {ancestor}")
            continue
        except RpcError as exc:
            if exc.block_range is None:
                raise RpcError(
                    f"{exc} (while indexing blocks {a}-{b} of {spec.name})",
                    method=exc.method,
                    block_range=(a, b),
                    code=exc.code,
                ) from None
            raise
        reorg_attempts = 0
        token_table = decode_transfer_logs(logs) if logs else None
        native_table = native_columns(native_rows) if has_native else None
        ranges = [
            writes.StreamRange(s, a, b, token_of[s].address if s in token_of else None)
            for s in group
        ]
        writes.write_evm_batch(
            con, spec.name, ranges, block_columns(blocks), token_table, native_table
        )
        totals["blocks"] += b - a + 1
        totals["tokens"] += token_table.num_rows if token_table is not None else 0
        totals["native"] += len(native_rows)
        for s in group:
            next_block[s] = b + 1
        report(b)

    if totals["blocks"]:
        writes.record_run(
            con,
            chain=spec.name,
            source=client.safe_url,
            node_chain_id=node_chain_id,
            tracing=tracing,
            from_block=first_planned,
            to_block=target,
            reorgs=totals["reorgs"],
        )
    return IndexResult(
        chain=spec.name,
        from_block=first_planned,
        to_block=target,
        blocks=totals["blocks"],
        token_transfers=totals["tokens"],
        native_transfers=totals["native"],
        tracing=tracing,
        reorgs=totals["reorgs"],
        seconds=time.monotonic() - started,
        up_to_date=totals["blocks"] == 0,
    )


def _check_chain(
    con: duckdb.DuckDBPyConnection,
    chain: str,
    first: int,
    blocks: list[dict],
    logs: list[dict],
    previous: dict | None = None,
) -> None:
    """Raise _Reorg unless the fetched blocks chain onto their parent (``previous``, else the
    stored block ``first - 1``) and onto each other, and every log onto its block's hash."""
    if previous is not None:
        if blocks and blocks[0]["parentHash"].lower() != previous["hash"].lower():
            raise _Reorg(first - 1)
    elif first > 0:
        stored = reads.block_hashes(con, chain, first - 1, first - 1).get(first - 1)
        if stored is not None and blocks[0]["parentHash"].lower() != stored:
            raise _Reorg(first - 1)
    for prev, block in itertools.pairwise(blocks):
        if block["parentHash"].lower() != prev["hash"].lower():
            raise _Reorg(int(block["number"], 16))
    if logs:
        hashes = {int(b["number"], 16): b["hash"].lower() for b in blocks}
        pairs = set(zip(map(itemgetter("blockNumber"), logs),
                        map(itemgetter("blockHash"), logs), strict=True))
        for number, block_hash in pairs:
            if hashes.get(int(number, 16)) != str(block_hash).lower():
                raise _Reorg(int(number, 16))


def _common_ancestor(
    con: duckdb.DuckDBPyConnection, client: RpcClient, chain: str, at: int
) -> int | None:
    """The highest stored block at or below ``at`` whose hash the node still has.

    Returns None when nothing stored is affected (the disagreement was inside the fetched batch),
    and -1 when no stored block survives.
    """
    top = reads.highest_block(con, chain)
    if top is None or at > top:
        return None
    hi = min(at, top)
    step = 32
    while hi >= 0:
        lo = max(0, hi - step + 1)
        stored = reads.block_hashes(con, chain, lo, hi)
        numbers = sorted(stored, reverse=True)
        if not numbers:
            return lo - 1 if lo > 0 else -1
        answers = client.batch(
            [("eth_getBlockByNumber", [hex(n), False]) for n in numbers],
            context=f"reorg check of blocks {lo}-{hi}",
        )
        for n, block in zip(numbers, answers, strict=True):
            if isinstance(block, dict) and block.get("hash", "").lower() == stored[n]:
                return n
        hi = lo - 1
        step *= 2
    return -1
