"""Real Bitcoin blocks for the parser tests, and builders of synthetic chains and blk*.dat files.

- The mainnet genesis block, from its public constants.
- The mainnet blocks of bitcoinlib's *source* distribution (``tests/block<height>.pickle``, the
  pickled raw bytes) and its ``tests/transactions_raw.json``: not committed, downloaded from PyPI
  at test setup with ``pip download --no-deps --no-binary :all: bitcoinlib==0.7.10`` into
  ``.cache/btc-fixtures`` (gitignored), checked against the sdist's SHA-256, and unpickled with an
  unpickler that accepts nothing but bytes.
- Independent oracles: a pure-Python merkle root and BIP34 height decoder (they share no code
  with the parser under test).
- Regtest blocks mined on the regtest genesis block (trivial proof of work) out of real mainnet
  transactions, and ``blk*.dat`` files with an obfuscation key, garbage and any record order.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "btc-fixtures"
SDIST = "bitcoinlib==0.7.10"
SDIST_FILE = "bitcoinlib-0.7.10.tar.gz"
SDIST_SHA256 = "57f689d567c2d92421bbec19cfdbf8e55492bccae5e932ab0aaf138a1fbe4856"

#: Mainnet block hashes by height (public; the five fixture blocks plus genesis).
MAINNET_HASHES = {
    0: "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    250000: "000000000000003887df1f29024b06fc2200b55f8af8f35453d7be294df2d214",
    330000: "00000000000000000faabab19f17c0178c754dbed023e6c871dcaf74159c5f02",
    625007: "000000000000000000007b2561b9d69cccbb06df8faed054432f63b96ee7d3dc",
    629999: "0000000000000000000d656be18bb095db1b23bd797266b0ac3ba720b1962b1e",
    722010: "00000000000000000001ebfef393c2642fe8d5e8812870030b944eef30edc862",
}
#: Transactions per block (bitcoinlib's own tests state them for the fixture blocks).
MAINNET_TX_COUNTS = {0: 1, 250000: 156, 330000: 81, 625007: 3083, 629999: 2481, 722010: 2668}
FIXTURE_HEIGHTS = (250000, 330000, 625007, 629999, 722010)
SEGWIT_HEIGHTS = (625007, 629999, 722010)

GENESIS_MERKLE_ROOT = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
GENESIS_ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
GENESIS_RAW = bytes.fromhex(
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3"
    "e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c010100000001000000000000000000"
    "0000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d657320303"
    "32f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f7574"
    "20666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03"
    "909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
)
#: The regtest genesis block: the mainnet genesis transaction under another header.
REGTEST_GENESIS_HASH = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
REGTEST_BITS = 0x207FFFFF
REGTEST_GENESIS_RAW = (
    GENESIS_RAW[:68]
    + (1296688602).to_bytes(4, "little")
    + REGTEST_BITS.to_bytes(4, "little")
    + (2).to_bytes(4, "little")
    + GENESIS_RAW[80:]
)

#: bitcoinlib 0.7.10 reports wrong txids for these (height, position) transactions: it
#: re-serialises their P2SH-wrapped P2WSH inputs shorter than the original bytes. The merkle
#: roots prove the parser's txids right.
BITCOINLIB_WRONG_TXIDS = {
    (625007, 75): "a86e1cdc932f84cb008ec3f39c0ea48d9672d0bc94604194470d36e688affa0f",
    (625007, 2476): "85954b5c0244ba408744859025d6c30f09f3d591525da6db222bb7d98ab2d1f1",
    (625007, 2748): "20eb7d96de3626b34304da7edddc77ca6ce395e12d8206daf64e4a892c107e55",
    (629999, 5): "e4ee9f4ceb86ada2b4afb7fe73a857f89bb8c72760686183a8fc1b76b2d9b04b",
    (629999, 10): "56aaa371b2045bcdf013475e251607af85ec6bbddd63aa9ee34f2f9775206276",
}


class FixtureUnavailable(RuntimeError):
    """The sdist could not be downloaded (no registry access) or is not the expected file."""


class _BytesOnly(pickle.Unpickler):
    """Unpickles plain values only: a fixture pickle that names any class or function fails."""

    def find_class(self, module: str, name: str) -> type:
        raise pickle.UnpicklingError(f"fixture pickles hold raw bytes, not {module}.{name}")


def fixture_dir() -> Path:
    """The folder with bitcoinlib's test data, downloading and unpacking the sdist once."""
    done = CACHE / "tests"
    if (done / "transactions_raw.json").exists():
        return done
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--disable-pip-version-check", "-q", SDIST, "-d", tmp,
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FixtureUnavailable(f"`{' '.join(cmd[2:])}` failed: {exc}") from exc
        sdist = Path(tmp) / SDIST_FILE
        if proc.returncode or not sdist.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise FixtureUnavailable(f"`pip download {SDIST}` failed: {tail[0]}")
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise FixtureUnavailable(f"{SDIST_FILE} has SHA-256 {digest}, expected {SDIST_SHA256}")
        staging = Path(tmp) / "tests"
        staging.mkdir()
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                name = Path(member.name)
                if name.parent.name == "tests" and name.suffix in (".pickle", ".json"):
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    (staging / name.name).write_bytes(extracted.read())
        shutil.rmtree(done, ignore_errors=True)
        staging.rename(done)
    return done


def mainnet_block(height: int) -> bytes:
    """Raw bytes of mainnet block ``height`` (0 or one of :data:`FIXTURE_HEIGHTS`)."""
    if height == 0:
        return GENESIS_RAW
    data = (fixture_dir() / f"block{height}.pickle").read_bytes()
    raw = _BytesOnly(io.BytesIO(data)).load()
    if not isinstance(raw, bytes):
        raise FixtureUnavailable(f"block{height}.pickle holds {type(raw).__name__}, not bytes")
    return raw


def raw_transactions() -> list[tuple[str, bytes, int, int, str]]:
    """bitcoinlib's ``transactions_raw.json``: (name, raw tx, n_in, n_out, network)."""
    rows = json.loads((fixture_dir() / "transactions_raw.json").read_text())["transactions"]
    return [(name, bytes.fromhex(raw), n_in, n_out, net) for name, raw, n_in, n_out, net in rows]


# ---------------------------------------------------------------------------------------------
# Oracles, written apart from the parser
# ---------------------------------------------------------------------------------------------


def dsha(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def merkle_root_hex(txids: Sequence[str]) -> str:
    """The merkle root (display hex) of display-hex txids, level by level in plain Python."""
    level = [bytes.fromhex(t)[::-1] for t in txids]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [dsha(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0][::-1].hex()


def bip34_height(coinbase_script: bytes) -> int:
    """The height a BIP34 coinbase script starts with (a minimal little-endian push)."""
    n = coinbase_script[0]
    return int.from_bytes(coinbase_script[1 : 1 + n], "little")


def header_fields(raw: bytes) -> dict[str, object]:
    """Fields of an 80-byte header read straight from the bytes."""
    return {
        "prev_hash": raw[4:36][::-1].hex(),
        "merkle_root": raw[36:68][::-1].hex(),
        "time": int.from_bytes(raw[68:72], "little"),
        "bits": int.from_bytes(raw[72:76], "little"),
        "hash": dsha(raw[:80])[::-1].hex(),
    }


def meets_target(raw: bytes) -> bool:
    """The header's hash is at most the target of its own ``bits``."""
    bits = int.from_bytes(raw[72:76], "little")
    target = (bits & 0x7FFFFF) << (8 * ((bits >> 24) - 3))
    return int.from_bytes(dsha(raw[:80]), "little") <= target


def varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def split_block(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Each transaction of a block as (its bytes, its non-witness serialisation), cut with a
    plain-Python walk (no code shared with the parser)."""
    pos = 80

    def read_varint() -> int:
        nonlocal pos
        first = raw[pos]
        width = {0xFD: 2, 0xFE: 4, 0xFF: 8}.get(first, 0)
        value = first if not width else int.from_bytes(raw[pos + 1 : pos + 1 + width], "little")
        pos += 1 + width
        return value

    txs = []
    for _ in range(read_varint()):
        start = pos
        pos += 4
        witness = raw[pos] == 0
        pos += 2 if witness else 0
        io_start = pos
        n_in = read_varint()
        for _ in range(n_in):
            pos += 36
            script_len = read_varint()  # (read_varint moves pos: not inside "pos += ...")
            pos += script_len + 4
        for _ in range(read_varint()):
            pos += 8
            script_len = read_varint()
            pos += script_len
        io_end = pos
        if witness:
            for _ in range(n_in):
                for _ in range(read_varint()):
                    item_len = read_varint()
                    pos += item_len
        pos += 4
        tx = raw[start:pos]
        stripped = raw[start : start + 4] + raw[io_start:io_end] + raw[pos - 4 : pos]
        txs.append((tx, stripped))
    assert pos == len(raw)
    return txs


def split_legacy_block(raw: bytes) -> list[bytes]:
    """The transactions of a block without witness data."""
    txs = split_block(raw)
    assert all(tx == stripped for tx, stripped in txs), "a witness transaction"
    return [tx for tx, _ in txs]


# ---------------------------------------------------------------------------------------------
# Synthetic regtest chains and blk*.dat files
# ---------------------------------------------------------------------------------------------


def coinbase_tx(height: int, tag: bytes = b"exposure") -> bytes:
    """A coinbase paying 50 BTC to a P2PKH script, with the BIP34 height and ``tag``."""
    height_bytes = height.to_bytes(max(1, (height.bit_length() + 8) // 8), "little")
    script = bytes([len(height_bytes)]) + height_bytes + bytes([len(tag)]) + tag
    out_script = bytes.fromhex("76a914") + hashlib.sha256(tag).digest()[:20] + bytes.fromhex("88ac")
    return (
        (1).to_bytes(4, "little")
        + b"\x01" + bytes(32) + b"\xff\xff\xff\xff" + varint(len(script)) + script
        + b"\xff\xff\xff\xff"
        + b"\x01" + (50 * 10**8).to_bytes(8, "little") + varint(len(out_script)) + out_script
        + bytes(4)
    )


def mine_regtest_block(prev_hash: str, txs: Sequence[bytes], time: int) -> bytes:
    """A regtest block of legacy ``txs`` (coinbase first) on ``prev_hash``, its nonce searched."""
    root = bytes.fromhex(merkle_root_hex([dsha(tx)[::-1].hex() for tx in txs]))[::-1]
    body = varint(len(txs)) + b"".join(txs)
    for nonce in range(1 << 16):
        header = (
            (0x20000000).to_bytes(4, "little")
            + bytes.fromhex(prev_hash)[::-1]
            + root
            + time.to_bytes(4, "little")
            + REGTEST_BITS.to_bytes(4, "little")
            + nonce.to_bytes(4, "little")
        )
        if meets_target(header):
            return header + body
    raise AssertionError("no nonce found")  # pragma: no cover - probability 2**-65536


def block_hash_of(raw: bytes) -> str:
    return dsha(raw[:80])[::-1].hex()


def xor_with_key(data: bytes, key: bytes, position: int = 0) -> bytes:
    """Bitcoin Core's obfuscation: byte ``p`` of a file XORed with ``key[p % 8]``."""
    pattern = np.frombuffer(key, dtype=np.uint8)[(position + np.arange(len(data))) % len(key)]
    return (np.frombuffer(data, dtype=np.uint8) ^ pattern).tobytes()


def write_blk_files(
    folder: Path,
    files: Sequence[Sequence[bytes | tuple[str, bytes]]],
    magic: bytes,
    key: bytes | None = None,
) -> dict[str, tuple[Path, int]]:
    """Write ``blk00000.dat``... where each item is a block (raw bytes, written as a record) or
    ``("raw", bytes)`` written as is (garbage, padding, a partial record); with ``key``, also
    ``xor.dat`` and every file obfuscated. Returns where each block's bytes start."""
    folder.mkdir(parents=True, exist_ok=True)
    where: dict[str, tuple[Path, int]] = {}
    for number, items in enumerate(files):
        path = folder / f"blk{number:05d}.dat"
        plain = bytearray()
        for item in items:
            if isinstance(item, tuple):
                plain += item[1]
                continue
            plain += magic + len(item).to_bytes(4, "little")
            where.setdefault(block_hash_of(item), (path, len(plain)))
            plain += item
        path.write_bytes(xor_with_key(bytes(plain), key) if key else bytes(plain))
    if key is not None:
        (folder / "xor.dat").write_bytes(key)
    return where


def block_of(txs: Sequence[bytes], prev_hash: str = "00" * 32, time: int = 1_700_000_000) -> bytes:
    """A block of legacy ``txs`` with a correct merkle root and no proof of work (parser tests)."""
    root = bytes.fromhex(merkle_root_hex([dsha(tx)[::-1].hex() for tx in txs]))[::-1]
    header = (
        (0x20000000).to_bytes(4, "little") + bytes.fromhex(prev_hash)[::-1] + root
        + time.to_bytes(4, "little") + REGTEST_BITS.to_bytes(4, "little") + bytes(4)
    )
    return header + varint(len(txs)) + b"".join(txs)
