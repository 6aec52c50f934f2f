"""EIP-55 output and validation, against eth_utils as the oracle."""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from exposure.addresses import checksum, normalize_evm
from exposure.errors import InputError

hex40 = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40).map(lambda h: "0x" + h)


@given(hex40)
def test_checksum_is_eip55(address):
    assert checksum(address) == to_checksum_address(address)
    assert checksum("0x" + address[2:].upper()) == to_checksum_address(address)


@given(hex40)
def test_a_checksummed_address_normalises_to_lowercase(address):
    assert normalize_evm(to_checksum_address(address)) == address


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused():
    good = to_checksum_address("0x" + "ab" * 20)
    bad = good[:-1] + (good[-1].lower() if good[-1].isupper() else good[-1].upper())
    if bad == good:  # last character a digit: flip a letter instead
        i = next(i for i in range(2, 42) if good[i].isalpha())
        bad = good[:i] + good[i].swapcase() + good[i + 1:]
    with pytest.raises(InputError, match="EIP-55"):
        normalize_evm(bad)
