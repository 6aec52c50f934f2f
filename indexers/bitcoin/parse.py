"""Raw Bitcoin blocks to columns: a Numba walk over the bytes, hashlib for the hashes.

The serialisation is read by the project, never re-serialised: a block is its 80-byte header, a
varint transaction count and the transactions; a transaction is version, optional segwit marker
``00`` and flag ``01``, inputs, outputs, one witness stack per input when the flag is set, and
locktime. Two ``@njit(cache=True)`` kernels share one walk (:func:`_walk_blocks`): the first pass
counts transactions, inputs and outputs and validates the structure, the second fills the offset
tables. Everything else is column work on the offsets:

- txid = double SHA-256 of the *non-witness* serialisation (version, inputs, outputs, locktime:
  the marker, flag and witnesses skipped), hashed from the original bytes, shown byte-reversed.
  bitcoinlib is never asked for a txid: it re-serialises some witness transactions differently
  from their bytes (seen on mainnet block 574200) and then reports a wrong one.
- block hash = double SHA-256 of the 80-byte header, byte-reversed.
- every block's merkle root is recomputed from the txids and must equal the header's, and the
  tree must not be mutated (CVE-2012-2459: a duplicated last pair), so a flipped byte anywhere in
  the non-witness data raises instead of yielding a wrong row. Witness bytes are outside the
  merkle root; they are checked structurally (lengths, at least one non-empty stack when the flag
  is set) and only feed ``size``/``vsize``.

Truncated or corrupt bytes raise :class:`exposure.errors.DataError` naming the block (index in the
call, height if given, header hash), the transaction and the byte offset inside the block.

Scripts become ``script_type``/``address`` once per distinct script in
:mod:`exposure.indexers.bitcoin.scripts`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pyarrow as pa
from numba import njit

from exposure.errors import DataError, InputError

from .model import ParsedBlocks
from .scripts import classify_scripts, network_params, sha256d_rows

#: Columns of the four tables (see :class:`ParsedBlocks`).
BLOCKS_SCHEMA = pa.schema(
    [
        ("height", pa.int64()),
        ("hash", pa.string()),
        ("prev_hash", pa.string()),
        ("merkle_root", pa.string()),
        ("time", pa.int64()),
        ("n_tx", pa.int32()),
    ]
)
TXS_SCHEMA = pa.schema(
    [
        ("block_hash", pa.string()),
        ("position", pa.int32()),
        ("txid", pa.string()),
        ("is_coinbase", pa.bool_()),
        ("coinbase_script", pa.binary()),
        ("n_in", pa.int32()),
        ("n_out", pa.int32()),
        ("has_witness", pa.bool_()),
        ("size", pa.int32()),
        ("vsize", pa.int32()),
    ]
)
OUTPUTS_SCHEMA = pa.schema(
    [
        ("txid", pa.string()),
        ("vout", pa.int32()),
        ("value", pa.int64()),
        ("script", pa.binary()),
        ("script_type", pa.string()),
        ("address", pa.string()),
    ]
)
INPUTS_SCHEMA = pa.schema(
    [
        ("txid", pa.string()),
        ("vin", pa.int32()),
        ("prev_txid", pa.string()),
        ("prev_vout", pa.int64()),
        ("is_coinbase", pa.bool_()),
    ]
)

HEADER_SIZE = 80
#: ``prev_vout`` of a coinbase input (the null outpoint's index).
COINBASE_VOUT = 0xFFFFFFFF
#: 21 million BTC in satoshi: an output above it is corrupt (consensus rule bad-txns-vout-toolarge).
MAX_MONEY = 21_000_000 * 100_000_000
#: Largest varint Bitcoin Core accepts when reading a size (``MAX_SIZE``, 32 MiB).
MAX_VARINT = 0x02000000

# Columns of the kernels' int64 offset tables.
TX_BLOCK, TX_POSITION, TX_START, TX_IO_START, TX_IO_END, TX_END = 0, 1, 2, 3, 4, 5
TX_N_IN, TX_N_OUT, TX_WITNESS, TX_COINBASE, TX_CB_OFF, TX_CB_LEN = 6, 7, 8, 9, 10, 11
TX_COLS = 12
IN_TX, IN_PREV_OFF, IN_PREV_VOUT = 0, 1, 2
IN_COLS = 3
OUT_TX, OUT_VALUE, OUT_SCRIPT_OFF, OUT_SCRIPT_LEN = 0, 1, 2, 3
OUT_COLS = 4

# Error codes of the kernels (``err[0]``), with the words of the DataError.
ERR_TRUNCATED = 1
ERR_NONCANONICAL = 2
ERR_TOO_LARGE = 3
ERR_SEGWIT_FLAG = 4
ERR_NO_TX = 5
ERR_TRAILING = 6
ERR_VALUE = 7
ERR_EMPTY_WITNESS = 8
ERR_NOT_COINBASE = 9
ERR_EXTRA_COINBASE = 10
ERR_NO_INPUTS = 11
ERR_NO_OUTPUTS = 12
_PROBLEMS = {
    ERR_TRUNCATED: "the bytes end inside the data (truncated)",
    ERR_NONCANONICAL: "a varint is not in its shortest form",
    ERR_TOO_LARGE: f"a varint exceeds {MAX_VARINT:,}",
    ERR_SEGWIT_FLAG: "the segwit marker 00 is not followed by the flag 01",
    ERR_NO_TX: "the block has no transactions",
    ERR_TRAILING: "bytes follow the last transaction",
    ERR_VALUE: "an output value is above 21 million BTC",
    ERR_EMPTY_WITNESS: "the segwit flag is set but every witness is empty",
    ERR_NOT_COINBASE: "the first transaction is not a coinbase",
    ERR_EXTRA_COINBASE: "a coinbase transaction is not first",
    ERR_NO_INPUTS: "a transaction has no inputs",
    ERR_NO_OUTPUTS: "a transaction has no outputs",
}


# --------------------------------------------------------------------------------------------
# Kernels (numpy and numba only)
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _read_varint(buf, pos, end):
    """Read one Bitcoin varint (CompactSize) at ``pos``.

    Parameters
    ----------
    buf : uint8[N]
        The bytes.
    pos, end : int
        Read position and the exclusive end of the block being read.

    Returns
    -------
    value : int64
        The value (0 on error).
    next_pos : int64
        Position after the varint, or ``-ERR_TRUNCATED`` / ``-ERR_NONCANONICAL`` /
        ``-ERR_TOO_LARGE`` (negative: an error code).
    """
    if pos >= end:
        return np.int64(0), np.int64(-ERR_TRUNCATED)
    first = np.int64(buf[pos])
    if first < 0xFD:
        return first, np.int64(pos + 1)
    width = 2 if first == 0xFD else (4 if first == 0xFE else 8)
    if pos + 1 + width > end:
        return np.int64(0), np.int64(-ERR_TRUNCATED)
    value = np.uint64(0)
    for k in range(width):
        value |= np.uint64(buf[pos + 1 + k]) << np.uint64(8 * k)
    minimum = np.uint64(0xFD) if width == 2 else np.uint64(1 << (8 * (width // 2)))
    if value < minimum:
        return np.int64(0), np.int64(-ERR_NONCANONICAL)
    if value > np.uint64(MAX_VARINT):
        return np.int64(0), np.int64(-ERR_TOO_LARGE)
    return np.int64(value), np.int64(pos + 1 + width)


@njit(cache=True, nogil=True)
def _read_u32(buf, pos):
    """Little-endian uint32 at ``pos`` as int64 (the caller checked the bounds)."""
    return (
        np.int64(buf[pos])
        | (np.int64(buf[pos + 1]) << 8)
        | (np.int64(buf[pos + 2]) << 16)
        | (np.int64(buf[pos + 3]) << 24)
    )


@njit(cache=True, nogil=True)
def _walk_blocks(buf, starts, ends, fill, counts, txs, ins, outs, err):
    """Walk every block's serialisation; count (``fill=False``) or fill the offset tables.

    Parameters
    ----------
    buf : uint8[N]
        The raw blocks, concatenated.
    starts, ends : int64[B]
        Block ``b`` is ``buf[starts[b]:ends[b]]``.
    fill : bool
        False: only validate and write ``counts``. True: also fill ``txs``/``ins``/``outs``,
        which must then have ``counts.sum(axis=0)`` rows.
    counts : int64[B, 3]
        Out: transactions, inputs and outputs of each block.
    txs : int64[T, TX_COLS]
        Out (fill): per transaction, in block order: block index, position in block, absolute
        offsets of its start, of its inputs' varint (after marker and flag), of the end of its
        outputs (start of witnesses or locktime) and of its end; n_in, n_out, has_witness (0/1),
        is_coinbase (0/1), coinbase script offset and length (0, 0 unless coinbase).
    ins : int64[I, IN_COLS]
        Out (fill): per input: transaction row, absolute offset of the previous txid (32 bytes,
        internal order), previous vout (uint32 as int64; 4294967295 for the coinbase).
    outs : int64[O, OUT_COLS]
        Out (fill): per output: transaction row, value (satoshi), absolute script offset, length.
    err : int64[4]
        Out: error code (0 = none), block index, offset of the problem inside the block, position
        of the transaction in the block (-1 in the header or after the last transaction).

    Returns
    -------
    int
        The error code, 0 when every block is well formed. The walk stops at the first error.
    """
    t_row = 0
    i_row = 0
    o_row = 0
    for b in range(starts.shape[0]):
        start = starts[b]
        end = ends[b]
        tx_pos = -1
        pos = start + HEADER_SIZE
        if pos > end:
            err[0], err[1], err[2], err[3] = ERR_TRUNCATED, b, end - start, -1
            return ERR_TRUNCATED
        n_tx, pos = _read_varint(buf, pos, end)
        if pos < 0:
            err[0], err[1], err[2], err[3] = -pos, b, HEADER_SIZE, -1
            return -pos
        if n_tx == 0:
            err[0], err[1], err[2], err[3] = ERR_NO_TX, b, HEADER_SIZE, -1
            return ERR_NO_TX
        n_in_block = 0
        n_out_block = 0
        code = 0
        for tx_pos in range(n_tx):
            tx_start = pos
            if pos + 4 > end:
                code = ERR_TRUNCATED
                break
            pos += 4
            witness = False
            if pos < end and buf[pos] == 0:
                if pos + 1 >= end:
                    code = ERR_TRUNCATED
                    break
                if buf[pos + 1] != 1:
                    code = ERR_SEGWIT_FLAG
                    break
                witness = True
                pos += 2
            io_start = pos
            n_in, pos = _read_varint(buf, pos, end)
            if pos < 0:
                code = -pos
                pos = io_start
                break
            if n_in == 0:
                code = ERR_NO_INPUTS
                pos = io_start
                break
            coinbase = False
            cb_off = 0
            cb_len = 0
            for k in range(n_in):
                in_start = pos
                if pos + 36 > end:
                    code = ERR_TRUNCATED
                    break
                prev_vout = _read_u32(buf, pos + 32)
                if k == 0 and n_in == 1 and prev_vout == COINBASE_VOUT:
                    coinbase = True
                    for j in range(32):
                        if buf[pos + j] != 0:
                            coinbase = False
                            break
                script_len, pos = _read_varint(buf, pos + 36, end)
                if pos < 0:
                    code = -pos
                    pos = in_start + 36
                    break
                if pos + script_len + 4 > end:
                    code = ERR_TRUNCATED
                    break
                if coinbase:
                    cb_off = pos
                    cb_len = script_len
                if fill:
                    ins[i_row, IN_TX] = t_row
                    ins[i_row, IN_PREV_OFF] = in_start
                    ins[i_row, IN_PREV_VOUT] = prev_vout
                    i_row += 1
                pos += script_len + 4
            if code != 0:
                break
            if coinbase != (tx_pos == 0):
                code = ERR_EXTRA_COINBASE if coinbase else ERR_NOT_COINBASE
                pos = tx_start
                break
            n_out_pos = pos
            n_out, pos = _read_varint(buf, pos, end)
            if pos < 0:
                code = -pos
                pos = n_out_pos
                break
            if n_out == 0:
                code = ERR_NO_OUTPUTS
                pos = n_out_pos
                break
            for _k in range(n_out):
                out_start = pos
                if pos + 8 > end:
                    code = ERR_TRUNCATED
                    break
                value = _read_u32(buf, pos) | (_read_u32(buf, pos + 4) << 32)
                if value > MAX_MONEY or value < 0:
                    code = ERR_VALUE
                    break
                script_len, pos = _read_varint(buf, pos + 8, end)
                if pos < 0:
                    code = -pos
                    pos = out_start + 8
                    break
                if pos + script_len > end:
                    code = ERR_TRUNCATED
                    break
                if fill:
                    outs[o_row, OUT_TX] = t_row
                    outs[o_row, OUT_VALUE] = value
                    outs[o_row, OUT_SCRIPT_OFF] = pos
                    outs[o_row, OUT_SCRIPT_LEN] = script_len
                    o_row += 1
                pos += script_len
            if code != 0:
                break
            io_end = pos
            if witness:
                any_item = False
                for _k in range(n_in):
                    n_items, pos = _read_varint(buf, pos, end)
                    if pos < 0:
                        code = -pos
                        pos = io_end
                        break
                    for _j in range(n_items):
                        item_start = pos
                        item_len, pos = _read_varint(buf, pos, end)
                        if pos < 0:
                            code = -pos
                            pos = item_start
                            break
                        if pos + item_len > end:
                            code = ERR_TRUNCATED
                            break
                        pos += item_len
                        any_item = True
                    if code != 0:
                        break
                if code != 0:
                    break
                if not any_item:
                    code = ERR_EMPTY_WITNESS
                    pos = io_end
                    break
            if pos + 4 > end:
                code = ERR_TRUNCATED
                break
            pos += 4
            if fill:
                txs[t_row, TX_BLOCK] = b
                txs[t_row, TX_POSITION] = tx_pos
                txs[t_row, TX_START] = tx_start
                txs[t_row, TX_IO_START] = io_start
                txs[t_row, TX_IO_END] = io_end
                txs[t_row, TX_END] = pos
                txs[t_row, TX_N_IN] = n_in
                txs[t_row, TX_N_OUT] = n_out
                txs[t_row, TX_WITNESS] = 1 if witness else 0
                txs[t_row, TX_COINBASE] = 1 if coinbase else 0
                txs[t_row, TX_CB_OFF] = cb_off
                txs[t_row, TX_CB_LEN] = cb_len
                t_row += 1
            n_in_block += n_in
            n_out_block += n_out
        if code != 0:
            err[0], err[1], err[2], err[3] = code, b, min(pos, end) - start, tx_pos
            return code
        if pos != end:
            err[0], err[1], err[2], err[3] = ERR_TRAILING, b, pos - start, -1
            return ERR_TRAILING
        counts[b, 0] = n_tx
        counts[b, 1] = n_in_block
        counts[b, 2] = n_out_block
    return 0


@njit(cache=True, nogil=True)
def _gather(buf, offs, lens, offsets, out):
    """Copy variable-length slices of ``buf`` into one contiguous buffer (Arrow's layout).

    Parameters
    ----------
    buf : uint8[N]
    offs, lens : int64[R]
        Slice ``r`` is ``buf[offs[r]:offs[r] + lens[r]]``.
    offsets : int32[R + 1]
        ``cumsum`` of ``lens`` with a leading 0: where slice ``r`` goes in ``out``.
    out : uint8[offsets[-1]]
        Out: the slices, back to back.
    """
    for r in range(offs.shape[0]):
        o = offsets[r]
        s = offs[r]
        for k in range(lens[r]):
            out[o + k] = buf[s + k]


@njit(cache=True, nogil=True)
def _strip_witness(buf, txs, offsets, out):
    """Copy each transaction's non-witness serialisation (what its txid hashes) back to back.

    Parameters
    ----------
    buf : uint8[N]
    txs : int64[T, TX_COLS]
        The offset table of :func:`_walk_blocks`.
    offsets : int64[T + 1]
        Where transaction ``t`` goes in ``out``.
    out : uint8[offsets[-1]]
        Out: version, inputs, outputs and locktime of each transaction, without the segwit
        marker, flag and witnesses.
    """
    for t in range(txs.shape[0]):
        o = offsets[t]
        start = txs[t, TX_START]
        end = txs[t, TX_END]
        if txs[t, TX_WITNESS] == 0:
            for k in range(end - start):
                out[o + k] = buf[start + k]
            continue
        for k in range(4):
            out[o + k] = buf[start + k]
        o += 4
        io_start = txs[t, TX_IO_START]
        for k in range(txs[t, TX_IO_END] - io_start):
            out[o + k] = buf[io_start + k]
        o += txs[t, TX_IO_END] - io_start
        for k in range(4):
            out[o + k] = buf[end - 4 + k]


@njit(cache=True, nogil=True)
def _hex_reversed(words, out):
    """Lowercase hex of each row of ``words`` read back to front (display order of hashes).

    Parameters
    ----------
    words : uint8[R, W]
    out : uint8[R * 2 * W]
        Out: row ``r`` at ``out[2Wr:2W(r + 1)]``, ASCII.
    """
    width = words.shape[1]
    for r in range(words.shape[0]):
        o = 2 * width * r
        for k in range(width):
            v = words[r, width - 1 - k]
            hi = v >> 4
            lo = v & 15
            out[o + 2 * k] = hi + 48 if hi < 10 else hi + 87
            out[o + 2 * k + 1] = lo + 48 if lo < 10 else lo + 87


# --------------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------------

_INT32_MAX = 2**31 - 1


def hex32_column(words: np.ndarray) -> pa.StringArray:
    """Hex strings of 32-byte words, byte-reversed (display order), as one Arrow string array.

    ``words`` is uint8[R, 32] in internal (hash) order; row ``r`` becomes the 64 lowercase hex
    digits of ``words[r, ::-1]``.
    """
    n = words.shape[0]
    if n * 64 > _INT32_MAX:
        raise InputError(f"{n:,} hashes in one call: parse fewer blocks per call")
    chars = np.empty(n * 64, dtype=np.uint8)
    _hex_reversed(np.ascontiguousarray(words), chars)
    offsets = np.arange(0, 64 * (n + 1), 64, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars))


def _binary_column(buf: np.ndarray, offs: np.ndarray, lens: np.ndarray) -> pa.BinaryArray:
    """Arrow binary array of the slices ``buf[offs[r]:offs[r] + lens[r]]``."""
    total = int(lens.sum())
    if total > _INT32_MAX:
        raise InputError(f"{total:,} script bytes in one call: parse fewer blocks per call")
    offsets = np.zeros(lens.shape[0] + 1, dtype=np.int32)
    np.cumsum(lens, out=offsets[1:])
    out = np.empty(total, dtype=np.uint8)
    _gather(buf, np.ascontiguousarray(offs), np.ascontiguousarray(lens), offsets, out)
    return pa.BinaryArray.from_buffers(
        pa.binary(), lens.shape[0], [None, pa.py_buffer(offsets), pa.py_buffer(out)]
    )


def sha256d(data: bytes | memoryview) -> bytes:
    """Double SHA-256 (internal byte order: reverse it for display)."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def block_hash(header: bytes | memoryview) -> str:
    """The display hash of an 80-byte block header (double SHA-256, byte-reversed hex)."""
    return sha256d(header[:HEADER_SIZE])[::-1].hex()


def merkle_root(digests: np.ndarray) -> tuple[bytes, bool]:
    """Merkle root of txid digests and whether the tree is mutated.

    Parameters
    ----------
    digests : uint8[T, 32]
        The transactions' double SHA-256 digests in block order, internal byte order; T >= 1.

    Returns
    -------
    root : bytes
        32 bytes, internal order (reverse for display).
    mutated : bool
        Bitcoin Core's CVE-2012-2459 check: two equal hashes in one pair of a level (before the
        odd-count padding), which lets a block with duplicated transactions claim the root of
        the original.

    Each level pairs its hashes, the last one with itself when the count is odd, as Core's
    ``ComputeMerkleRoot``; the pairs of a level are hashed in one Numba call.
    """
    level = np.ascontiguousarray(digests, dtype=np.uint8)
    mutated = False
    while level.shape[0] > 1:
        n = level.shape[0]
        pairs = level[: n - n % 2].reshape(-1, 64)
        mutated = mutated or bool((pairs[:, :32] == pairs[:, 32:]).all(axis=1).any())
        if n % 2:
            level = np.concatenate([level, level[-1:]])
        nxt = np.empty((level.shape[0] // 2, 32), dtype=np.uint8)
        sha256d_rows(level.reshape(-1, 64), nxt)
        level = nxt
    return level[0].tobytes(), mutated


def _txid_digests(buf: np.ndarray, txs: np.ndarray) -> bytes:
    """Double SHA-256 of each transaction's non-witness serialisation, from the original bytes.

    A witness transaction's non-witness bytes are its version (4 bytes), its inputs and outputs
    (``TX_IO_START:TX_IO_END``, after the marker and flag) and its locktime (last 4 bytes); they
    are copied back to back (:func:`_strip_witness`) so that each txid is one hashlib call on one
    slice. Returns the 32-byte digests concatenated, in transaction order.
    """
    lengths = np.where(
        txs[:, TX_WITNESS] == 1,
        txs[:, TX_IO_END] - txs[:, TX_IO_START] + 8,
        txs[:, TX_END] - txs[:, TX_START],
    )
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    stripped = np.empty(int(offsets[-1]), dtype=np.uint8)
    _strip_witness(buf, txs, offsets, stripped)
    mv = memoryview(stripped)
    sha = hashlib.sha256
    bounds = offsets.tolist()
    return b"".join(
        [sha(sha(mv[a:b]).digest()).digest() for a, b in pairwise(bounds)]
    )


def _check_merkle(
    b: int, digests: np.ndarray, header_root: bytes, hashes: list[str], heights: list[int]
) -> None:
    """Raise DataError unless block ``b``'s transactions hash to its header's merkle root."""
    root, mutated = merkle_root(digests)
    if root != header_root:
        raise DataError(
            f"{_block_name(b, hashes, heights)}: the merkle root of its transactions "
            f"{root[::-1].hex()} differs from the header's {header_root[::-1].hex()}: "
            "the bytes are corrupt; fetch the block again"
        )
    if mutated:
        raise DataError(
            f"{_block_name(b, hashes, heights)}: duplicated transactions (a mutated merkle tree, "
            "CVE-2012-2459); fetch the block again from a node that validated it"
        )


def _block_name(b: int, hashes: list[str], heights: list[int]) -> str:
    """How an error names block ``b`` of a call: index, height when known, header hash."""
    parts = [f"block {b} of this call"]
    if heights and heights[b] >= 0:
        parts.append(f"height {heights[b]}")
    if b < len(hashes) and hashes[b]:
        parts.append(f"hash {hashes[b]}")
    return ", ".join(parts)


def _kernel_error(
    err: np.ndarray, sizes: np.ndarray, hashes: list[str], heights: list[int]
) -> DataError:
    """The DataError for a kernel's error record ``err`` (code, block, offset, tx position)."""
    code, b, offset, tx_pos = (int(v) for v in err)
    where = f"transaction {tx_pos}" if tx_pos >= 0 else "the block"
    return DataError(
        f"{_block_name(b, hashes, heights)}: {_PROBLEMS.get(code, f'error {code}')} in {where} "
        f"at byte offset {offset} of {int(sizes[b])}: the raw bytes are truncated or corrupt; "
        "fetch the block again"
    )


def _empty() -> ParsedBlocks:
    return ParsedBlocks(
        BLOCKS_SCHEMA.empty_table(),
        TXS_SCHEMA.empty_table(),
        OUTPUTS_SCHEMA.empty_table(),
        INPUTS_SCHEMA.empty_table(),
    )


# --------------------------------------------------------------------------------------------
# Drivers
# --------------------------------------------------------------------------------------------


def parse_blocks(
    raw_blocks: Sequence[bytes],
    network: str = "bitcoin",
    heights: Sequence[int] | None = None,
) -> ParsedBlocks:
    """Parse raw serialised blocks into the four tables of :class:`ParsedBlocks`.

    Parameters
    ----------
    raw_blocks : sequence of bytes-like
        Each a whole block as ``getblock <hash> 0`` returns it (decoded from hex) or as stored in
        ``blk*.dat``.
    network : str
        ``bitcoin``, ``testnet``, ``testnet4``, ``signet`` or ``regtest``: only the address
        encodings depend on it (Bitcoin Core's prefixes; see
        :mod:`exposure.indexers.bitcoin.scripts`).
    heights : sequence of int, optional
        The blocks' heights, stored in ``blocks.height`` and named in errors; -1 when omitted.

    Returns
    -------
    ParsedBlocks
        Rows in block order, then transaction order, then input/output order.

    Raises
    ------
    DataError
        Truncated or corrupt bytes (a structural error, a merkle root that does not match,
        duplicated transactions): the message names the block and the byte offset.
    InputError
        An unknown network, ``heights`` of the wrong length, or a call too large for 32-bit
        Arrow offsets.
    """
    params = network_params(network)
    n_blocks = len(raw_blocks)
    if heights is not None and len(heights) != n_blocks:
        raise InputError(f"{len(heights)} heights for {n_blocks} blocks")
    height_list = [int(h) for h in heights] if heights is not None else [-1] * n_blocks
    if n_blocks == 0:
        return _empty()
    raw = b"".join(raw_blocks)
    buf = np.frombuffer(raw, dtype=np.uint8)
    sizes = np.fromiter((len(r) for r in raw_blocks), dtype=np.int64, count=n_blocks)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    mv = memoryview(raw)
    hashes = [
        block_hash(mv[s : s + HEADER_SIZE]) if n >= HEADER_SIZE else ""
        for s, n in zip(starts.tolist(), sizes.tolist(), strict=True)
    ]

    counts = np.zeros((n_blocks, 3), dtype=np.int64)
    err = np.zeros(4, dtype=np.int64)
    none = np.zeros((0, 1), dtype=np.int64)
    if _walk_blocks(buf, starts, ends, False, counts, none, none, none, err):
        raise _kernel_error(err, sizes, hashes, height_list)
    n_tx, n_in, n_out = (int(v) for v in counts.sum(axis=0))
    txs = np.empty((n_tx, TX_COLS), dtype=np.int64)
    ins = np.empty((n_in, IN_COLS), dtype=np.int64)
    outs = np.empty((n_out, OUT_COLS), dtype=np.int64)
    if _walk_blocks(buf, starts, ends, True, counts, txs, ins, outs, err):  # pragma: no cover
        raise _kernel_error(err, sizes, hashes, height_list)

    # Headers: version(4) prev(32) merkle(32) time(4) bits(4) nonce(4).
    header_idx = starts[:, None] + np.arange(HEADER_SIZE, dtype=np.int64)
    headers = buf[header_idx]
    times = headers[:, 68:72].copy().view("<u4").reshape(-1).astype(np.int64)

    txid_words = np.frombuffer(_txid_digests(buf, txs), dtype=np.uint8).reshape(n_tx, 32)
    tx_ends = np.cumsum(counts[:, 0]).tolist()
    first = 0
    for b, last in enumerate(tx_ends):
        _check_merkle(b, txid_words[first:last], headers[b, 36:68].tobytes(), hashes, height_list)
        first = last
    txids = hex32_column(txid_words)
    block_hashes = pa.array(hashes, type=pa.string())

    blocks = pa.Table.from_arrays(
        [
            pa.array(height_list, type=pa.int64()),
            block_hashes,
            hex32_column(headers[:, 4:36]),
            hex32_column(headers[:, 36:68]),
            pa.array(times),
            pa.array(counts[:, 0].astype(np.int32)),
        ],
        schema=BLOCKS_SCHEMA,
    )

    size = txs[:, TX_END] - txs[:, TX_START]
    witness = txs[:, TX_WITNESS] == 1
    base = np.where(witness, txs[:, TX_IO_END] - txs[:, TX_IO_START] + 8, size)
    vsize = (base * 3 + size + 3) // 4
    tx_table = pa.Table.from_arrays(
        [
            block_hashes.take(pa.array(txs[:, TX_BLOCK])),
            pa.array(txs[:, TX_POSITION].astype(np.int32)),
            txids,
            pa.array(txs[:, TX_COINBASE] == 1),
            _binary_column(buf, txs[:, TX_CB_OFF], txs[:, TX_CB_LEN]),
            pa.array(txs[:, TX_N_IN].astype(np.int32)),
            pa.array(txs[:, TX_N_OUT].astype(np.int32)),
            pa.array(witness),
            pa.array(size.astype(np.int32)),
            pa.array(vsize.astype(np.int32)),
        ],
        schema=TXS_SCHEMA,
    )

    out_tx = np.ascontiguousarray(outs[:, OUT_TX])
    first_out = np.cumsum(txs[:, TX_N_OUT]) - txs[:, TX_N_OUT]
    scripts = _binary_column(buf, outs[:, OUT_SCRIPT_OFF], outs[:, OUT_SCRIPT_LEN])
    script_type, address = classify_scripts(scripts, params.name)
    out_table = pa.Table.from_arrays(
        [
            txids.take(pa.array(out_tx)),
            pa.array((np.arange(n_out, dtype=np.int64) - first_out[out_tx]).astype(np.int32)),
            pa.array(np.ascontiguousarray(outs[:, OUT_VALUE])),
            scripts,
            script_type,
            address,
        ],
        schema=OUTPUTS_SCHEMA,
    )

    in_tx = np.ascontiguousarray(ins[:, IN_TX])
    first_in = np.cumsum(txs[:, TX_N_IN]) - txs[:, TX_N_IN]
    prev_words = buf[ins[:, IN_PREV_OFF][:, None] + np.arange(32, dtype=np.int64)]
    in_table = pa.Table.from_arrays(
        [
            txids.take(pa.array(in_tx)),
            pa.array((np.arange(n_in, dtype=np.int64) - first_in[in_tx]).astype(np.int32)),
            hex32_column(prev_words),
            pa.array(np.ascontiguousarray(ins[:, IN_PREV_VOUT])),
            pa.array(txs[in_tx, TX_COINBASE] == 1),
        ],
        schema=INPUTS_SCHEMA,
    )
    return ParsedBlocks(blocks, tx_table, out_table, in_table)


def parse_block(raw: bytes, network: str = "bitcoin", height: int | None = None) -> ParsedBlocks:
    """Parse one raw block; see :func:`parse_blocks`."""
    return parse_blocks([raw], network, None if height is None else [height])


__all__ = [
    "BLOCKS_SCHEMA",
    "COINBASE_VOUT",
    "INPUTS_SCHEMA",
    "OUTPUTS_SCHEMA",
    "TXS_SCHEMA",
    "block_hash",
    "hex32_column",
    "merkle_root",
    "parse_block",
    "parse_blocks",
    "sha256d",
]
