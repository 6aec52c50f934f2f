"""Bitcoin Core's block files (``blocks/blk*.dat``): the best chain from the headers, then blocks.

A block file is a sequence of records ``magic (4 bytes) | size (4 bytes, little-endian) |
block (size bytes)``, where the magic is the network's (:class:`NetworkParams.magic`). How this
module reads them:

- **Obfuscation.** Bitcoin Core 28+ writes ``blocks/xor.dat``, an 8-byte key XORed over every
  byte of every ``blk``/``rev`` file: file byte ``p`` is stored as ``byte ^ key[p % 8]``. The key
  is read once; no file or an all-zero key means plain files.
- **Garbage and padding.** Core preallocates files in 16 MiB steps, so a file usually ends in
  zeros, and a crash can leave a partial record. Wherever the bytes at the read position are not
  a plausible record (no magic, a size below 81 or above 4,000,000 bytes, a record running past
  the end of the file, a header whose hash does not meet its own target or whose target is easier
  than the network's limit), the scan skips forward to the next occurrence of the magic. Skipped
  bytes never become a block: a block is only read from a record on the chain found below, and
  its header hash is checked again when it is read.
- **Out-of-order blocks.** Core downloads headers first and stores blocks as they arrive, so a
  child can precede its parent (even in an earlier file). The scan keeps every header's position
  and the chain is built from the ``prev_hash`` links, not from file order. A block stored twice
  is kept at its first position.
- **Orphans and forks.** The best chain is the chain of most cumulative proof of work (the sum of
  ``2**256 / (target + 1)`` over its headers, as Core's ``nChainWork``) among the blocks
  connected to the network's genesis block; equal work is broken by the earlier position in the
  files (the block Core saw first). Stale blocks of a fork and blocks whose ancestors are not in
  the files are ignored.

What the headers alone cannot tell: Core stores a block before fully validating it, so a block
Core later marked invalid (kept only in its LevelDB block index) would still count here. The
difficulty retargeting rules are not checked either; each header must only meet its own target.
A pruned node has deleted its oldest files: without the genesis block there is no height to start
from, and :func:`best_chain` says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

from exposure.errors import DataError, InputError

from .parse import HEADER_SIZE, sha256d
from .scripts import NetworkParams, network_params

#: magic (4) + size (4) before every block.
RECORD_HEADER = 8
#: Bitcoin Core's ``MAX_BLOCK_SERIALIZED_SIZE``: no record can be larger.
MAX_BLOCK_SIZE = 4_000_000
#: The obfuscation key file of Bitcoin Core 28+ (in the blocks directory).
XOR_FILE = "xor.dat"
XOR_KEY_SIZE = 8
_SCAN_CHUNK = 1 << 20
_BLK_NAME = re.compile(r"blk(\d+)\.dat")


class BlockLocation(NamedTuple):
    """Where a block of the best chain is: ``offset`` is its first byte in ``file``."""

    height: int
    hash: str
    file: Path
    offset: int


class StoredHeader(NamedTuple):
    """A block header found by :func:`scan_headers`: its parent, its ``bits`` and position."""

    prev_hash: str
    bits: int
    file: Path
    offset: int


def read_xor_key(blocks_dir: str | os.PathLike[str]) -> bytes:
    """The 8-byte obfuscation key of ``blocks_dir`` (all zeros when there is no ``xor.dat``)."""
    path = Path(blocks_dir) / XOR_FILE
    if not path.exists():
        return bytes(XOR_KEY_SIZE)
    key = path.read_bytes()
    if len(key) != XOR_KEY_SIZE:
        raise DataError(
            f"{path} holds {len(key)} bytes, not an {XOR_KEY_SIZE}-byte key: "
            "is this Bitcoin Core's blocks directory?"
        )
    return key


def xor_bytes(data: bytes, key: bytes, position: int) -> bytes:
    """Undo (or apply) the obfuscation of ``data`` read at byte ``position`` of a file."""
    if not any(key):
        return data
    shift = position % XOR_KEY_SIZE
    rolled = np.frombuffer(key[shift:] + key[:shift], dtype=np.uint8)
    arr = np.frombuffer(data, dtype=np.uint8)
    return (arr ^ np.resize(rolled, arr.shape[0])).tobytes()


def block_files(blocks_dir: str | os.PathLike[str]) -> list[Path]:
    """``blk*.dat`` files of ``blocks_dir`` in file-number order."""
    folder = Path(blocks_dir)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a directory: pass Bitcoin Core's blocks directory")
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _BLK_NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def bits_to_target(bits: int) -> int:
    """The target of a header's compact ``bits`` (negative or overflowing targets give 0)."""
    exponent = bits >> 24
    mantissa = bits & 0x007FFFFF
    if bits & 0x00800000 or mantissa == 0:
        return 0
    if exponent <= 3:
        return mantissa >> (8 * (3 - exponent))
    target = mantissa << (8 * (exponent - 3))
    return target if target < 1 << 256 else 0


def header_work(bits: int) -> int:
    """Expected hashes for a header of target ``bits`` (Core's ``GetBlockProof``)."""
    return (1 << 256) // (bits_to_target(bits) + 1)


def _read(f: BinaryIO, key: bytes, position: int, n: int) -> bytes:
    f.seek(position)
    return xor_bytes(f.read(n), key, position)


def _find_magic(f: BinaryIO, key: bytes, magic: bytes, start: int, size: int) -> int:
    """Position of the next ``magic`` at or after ``start`` (-1 when there is none)."""
    pos = start
    while pos < size:
        chunk = _read(f, key, pos, _SCAN_CHUNK + len(magic) - 1)
        found = chunk.find(magic)
        if found >= 0:
            return pos + found
        pos += _SCAN_CHUNK
    return -1


def _plausible_header(header: bytes, params: NetworkParams) -> tuple[str, int] | None:
    """``(hash, bits)`` of an 80-byte header that meets its own target, else None."""
    bits = int.from_bytes(header[72:76], "little")
    target = bits_to_target(bits)
    if target == 0 or target > bits_to_target(params.pow_limit_bits):
        return None
    digest = sha256d(header)
    if int.from_bytes(digest, "little") > target:
        return None
    return digest[::-1].hex(), bits


def _scan_file(
    path: Path, key: bytes, params: NetworkParams, headers: dict[str, StoredHeader]
) -> None:
    """Add the headers of every plausible record of one file to ``headers`` (first one wins)."""
    size = path.stat().st_size
    magic = params.magic
    with path.open("rb") as f:
        pos = 0
        while pos + RECORD_HEADER + HEADER_SIZE <= size:
            head = _read(f, key, pos, RECORD_HEADER + HEADER_SIZE)
            length = int.from_bytes(head[4:8], "little")
            found = (
                _plausible_header(head[RECORD_HEADER:], params)
                if head[:4] == magic
                and HEADER_SIZE < length <= MAX_BLOCK_SIZE
                and pos + RECORD_HEADER + length <= size
                else None
            )
            if found is None:  # garbage, padding or a partial record: resync on the magic
                pos = _find_magic(f, key, magic, pos + 1, size)
                if pos < 0:
                    break
                continue
            block, bits = found
            if block not in headers:
                prev = head[RECORD_HEADER + 4 : RECORD_HEADER + 36][::-1].hex()
                headers[block] = StoredHeader(prev, bits, path, pos + RECORD_HEADER)
            pos += RECORD_HEADER + length


def scan_headers(
    blocks_dir: str | os.PathLike[str], network: str = "bitcoin"
) -> dict[str, StoredHeader]:
    """Every plausible block record of ``blocks_dir`` by block hash, first position kept.

    Files are read in file-number order; only the 8-byte record header and the 80-byte block
    header of each record are read (and the bytes skipped while resyncing after garbage).
    """
    params = network_params(network)
    key = read_xor_key(blocks_dir)
    headers: dict[str, StoredHeader] = {}
    for path in block_files(blocks_dir):
        _scan_file(path, key, params, headers)
    return headers


def best_chain(
    blocks_dir: str | os.PathLike[str], network: str = "bitcoin"
) -> list[BlockLocation]:
    """The best chain stored in ``blocks_dir``, from genesis to its tip (see the module notes).

    Parameters
    ----------
    blocks_dir : path
        Bitcoin Core's ``blocks`` directory (``blk*.dat``, optionally ``xor.dat``).
    network : str
        Gives the record magic, the genesis block and the proof-of-work limit.

    Returns
    -------
    list of BlockLocation
        ``chain[h].height == h``.

    Raises
    ------
    DataError
        No genesis block of ``network`` in the files (another network, or a pruned node).
    InputError
        ``blocks_dir`` is not a directory or the network is unknown.
    """
    params = network_params(network)
    headers = scan_headers(blocks_dir, network)
    if params.genesis_hash not in headers:
        raise DataError(
            f"no {network} genesis block in the blk*.dat files of {blocks_dir} "
            f"({len(headers)} blocks found): check --network, or the node is pruned "
            "(pruned block files cannot be indexed from height 0; use --rpc)"
        )
    children: dict[str, list[str]] = {}
    for block, header in headers.items():
        children.setdefault(header.prev_hash, []).append(block)

    order = {path: index for index, path in enumerate(block_files(blocks_dir))}
    genesis = params.genesis_hash
    work = {genesis: header_work(headers[genesis].bits)}
    best = genesis
    best_key = (work[genesis], 0, 0)
    stack = [genesis]
    while stack:
        parent = stack.pop()
        for child in children.get(parent, ()):
            if child in work:  # a block cannot be its own ancestor; guard anyway
                continue
            header = headers[child]
            work[child] = work[parent] + header_work(header.bits)
            rank = (work[child], -order[header.file], -header.offset)
            if rank > best_key:
                best, best_key = child, rank
            stack.append(child)

    chain: list[str] = []
    block = best
    while True:
        chain.append(block)
        if block == genesis:
            break
        block = headers[block].prev_hash
    chain.reverse()
    return [
        BlockLocation(height, block, headers[block].file, headers[block].offset)
        for height, block in enumerate(chain)
    ]


def iter_blocks(
    blocks_dir: str | os.PathLike[str],
    from_height: int = 0,
    to_height: int | None = None,
    network: str = "bitcoin",
    *,
    chain: Sequence[BlockLocation] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(height, raw block)`` of the best chain from ``from_height`` to ``to_height``.

    Parameters
    ----------
    blocks_dir : path
        Bitcoin Core's ``blocks`` directory.
    from_height, to_height : int
        Inclusive range; ``to_height`` None means the tip of the files.
    network : str
    chain : sequence of BlockLocation, optional
        A :func:`best_chain` result to reuse (skips the scan of every header).

    Raises
    ------
    InputError
        The range is empty or beyond the tip stored in the files.
    DataError
        A block's bytes no longer hash to the header found by the scan (the files changed).
    """
    if chain is None:
        chain = best_chain(blocks_dir, network)
    tip = len(chain) - 1
    last = tip if to_height is None else to_height
    if from_height < 0 or last < from_height or last > tip:
        raise InputError(
            f"heights {from_height}..{last} are not in the block files, which hold 0..{tip}: "
            "wait for the node to sync or lower --to-height"
        )
    key = read_xor_key(blocks_dir)
    handles: dict[Path, BinaryIO] = {}
    try:
        for loc in chain[from_height : last + 1]:
            f = handles.get(loc.file)
            if f is None:
                for old in handles.values():
                    old.close()
                handles = {loc.file: loc.file.open("rb")}
                f = handles[loc.file]
            length = int.from_bytes(_read(f, key, loc.offset - 4, 4), "little")
            raw = _read(f, key, loc.offset, length)
            if len(raw) != length or sha256d(raw[:HEADER_SIZE])[::-1].hex() != loc.hash:
                raise DataError(
                    f"block {loc.height} ({loc.hash}) at {loc.file}:{loc.offset} does not match "
                    "the scanned header: the block files changed; run again"
                )
            yield loc.height, raw
    finally:
        for f in handles.values():
            f.close()


__all__ = [
    "BlockLocation",
    "StoredHeader",
    "best_chain",
    "bits_to_target",
    "block_files",
    "header_work",
    "iter_blocks",
    "read_xor_key",
    "scan_headers",
    "xor_bytes",
]
