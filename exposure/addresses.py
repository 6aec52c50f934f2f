"""Address validation and normalisation for every chain the project knows.

EVM: lowercase inside, EIP-55 on output, a mixed-case address must pass its checksum.
Bitcoin: base58check / bech32 / bech32m via bitcoinlib, kept as encoded.
Tron: base58check of 0x41 and 20 bytes (``T...``, always 34 characters); ``41``-prefixed hex
(with or without ``0x``) is accepted and shown as ``T...``. The base58check here is our own
(hashlib's sha256): bitcoinlib costs a second to import and the indexer encodes millions.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from eth_hash.auto import keccak

from .errors import InputError

if TYPE_CHECKING:
    import numpy as np

_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")
_TRON = re.compile(r"T[1-9A-HJ-NP-Za-km-z]{33}")
_TRON_HEX = re.compile(r"(?:0x)?41[0-9a-fA-F]{40}")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
#: The version byte of every TRON mainnet address.
TRON_PREFIX = 0x41

#: Chains whose addresses are 20-byte EVM hex.
EVM_CHAINS = frozenset(
    {"ethereum", "bsc", "polygon", "arbitrum", "optimism", "base", "avalanche", "devchain", "local"}
)


def normalize_evm(address: str) -> str:
    """Lowercase 0x-hex form of an EVM address, validating an EIP-55 checksum if mixed case.

    All-lowercase and all-uppercase hex are accepted as they carry no checksum.
    """
    text = address.strip()
    if not _HEX40.fullmatch(text):
        raise InputError(f"not an EVM address (0x and 40 hex digits): {address!r}")
    body = text[2:]
    if body != body.lower() and body != body.upper() and checksum(text) != text:
        raise InputError(f"EVM address fails its EIP-55 checksum: {address!r}")
    return "0x" + body.lower()


_UPPER_NIBBLES = frozenset("89abcdef")


def checksum(address: str) -> str:
    """EIP-55 form of an EVM address (0x + 40 hex digits, any case), for output: a letter is
    upper case where the keccak-256 of the lowercase hex has a nibble >= 8 (eth_hash directly:
    eth_utils' layers cost more than the hash and 0.15 s to import)."""
    body = address[2:].lower()
    digest = keccak(body.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if h in _UPPER_NIBBLES else c for c, h in zip(body, digest[:40], strict=True)
    )


def _bitcoinlib():  # imported lazily: 1 s to import, and it writes a data folder
    os.environ.setdefault(
        "BCL_DATA_DIR",
        str(
            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
            / "exposure"
            / "bitcoinlib"
        ),
    )
    from bitcoinlib import encoding, keys

    return keys, encoding


def normalize_bitcoin(address: str, network: str = "bitcoin") -> str:
    """A validated Bitcoin address (base58check, bech32 or bech32m), as encoded."""
    text = address.strip()
    if not text or len(text) > 100 or not text.isascii() or not text.isalnum():
        raise InputError(f"not a Bitcoin address: {address!r}")
    if text[:3].lower() in ("bc1", "tb1", "bcr"):  # bech32: one case throughout (BIP 173)
        if text != text.lower() and text != text.upper():
            raise InputError(f"not a valid Bitcoin address: bech32 in mixed case: {address!r}")
        text = text.lower()
    keys, _ = _bitcoinlib()
    try:
        decoded = keys.deserialize_address(text, network=network)
    except Exception:
        raise InputError(
            f"not a valid Bitcoin address (bad checksum or format): {address!r}"
        ) from None
    networks = {decoded.get("network"), *decoded.get("networks", ())}
    if network not in networks and not (network == "testnet" and "regtest" in networks):
        raise InputError(f"{address!r} is an address of {decoded.get('network')}, not {network}")
    return text if text[:3].lower() not in ("bc1", "tb1", "bcr") else text.lower()


def _double_sha(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()


def base58check_encode(payload: bytes) -> str:
    """Base58check of ``payload`` (its 4-byte double-sha256 checksum appended)."""
    data = payload + _double_sha(payload)[:4]
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def base58check_decode(text: str) -> bytes:
    """The payload of a base58check string; ValueError if a character or the checksum is bad."""
    n = 0
    for c in text:
        n = n * 58 + _B58_INDEX[c]  # KeyError for a character outside the alphabet
    pad = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    data = b"\0" * pad + body
    if len(data) < 5 or _double_sha(data[:-4])[:4] != data[-4:]:
        raise ValueError("bad base58check checksum")
    return data[:-4]


def tron_from_bytes(raw: bytes) -> str:
    """``T...`` of a 21-byte (0x41 + 20) or 20-byte (EVM form, 0x41 added) address."""
    if len(raw) == 20:
        raw = bytes([TRON_PREFIX]) + raw
    if len(raw) != 21 or raw[0] != TRON_PREFIX:
        raise InputError(f"not a Tron address (0x41 and 20 bytes): {raw.hex()!r}")
    return base58check_encode(raw)


def tron_to_hex(address: str) -> str:
    """The ``41``-prefixed hex (42 digits, lowercase) of a valid Tron address in any form."""
    return base58check_decode(normalize_tron(address)).hex()


def normalize_tron(address: str) -> str:
    """A validated Tron address as ``T...``: base58check of 0x41 and 20 bytes, or its hex
    (``41`` + 40 digits, optionally ``0x``-prefixed). A bad checksum is an InputError."""
    text = address.strip()
    if _TRON_HEX.fullmatch(text):
        return tron_from_bytes(bytes.fromhex(text.removeprefix("0x")))
    if not _TRON.fullmatch(text):
        raise InputError(
            f"not a Tron address (T and 33 base58 characters, or 41 and 40 hex digits): "
            f"{address!r}"
        )
    try:
        payload = base58check_decode(text)
    except (ValueError, KeyError):
        raise InputError(f"Tron address fails its base58check checksum: {address!r}") from None
    if len(payload) != 21 or payload[0] != TRON_PREFIX:
        raise InputError(f"not a Tron address (its payload is not 0x41 and 20 bytes): {address!r}")
    return text


def looks_tron(address: str) -> bool:
    """Whether ``address`` has the shape of a Tron address (``T`` + 33 base58 characters, or
    ``41`` + 40 hex digits); the checksum is not checked here."""
    text = address.strip()
    return bool(_TRON.fullmatch(text) or _TRON_HEX.fullmatch(text))


_LIMB = 58**5  # < 2**32: one division step yields five base58 digits


def tron_encode_many(raw: np.ndarray) -> list[str]:
    """``T...`` strings of many addresses at once.

    Parameters
    ----------
    raw : ndarray, shape (n, 20), dtype uint8
        The 20-byte EVM form of each address (0x41 is prepended).

    Returns
    -------
    list of str, length n
        Base58check strings, 34 characters each (every 0x41 address has exactly 34).

    Checksums are one sha256 pair per distinct address; the base conversion is vectorised:
    the 25 bytes are seven 32-bit limbs, divided by 58**5 in numpy seven times.
    """
    import numpy as np  # here: the CLI imports this module on every command

    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    if raw.ndim != 2 or raw.shape[1] != 20:
        raise ValueError("tron_encode_many expects an (n, 20) uint8 array")
    if raw.shape[0] == 0:
        return []
    uniq, inverse = np.unique(raw.view("V20").ravel(), return_inverse=True)
    m = uniq.shape[0]
    full = np.zeros((m, 28), dtype=np.uint8)  # 3 zero bytes, 0x41, 20 bytes, 4 checksum bytes
    full[:, 3] = TRON_PREFIX
    full[:, 4:24] = uniq.view(np.uint8).reshape(m, 20)
    flat = full[:, 3:24].tobytes()  # 0x41 + 20 bytes per address
    sha = hashlib.sha256
    sums = b"".join([sha(sha(flat[i : i + 21]).digest()).digest()[:4]
                     for i in range(0, 21 * m, 21)])
    full[:, 24:] = np.frombuffer(sums, dtype=np.uint8).reshape(m, 4)
    limbs = full.view(">u4").astype(np.uint64)  # (m, 7), most significant first
    digits = np.empty((m, 35), dtype=np.uint8)
    for step in range(7):  # 7 x 5 = 35 digits, the top one always 0
        rem = np.zeros(m, dtype=np.uint64)
        for j in range(7):
            cur = (rem << np.uint64(32)) | limbs[:, j]
            limbs[:, j] = cur // np.uint64(_LIMB)
            rem = cur % np.uint64(_LIMB)
        for k in range(5):
            digits[:, 34 - step * 5 - k] = (rem % np.uint64(58)).astype(np.uint8)
            rem //= np.uint64(58)
    alphabet = np.frombuffer(_B58.encode(), dtype=np.uint8)
    text = alphabet[digits[:, 1:]].tobytes().decode("ascii")
    strings = [text[i * 34 : (i + 1) * 34] for i in range(m)]
    return [strings[i] for i in inverse.ravel()]


def normalize(chain: str, address: str) -> str:
    """Validate and normalise ``address`` for ``chain``; unknown chains are only trimmed."""
    if chain in EVM_CHAINS or chain.startswith("evm:"):
        return normalize_evm(address)
    if chain == "bitcoin":
        return normalize_bitcoin(address)
    if chain == "tron":
        return normalize_tron(address)
    text = address.strip()
    if not text or len(text) > 200 or any(c.isspace() for c in text):
        raise InputError(f"not an address: {address!r}")
    return text
