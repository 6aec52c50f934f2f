"""Address validation and normalisation: lowercase inside, EIP-55 on output."""

from __future__ import annotations

import re

from eth_utils import to_checksum_address

from .errors import InputError

_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")


def normalize_evm(address: str) -> str:
    """Lowercase 0x-hex form of an EVM address, validating an EIP-55 checksum if mixed case.

    All-lowercase and all-uppercase hex are accepted as they carry no checksum.
    """
    text = address.strip()
    if not _HEX40.fullmatch(text):
        raise InputError(f"not an EVM address (0x and 40 hex digits): {address!r}")
    body = text[2:]
    if body != body.lower() and body != body.upper() and to_checksum_address(text) != text:
        raise InputError(f"EVM address fails its EIP-55 checksum: {address!r}")
    return "0x" + body.lower()


def checksum(address: str) -> str:
    """EIP-55 form of a lowercase EVM address, for output."""
    return to_checksum_address(address)
