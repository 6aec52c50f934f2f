"""Address validation and normalisation for every chain the project knows.

EVM: lowercase inside, EIP-55 on output, a mixed-case address must pass its checksum.
Bitcoin: base58check / bech32 / bech32m via bitcoinlib, kept as encoded.
Tron: base58check with the 0x41 prefix (``T...``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from eth_hash.auto import keccak

from .errors import InputError

_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")
_TRON = re.compile(r"T[1-9A-HJ-NP-Za-km-z]{33}")

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


def normalize_tron(address: str) -> str:
    """A validated Tron address (``T`` + base58check of 0x41 and 20 bytes)."""
    text = address.strip()
    if not _TRON.fullmatch(text):
        raise InputError(f"not a Tron address (T and 33 base58 characters): {address!r}")
    _, encoding = _bitcoinlib()
    try:  # checks the base58check checksum; a 25-byte payload starting 0x41 encodes as T...
        encoding.addr_base58_to_pubkeyhash(text, as_hex=True)
    except Exception:
        raise InputError(f"Tron address fails its checksum: {address!r}") from None
    return text


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
