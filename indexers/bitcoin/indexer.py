"""The Bitcoin indexer's driver: fetch raw blocks, check the chain, parse, resolve, commit, repeat.

Blocks come from a node's JSON-RPC (the methods Bitcoin Core and bcoin share: ``getblockcount``,
``getblockhash``, ``getblock <hash> 0``) or from Bitcoin Core's ``blk*.dat`` files
(:func:`exposure.indexers.bitcoin.blkfiles.iter_blocks`), and are parsed by the project
(:func:`exposure.indexers.bitcoin.parse.parse_blocks`), so every node dialect gives the same rows.

One checkpoint stream, ``blocks``: the contiguous heights ``first..last`` fully committed. A batch
of blocks ``a..b`` is written by :func:`exposure.store.writes.write_btc_batch` in one transaction
with its headers, transactions, outputs, inputs, fetched prevouts, apportioned transfers and the
checkpoint, so a crash keeps the whole batch or none of it and a rerun replaces instead of
duplicating.

Before a batch is written its headers must chain onto the stored block ``a-1`` and onto each
other; a mismatch is a reorganisation: the store is rolled back to the common ancestor
(:func:`exposure.store.writes.rollback_after`) and the blocks above it are indexed again. Only
blocks at least ``confirmations`` below the node's head are indexed.

Inputs spending outputs outside the indexed range (below ``--from-height`` on a first run) are
resolved with ``getrawtransaction <txid> 0`` when the node has a transaction index (detected
once per run); otherwise they stay unresolved, are left out of the transfer shares, and are
counted (:func:`unresolved_inputs`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exposure.chains import CHAINS, chain_spec
from exposure.domain import ChainSpec, IndexProgress, IndexResult
from exposure.errors import DataError, InputError, RpcError
from exposure.store import reads, writes

from ..planning import start_block
from ..rpc import CallError, RpcClient
from .parse import parse_blocks

STREAM = "blocks"

#: Genesis block hashes: the node (or the files) must serve the network given.
GENESIS = {
    "bitcoin": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    "testnet": "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    "testnet4": "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
    "signet": "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
    "regtest": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
}

#: The store's chain name of each network when none is given (``bitcoin`` is mainnet only).
DEFAULT_CHAIN = {
    "bitcoin": "bitcoin",
    "testnet": "bitcoin-testnet",
    "testnet4": "bitcoin-testnet4",
    "signet": "bitcoin-signet",
    "regtest": "bitcoin-regtest",
}

#: ``tracing`` of the result and of ``index_runs``: how prevouts outside the range were resolved.
PREVOUTS_TXINDEX = "getrawtransaction"
PREVOUTS_NONE = "none"
PREVOUTS_UNNEEDED = "not needed"

#: JSON-RPC code of "Block height out of range" (Bitcoin Core's RPC_INVALID_PARAMETER; bcoin too).
_INVALID_PARAMETER = -8

BTC_TXS_SCHEMA = pa.schema(
    [
        ("block_number", pa.uint64()),
        ("position", pa.int32()),
        ("txid", pa.string()),
        ("is_coinbase", pa.bool_()),
        ("coinbase_script", pa.binary()),
        ("n_in", pa.int32()),
        ("n_out", pa.int32()),
    ]
)
BTC_OUTPUTS_SCHEMA = pa.schema(
    [
        ("block_number", pa.uint64()),
        ("txid", pa.string()),
        ("vout", pa.int32()),
        ("value_sat", pa.uint64()),
        ("script_type", pa.string()),
        ("address", pa.string()),
    ]
)
BTC_INPUTS_SCHEMA = pa.schema(
    [
        ("block_number", pa.uint64()),
        ("txid", pa.string()),
        ("vin", pa.int32()),
        ("prev_txid", pa.string()),
        ("prev_vout", pa.uint64()),
        ("is_coinbase", pa.bool_()),
    ]
)
BTC_PREVOUTS_SCHEMA = pa.schema(
    [
        ("txid", pa.string()),
        ("vout", pa.int32()),
        ("value_sat", pa.uint64()),
        ("script_type", pa.string()),
        ("address", pa.string()),
    ]
)
BLOCKS_SCHEMA = pa.schema(
    [
        ("number", pa.uint64()),
        ("hash", pa.string()),
        ("parent_hash", pa.string()),
        ("timestamp", pa.int64()),
    ]
)


@dataclass
class BtcIndexSettings:
    """Tunables of a run (defaults suit a local Bitcoin Core or bcoin node)."""

    confirmations: int = 6
    #: Most blocks per committed batch.
    max_blocks: int = 500
    #: A batch is committed once its raw blocks reach this many bytes or took this long to fetch.
    batch_bytes: int = 64 * 2**20
    batch_seconds: float = 5.0
    #: ``getblock`` calls in the first HTTP request; later requests aim at ``request_bytes`` of
    #: raw blocks (early mainnet blocks are tiny, recent ones up to 4 MB, 8 MB as hex).
    blocks_per_request: int = 8
    request_bytes: int = 8 * 2**20
    max_blocks_per_request: int = 500
    #: ``getrawtransaction`` calls per HTTP request, for prevouts outside the indexed range.
    prevouts_per_request: int = 100
    #: Resolve prevouts outside the range with ``getrawtransaction`` when the node can.
    resolve_prevouts: bool = True
    reorg_retries: int = 5


@dataclass(frozen=True)
class BtcIndexResult(IndexResult):
    """An :class:`IndexResult` with Bitcoin's counts.

    ``native_transfers`` are the apportioned BTC transfers (``btc_transfers`` rows); ``tracing``
    says how prevouts outside the range were resolved: ``getrawtransaction``, ``none`` (the node
    has no transaction index) or ``not needed``.
    """

    network: str = "bitcoin"
    transactions: int = 0
    outputs: int = 0
    inputs: int = 0
    prevouts_fetched: int = 0
    #: Inputs of this run whose previous output is neither stored nor fetched.
    unresolved_inputs: int = 0

    @property
    def transfers(self) -> int:
        """Apportioned BTC transfers written by this run."""
        return self.native_transfers


class _Reorg(Exception):
    """The source's chain disagrees with the store or the batch; ``at`` is the first height
    that disagreed (or whose parent did)."""

    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


def sha256d(data: bytes) -> bytes:
    """Double SHA-256 (internal byte order)."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def block_hash(raw: bytes) -> str:
    """The display hash of a block from its first 80 bytes (the header)."""
    return sha256d(raw[:80])[::-1].hex()


# --------------------------------------------------------------------------------------------
# Sources of raw blocks
# --------------------------------------------------------------------------------------------


class NodeBlocks:
    """Raw blocks of a node's best chain over JSON-RPC (Bitcoin Core, bcoin, ...)."""

    def __init__(self, client: RpcClient, settings: BtcIndexSettings) -> None:
        self.client = client
        self.settings = settings
        self.label = client.safe_url

    def head(self) -> int:
        """The node's best height."""
        return int(self.client.call("getblockcount"))

    def hashes(self, first: int, last: int) -> dict[int, str]:
        """Best-chain hashes of heights ``first..last``; heights above the head are absent."""
        if last < first:
            return {}
        answers = self.client.batch(
            [("getblockhash", [h]) for h in range(first, last + 1)],
            context=f"blocks {first}-{last}",
        )
        out = {}
        for h, answer in zip(range(first, last + 1), answers, strict=True):
            if isinstance(answer, CallError):
                if answer.code != _INVALID_PARAMETER:
                    raise RpcError(
                        f"getblockhash {h} failed on {self.client.safe_url}: JSON-RPC error "
                        f"{answer.code}: {answer.message}",
                        method="getblockhash",
                        block_range=(first, last),
                        code=answer.code,
                    )
                continue
            out[h] = str(answer).lower()
        return out

    def blocks(self, first: int, last: int) -> Iterator[tuple[int, bytes]]:
        """``(height, raw block)`` for heights ``first..last``, fetched in batched requests.

        Raises _Reorg when the node's chain no longer reaches a height (it got shorter).
        """
        step = max(1, self.settings.blocks_per_request)
        lo = first
        while lo <= last:
            hi = min(last, lo + step - 1)
            hashes = self.hashes(lo, hi)
            missing = [h for h in range(lo, hi + 1) if h not in hashes]
            if missing:
                raise _Reorg(missing[0] - 1)
            answers = self.client.batch(
                [("getblock", [hashes[h], 0]) for h in range(lo, hi + 1)],
                context=f"blocks {lo}-{hi}",
            )
            fetched = 0
            for h, answer in zip(range(lo, hi + 1), answers, strict=True):
                if isinstance(answer, CallError):
                    # The block left the best chain between the two calls, or the node pruned it.
                    raise RpcError(
                        f"getblock {hashes[h]} (height {h}) failed on {self.client.safe_url}: "
                        f"JSON-RPC error {answer.code}: {answer.message}",
                        method="getblock",
                        block_range=(lo, hi),
                        code=answer.code,
                    )
                try:
                    raw = bytes.fromhex(answer)
                except (TypeError, ValueError):
                    raise DataError(
                        f"getblock {hashes[h]} (height {h}) on {self.client.safe_url} did not "
                        "answer raw block hex: is this a Bitcoin node?"
                    ) from None
                if len(raw) < 80 or block_hash(raw[:80]) != hashes[h]:
                    raise DataError(
                        f"block {h} from {self.client.safe_url} does not hash to "
                        f"{hashes[h]}: the node answered other bytes than asked for"
                    )
                fetched += len(raw)
                yield h, raw
            average = max(1, fetched // (hi - lo + 1))
            step = max(1, min(self.settings.max_blocks_per_request, self.settings.max_blocks,
                              self.settings.request_bytes // average))
            lo = hi + 1


class FileBlocks:
    """Raw blocks of the best chain in Bitcoin Core's ``blk*.dat`` files (a fixed snapshot).

    The headers are scanned once (:func:`~exposure.indexers.bitcoin.blkfiles.best_chain`); the
    chain found serves heights, hashes and block positions for the whole run.
    """

    def __init__(self, blocks_dir: str | Path, network: str) -> None:
        self.blocks_dir = Path(blocks_dir)
        self.network = network
        self.label = f"blocks-dir {self.blocks_dir}"
        self._chain: list | None = None

    @property
    def chain(self) -> list:
        if self._chain is None:
            from .blkfiles import best_chain

            self._chain = best_chain(self.blocks_dir, self.network)
        return self._chain

    def head(self) -> int:
        """The height of the best chain the files hold."""
        return len(self.chain) - 1

    def hashes(self, first: int, last: int) -> dict[int, str]:
        """Hashes of the files' best chain at heights ``first..last`` (from the scan)."""
        return {loc.height: loc.hash for loc in self.chain[max(0, first) : last + 1]}

    def blocks(self, first: int, last: int) -> Iterator[tuple[int, bytes]]:
        """``(height, raw block)`` of heights ``first..last`` from the files."""
        from .blkfiles import iter_blocks

        yield from iter_blocks(self.blocks_dir, first, last, self.network, chain=self.chain)


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------


def btc_chain_name(chain: str | None, network: str) -> str:
    """The store's chain name for ``network``: ``chain`` if given (checked), else the default.

    ``bitcoin`` is reserved for mainnet, and the built-in EVM chain names are refused.
    """
    if network not in GENESIS:
        raise InputError(f"unknown Bitcoin network {network!r}: use one of {', '.join(GENESIS)}")
    if chain is None:
        return DEFAULT_CHAIN[network]
    name = chain_spec(chain).name
    if name in CHAINS:
        raise InputError(f"{name!r} is an EVM chain: give a Bitcoin chain name such as "
                         f"{DEFAULT_CHAIN[network]!r}")
    if name == "bitcoin" and network != "bitcoin":
        raise InputError(
            f"chain name 'bitcoin' is Bitcoin mainnet; a {network} chain needs another name, "
            f"e.g. --chain {DEFAULT_CHAIN[network]}"
        )
    return name


def index_btc(
    con: duckdb.DuckDBPyConnection,
    rpc: str | RpcClient | None,
    *,
    chain: str | None = None,
    network: str = "bitcoin",
    from_height: int | None = None,
    to_height: int | None = None,
    blocks_dir: str | Path | None = None,
    settings: BtcIndexSettings | None = None,
    on_progress: Callable[[IndexProgress], None] | None = None,
) -> BtcIndexResult:
    """Index Bitcoin blocks, transactions, outputs, inputs and apportioned transfers.

    Parameters
    ----------
    con:
        An open store (``exposure.store.connect``).
    rpc:
        A node's JSON-RPC URL (credentials allowed, e.g. ``http://user:pass@host:8332/``; never
        stored or shown) or a ready client. Optional with ``blocks_dir``, where it only serves
        ``getrawtransaction`` for prevouts.
    chain:
        The store's chain name; default ``bitcoin`` on mainnet, ``bitcoin-<network>`` otherwise.
    network:
        ``bitcoin``, ``testnet``, ``testnet4``, ``signet`` or ``regtest``: checked against the
        node's genesis block, and the encoding of addresses (from scripts).
    from_height, to_height:
        Inclusive range. Default: resume after the checkpoint (or from 0), up to the head minus
        ``confirmations``. A range that would leave a gap in the stored heights is refused.
    blocks_dir:
        Read blocks from Bitcoin Core's ``blk*.dat`` files in this folder instead of over RPC.
    on_progress:
        Called after every committed batch (and with a ``message`` for notable events).
    """
    settings = settings or BtcIndexSettings()
    name = btc_chain_name(chain, network)
    started = time.monotonic()
    if from_height is not None and from_height < 0:
        raise InputError(f"--from-height must be >= 0, got {from_height}")
    if to_height is not None and from_height is not None and to_height < from_height:
        raise InputError(f"--to-height {to_height} is below --from-height {from_height}")
    if settings.confirmations < 0:
        raise InputError(f"--confirmations must be >= 0, got {settings.confirmations}")
    if rpc is None and blocks_dir is None:
        raise InputError("no source given: pass --rpc URL or --blocks-dir PATH")

    client = None if rpc is None else rpc if isinstance(rpc, RpcClient) else RpcClient(rpc)
    if client is not None:
        genesis = NodeBlocks(client, settings).hashes(0, 0).get(0)
        if genesis != GENESIS[network]:
            known = next((n for n, g in GENESIS.items() if g == genesis), None)
            raise InputError(
                f"the node at {client.safe_url} serves "
                + (f"Bitcoin {known}" if known else f"an unknown chain (genesis {genesis})")
                + f", not {network}: pass the right --network"
            )
    source: NodeBlocks | FileBlocks
    if blocks_dir is not None:
        source = FileBlocks(blocks_dir, network)
    else:
        assert client is not None
        source = NodeBlocks(client, settings)
    _register_chain(con, name)

    head = source.head()
    target = head - settings.confirmations
    if to_height is not None:
        target = min(to_height, target)

    cp = reads.checkpoints(con, name).get(STREAM)
    start = start_block(cp, name, from_height, to_height, "height")
    first_planned = start
    totals = dict.fromkeys(
        ("blocks", "txs", "outputs", "inputs", "transfers", "prevouts", "unresolved", "reorgs"), 0
    )
    resolver = _PrevoutResolver(client if settings.resolve_prevouts else None, network, settings)
    # Indexed contiguously from genesis, every output an input can spend is already stored or in
    # the batch: the look-up (a scan of btc_outputs per batch) is skipped.
    resolver.from_genesis = start == 0 or (cp is not None and cp.first == 0)

    def report(committed: int, message: str | None = None) -> None:
        if on_progress is not None:
            on_progress(
                IndexProgress(
                    name, first_planned, target, committed, totals["blocks"], 0,
                    totals["transfers"], message,
                )
            )

    next_height = start
    blocks = source.blocks(next_height, target) if next_height <= target else iter(())
    reorg_attempts = 0
    while next_height <= target:
        a = next_height
        raws: list[bytes] = []
        size = 0
        began = time.monotonic()
        try:
            try:
                for h, raw in blocks:
                    if h != a + len(raws):
                        raise DataError(
                            f"{source.label} gave block {h} where {a + len(raws)} was expected"
                        )
                    raws.append(raw)
                    size += len(raw)
                    if (
                        h >= target
                        or len(raws) >= settings.max_blocks
                        or size >= settings.batch_bytes
                        or time.monotonic() - began > settings.batch_seconds
                    ):
                        break
                if not raws:
                    raise DataError(
                        f"{source.label} holds no block {a} although its best chain reaches "
                        f"{head}: the files are incomplete"
                    )
                b = a + len(raws) - 1
                _check_chain(con, name, a, raws)
                if a == 0 and block_hash(raws[0][:80]) != GENESIS[network]:
                    raise InputError(
                        f"{source.label} starts with genesis {block_hash(raws[0][:80])}, not "
                        f"{network}'s: pass the right --network"
                    )
                parsed = parse_blocks(raws, network=network, heights=range(a, b + 1))
                tables = block_tables(parsed, a)
                prevouts, fetched, unresolved = resolver.resolve(con, name, a, b, tables, report)
            except RpcError as exc:
                if exc.block_range is None:
                    planned = min(target, a + settings.max_blocks - 1)
                    raise RpcError(
                        f"{exc} (while indexing blocks {a}-{planned} of {name})",
                        method=exc.method,
                        block_range=(a, planned),
                        code=exc.code,
                    ) from None
                raise
        except _Reorg as reorg:
            reorg_attempts += 1
            if reorg_attempts > settings.reorg_retries:
                raise DataError(
                    f"the chain on {source.label} kept reorganising around block {reorg.at} "
                    f"({reorg_attempts} attempts): try again later or raise --confirmations"
                ) from None
            ancestor = _common_ancestor(con, source, name, reorg.at)
            if ancestor is not None:
                writes.rollback_after(con, name, ancestor)
                totals["reorgs"] += 1
                next_height = min(next_height, ancestor + 1)
                report(ancestor, f"reorganisation: rolled back to block {ancestor}")
            target = min(target, source.head() - settings.confirmations)
            blocks = source.blocks(next_height, target) if next_height <= target else iter(())
            continue
        reorg_attempts = 0
        txs, outputs, inputs, block_rows = tables
        writes.write_btc_batch(con, name, a, b, block_rows, txs, outputs, inputs, prevouts)
        transfers = con.execute(
            "SELECT count(*) FROM btc_transfers WHERE chain = ? AND block_number BETWEEN ? AND ?",
            [name, a, b],
        ).fetchall()[0][0]
        totals["blocks"] += b - a + 1
        totals["txs"] += txs.num_rows
        totals["outputs"] += outputs.num_rows
        totals["inputs"] += inputs.num_rows
        totals["transfers"] += int(transfers)
        totals["prevouts"] += fetched
        totals["unresolved"] += unresolved
        next_height = b + 1
        report(b)

    mode = resolver.mode
    if totals["blocks"]:
        writes.record_run(
            con,
            chain=name,
            source=source.label,
            node_chain_id=None,
            tracing=mode,
            from_block=first_planned,
            to_block=target,
            reorgs=totals["reorgs"],
        )
    return BtcIndexResult(
        chain=name,
        from_block=first_planned,
        to_block=target,
        blocks=totals["blocks"],
        token_transfers=0,
        native_transfers=totals["transfers"],
        tracing=mode,
        reorgs=totals["reorgs"],
        seconds=time.monotonic() - started,
        up_to_date=totals["blocks"] == 0,
        network=network,
        transactions=totals["txs"],
        outputs=totals["outputs"],
        inputs=totals["inputs"],
        prevouts_fetched=totals["prevouts"],
        unresolved_inputs=totals["unresolved"],
    )


def _register_chain(con: duckdb.DuckDBPyConnection, name: str) -> None:
    rows = con.execute("SELECT native_symbol FROM chains WHERE chain = ?", [name]).fetchall()
    if rows and rows[0][0] != "BTC":
        raise InputError(
            f"chain {name!r} in the store is an EVM chain ({rows[0][0]}): give the Bitcoin chain "
            "another --chain name"
        )
    writes.register_chain(con, ChainSpec(name, None, "BTC", 8), None)


# --------------------------------------------------------------------------------------------
# Parsed blocks to store tables
# --------------------------------------------------------------------------------------------


def block_tables(parsed, first: int) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """The ``btc_txs``, ``btc_outputs``, ``btc_inputs`` and ``blocks`` rows of parsed blocks
    ``first, first+1, ...`` (in that order), with each row's block number.

    Rows are attributed to blocks by position (the parser's rows are in block, transaction,
    input/output order), and the attribution is checked against the txids.
    """
    blocks, txs, outs, ins = parsed.blocks, parsed.txs, parsed.outputs, parsed.inputs
    n_blocks = blocks.num_rows
    heights = np.arange(first, first + n_blocks, dtype=np.uint64)
    n_tx = blocks["n_tx"].to_numpy()
    n_out = txs["n_out"].to_numpy()
    n_in = txs["n_in"].to_numpy()
    if int(n_tx.sum()) != txs.num_rows or int(n_out.sum()) != outs.num_rows or int(
        n_in.sum()
    ) != ins.num_rows:
        raise DataError(f"blocks {first}-{first + n_blocks - 1}: parsed row counts disagree")
    tx_block = np.repeat(heights, n_tx)
    tx_index = np.arange(txs.num_rows)
    if outs.num_rows and not pc.all(
        pc.equal(outs["txid"], pc.take(txs["txid"], np.repeat(tx_index, n_out)))
    ).as_py():
        raise DataError(f"blocks {first}-{first + n_blocks - 1}: outputs out of order")
    if ins.num_rows and not pc.all(
        pc.equal(ins["txid"], pc.take(txs["txid"], np.repeat(tx_index, n_in)))
    ).as_py():
        raise DataError(f"blocks {first}-{first + n_blocks - 1}: inputs out of order")
    is_cb = txs["is_coinbase"]
    tx_rows = pa.Table.from_arrays(
        [
            pa.array(tx_block, type=pa.uint64()),
            txs["position"],
            txs["txid"],
            is_cb,
            pc.if_else(is_cb, txs["coinbase_script"], pa.scalar(None, pa.binary())),
            txs["n_in"],
            txs["n_out"],
        ],
        schema=BTC_TXS_SCHEMA,
    )
    out_rows = pa.Table.from_arrays(
        [
            pa.array(np.repeat(tx_block, n_out), type=pa.uint64()),
            outs["txid"],
            outs["vout"],
            pc.cast(outs["value"], pa.uint64()),
            outs["script_type"],
            outs["address"],
        ],
        schema=BTC_OUTPUTS_SCHEMA,
    )
    in_rows = pa.Table.from_arrays(
        [
            pa.array(np.repeat(tx_block, n_in), type=pa.uint64()),
            ins["txid"],
            ins["vin"],
            ins["prev_txid"],
            pc.cast(ins["prev_vout"], pa.uint64()),
            ins["is_coinbase"],
        ],
        schema=BTC_INPUTS_SCHEMA,
    )
    block_rows = pa.Table.from_arrays(
        [
            pa.array(heights, type=pa.uint64()),
            blocks["hash"],
            blocks["prev_hash"],
            blocks["time"],
        ],
        schema=BLOCKS_SCHEMA,
    )
    return tx_rows, out_rows, in_rows, block_rows


# --------------------------------------------------------------------------------------------
# Prevouts outside the indexed range
# --------------------------------------------------------------------------------------------

_MISSING_SQL = """
SELECT i.prev_txid AS txid, CAST(i.prev_vout AS INTEGER) AS vout
FROM _batch_in i
WHERE NOT i.is_coinbase
  AND NOT EXISTS (SELECT 1 FROM _batch_out o WHERE o.txid = i.prev_txid AND o.vout = i.prev_vout)
  AND NOT EXISTS (SELECT 1 FROM btc_outputs o WHERE o.chain = $chain AND o.txid = i.prev_txid
                  AND o.vout = i.prev_vout AND o.block_number NOT BETWEEN $lo AND $hi)
  AND NOT EXISTS (SELECT 1 FROM btc_prevouts p WHERE p.chain = $chain AND p.txid = i.prev_txid
                  AND p.vout = i.prev_vout)
"""


class _PrevoutResolver:
    """Finds a batch's inputs whose previous output is not stored, and fetches those outputs
    with ``getrawtransaction`` when the node has a transaction index (detected once)."""

    def __init__(self, client: RpcClient | None, network: str, settings: BtcIndexSettings):
        self.client = client
        self.network = network
        self.settings = settings
        self.tx_index: bool | None = None if client is not None else False
        self.needed = False
        self.told = False
        self.from_genesis = False

    @property
    def mode(self) -> str:
        if not self.needed:
            return PREVOUTS_UNNEEDED
        return PREVOUTS_TXINDEX if self.tx_index else PREVOUTS_NONE

    def resolve(
        self,
        con: duckdb.DuckDBPyConnection,
        chain: str,
        a: int,
        b: int,
        tables: tuple[pa.Table, pa.Table, pa.Table, pa.Table],
        report: Callable[[int, str | None], None],
    ) -> tuple[pa.Table | None, int, int]:
        """(prevout rows to store, how many were fetched, how many stay unresolved)."""
        txs, outputs, inputs, _ = tables
        if self.from_genesis:
            return None, 0, 0
        con.register("_batch_in", inputs.select(["prev_txid", "prev_vout", "is_coinbase"]))
        con.register("_batch_out", outputs.select(["txid", "vout"]))
        try:
            missing = con.sql(
                _MISSING_SQL, params={"chain": chain, "lo": a, "hi": b}
            ).to_arrow_table()
        finally:
            con.unregister("_batch_in")
            con.unregister("_batch_out")
        if not missing.num_rows:
            return None, 0, 0
        self.needed = True
        if self.tx_index is None:
            assert self.client is not None
            probe = pc.filter(
                txs["txid"], pc.and_(txs["is_coinbase"], pc.greater(txs["block_number"], 0))
            )
            self.tx_index = _has_tx_index(self.client, probe[0].as_py() if len(probe) else None)
        if not self.tx_index:
            if not self.told:
                self.told = True
                report(
                    a - 1,
                    "no transaction index on the source (getrawtransaction): inputs spending "
                    "outputs outside the indexed range stay unresolved and are counted",
                )
            return None, 0, missing.num_rows
        assert self.client is not None
        wanted = sorted(set(missing["txid"].to_pylist()))
        raws = self._fetch(wanted, a, b)
        parsed = parse_transactions(raws, wanted, self.network, context=f"blocks {a}-{b}")
        found = parsed.outputs.select(["txid", "vout", "value", "script_type", "address"]).join(
            missing, keys=["txid", "vout"], join_type="inner"
        )
        if found.num_rows != missing.num_rows:
            raise DataError(
                f"blocks {a}-{b}: {missing.num_rows - found.num_rows} inputs spend outputs that "
                "their transactions (from getrawtransaction) do not have"
            )
        rows = pa.Table.from_arrays(
            [
                found["txid"],
                found["vout"],
                pc.cast(found["value"], pa.uint64()),
                found["script_type"],
                found["address"],
            ],
            schema=BTC_PREVOUTS_SCHEMA,
        )
        return rows, rows.num_rows, 0

    def _fetch(self, txids: Sequence[str], a: int, b: int) -> list[bytes]:
        assert self.client is not None
        out: list[bytes] = []
        step = max(1, self.settings.prevouts_per_request)
        for k in range(0, len(txids), step):
            chunk = txids[k : k + step]
            answers = self.client.batch(
                [("getrawtransaction", [t, 0]) for t in chunk],
                context=f"prevouts of blocks {a}-{b}",
            )
            for txid, answer in zip(chunk, answers, strict=True):
                if isinstance(answer, CallError):
                    raise RpcError(
                        f"getrawtransaction {txid} (spent in blocks {a}-{b}) failed on "
                        f"{self.client.safe_url} although the node has a transaction index: "
                        f"JSON-RPC error {answer.code}: {answer.message} (is the index still "
                        "being built?)",
                        method="getrawtransaction",
                        code=answer.code,
                    )
                try:
                    out.append(bytes.fromhex(answer))
                except (TypeError, ValueError):
                    raise DataError(
                        f"getrawtransaction {txid} on {self.client.safe_url} did not answer raw "
                        "transaction hex"
                    ) from None
        return out


def _has_tx_index(client: RpcClient, probe_txid: str | None) -> bool:
    """Whether ``getrawtransaction`` finds confirmed transactions on this node.

    Bitcoin Core (0.21+) lists its indexes in ``getindexinfo``; other nodes (bcoin) are probed
    with a confirmed coinbase transaction, which no mempool holds.
    """
    info = client.try_call("getindexinfo")
    if isinstance(info, dict):
        return "txindex" in info
    if probe_txid is None:
        return False
    answer = client.try_call("getrawtransaction", [probe_txid, 0])
    return isinstance(answer, str)


#: A synthetic coinbase for :func:`parse_transactions`' wrapper blocks (never stored).
_FAKE_COINBASE = bytes.fromhex(
    "01000000" "01" + "00" * 32 + "ffffffff" "00" "ffffffff" "01" + "00" * 8 + "00" "00000000"
)
_FAKE_COINBASE_DIGEST = sha256d(_FAKE_COINBASE)
_NULL_OUTPOINT = b"\x00" * 32 + b"\xff\xff\xff\xff"


def _is_coinbase(raw: bytes) -> bool:
    """Whether a serialised transaction is a coinbase: one input spending the null outpoint."""
    pos = 6 if raw[4:6] == b"\x00\x01" else 4  # segwit marker and flag
    return raw[pos : pos + 1] == b"\x01" and raw[pos + 1 : pos + 37] == _NULL_OUTPOINT


def _wrapper_header(digests: Sequence[bytes]) -> bytes:
    root = digests[0] if len(digests) == 1 else sha256d(digests[0] + digests[1])
    # version 1, no parent, the root, time 0, regtest bits, nonce 0: only the root matters
    return b"\x01\x00\x00\x00" + b"\x00" * 32 + root + bytes(4) + b"\xff\xff\x7f\x20" + bytes(4)


def parse_transactions(
    raw_txs: Sequence[bytes], txids: Sequence[str], network: str, *, context: str = ""
):
    """Parse raw transactions (as ``getrawtransaction <txid> 0`` answers them) whose txids are
    known, with the block parser.

    Each is wrapped in a synthetic block whose header commits to the expected txid (after a
    synthetic coinbase unless it is a coinbase itself), so a transaction that is not the one
    asked for fails the parser's merkle check. Returns :class:`ParsedBlocks` without the
    synthetic rows (``blocks`` describes the wrappers).
    """
    wrapped = []
    for raw, txid in zip(raw_txs, txids, strict=True):
        digest = bytes.fromhex(txid)[::-1]
        if _is_coinbase(raw):
            wrapped.append(_wrapper_header([digest]) + b"\x01" + raw)
        else:
            header = _wrapper_header([_FAKE_COINBASE_DIGEST, digest])
            wrapped.append(header + b"\x02" + _FAKE_COINBASE + raw)
    try:
        parsed = parse_blocks(wrapped, network)
    except DataError as exc:
        raise DataError(
            f"transactions fetched with getrawtransaction{' for ' + context if context else ''} "
            f"do not parse to the txids asked for: {exc}"
        ) from None
    fake = _FAKE_COINBASE_DIGEST[::-1].hex()
    return type(parsed)(
        parsed.blocks,
        parsed.txs.filter(pc.not_equal(parsed.txs["txid"], fake)),
        parsed.outputs.filter(pc.not_equal(parsed.outputs["txid"], fake)),
        parsed.inputs.filter(pc.not_equal(parsed.inputs["txid"], fake)),
    )


# --------------------------------------------------------------------------------------------
# Chain checks
# --------------------------------------------------------------------------------------------


def _check_chain(
    con: duckdb.DuckDBPyConnection, chain: str, first: int, raws: Sequence[bytes]
) -> None:
    """Raise _Reorg unless the blocks chain onto the stored block ``first - 1`` (if stored) and
    onto each other."""
    parents = [raw[4:36][::-1].hex() for raw in raws]
    if first > 0:
        parent = reads.block_hashes(con, chain, first - 1, first - 1).get(first - 1)
        if parent is not None and parents[0] != parent:
            raise _Reorg(first - 1)
    for k in range(1, len(raws)):
        if parents[k] != block_hash(raws[k - 1][:80]):
            raise _Reorg(first + k)


def _common_ancestor(
    con: duckdb.DuckDBPyConnection, source: NodeBlocks | FileBlocks, chain: str, at: int
) -> int | None:
    """The highest stored block at or below ``at`` whose hash the source still has.

    Returns None when nothing stored is affected (the disagreement was inside the fetched
    batch), and -1 when no stored block survives.
    """
    top = reads.highest_block(con, chain)
    if top is None or at > top:
        return None
    hi = min(at, top)
    step = 32
    while hi >= 0:
        lo = max(0, hi - step + 1)
        stored = reads.block_hashes(con, chain, lo, hi)
        if not stored:
            return lo - 1 if lo > 0 else -1
        current = source.hashes(min(stored), max(stored))
        for n in sorted(stored, reverse=True):
            if current.get(n) == stored[n]:
                return n
        hi = lo - 1
        step *= 2
    return -1


def unresolved_inputs(con: duckdb.DuckDBPyConnection, chain: str) -> int:
    """Inputs of ``chain`` (not coinbase) whose previous output is neither indexed nor fetched:
    left out of the transfer shares; reports show this count in the data state."""
    return int(
        con.execute(
            """SELECT count(*) FROM btc_inputs i
            WHERE i.chain = ? AND NOT i.is_coinbase
              AND NOT EXISTS (SELECT 1 FROM btc_outputs o WHERE o.chain = i.chain
                              AND o.txid = i.prev_txid AND o.vout = i.prev_vout)
              AND NOT EXISTS (SELECT 1 FROM btc_prevouts p WHERE p.chain = i.chain
                              AND p.txid = i.prev_txid AND p.vout = i.prev_vout)""",
            [chain],
        ).fetchall()[0][0]
    )


__all__ = [
    "DEFAULT_CHAIN",
    "GENESIS",
    "STREAM",
    "BtcIndexResult",
    "BtcIndexSettings",
    "FileBlocks",
    "NodeBlocks",
    "block_tables",
    "btc_chain_name",
    "index_btc",
    "parse_transactions",
    "unresolved_inputs",
]
