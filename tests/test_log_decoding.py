"""Decoding eth_getLogs answers into transfer columns: shape rules and exact amounts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exposure.indexers.evm import TRANSFER_TOPIC, decode_transfer_logs, erc20_transfer_mask

TOKEN = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20


def word(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def log(value: int, *, topics=None, data=None, index=0, removed=False) -> dict:
    return {
        "address": TOKEN,
        "topics": topics if topics is not None else [TRANSFER_TOPIC, word(ALICE), word(BOB)],
        "data": data if data is not None else "0x" + format(value, "064x"),
        "blockNumber": "0x10",
        "blockHash": "0x" + "AB" * 32,
        "transactionHash": "0x" + "CD" * 32,
        "logIndex": hex(index),
        "removed": removed,
    }


def amounts(table) -> list[int]:
    out = []
    for row in table.to_pylist():
        if row["amount_big"] is not None:
            out.append(int(row["amount_big"]))
        else:
            out.append(row["amount_hi"] * 2**64 + row["amount_lo"])
    return out


def test_a_transfer_log_decodes_to_lowercase_addresses_and_exact_amount():
    table = decode_transfer_logs([log(700_000_000)])
    row = table.to_pylist()[0]
    assert row["token_address"] == TOKEN.lower()
    assert row["from_address"] == ALICE and row["to_address"] == BOB
    assert row["block_number"] == 16 and row["log_index"] == 0
    assert row["tx_hash"] == "0x" + "cd" * 32 and row["block_hash"] == "0x" + "ab" * 32
    assert amounts(table) == [700_000_000]


def test_zero_and_the_largest_uint256_are_kept_exactly():
    table = decode_transfer_logs([log(0, index=0), log(2**256 - 1, index=1), log(2**128, index=2)])
    assert amounts(table) == [0, 2**256 - 1, 2**128]


def test_an_erc721_transfer_with_four_topics_is_not_an_erc20_transfer():
    nft = log(0, topics=[TRANSFER_TOPIC, word(ALICE), word(BOB), "0x" + "0" * 63 + "7"], data="0x")
    assert decode_transfer_logs([nft]).num_rows == 0


def test_other_events_malformed_data_and_removed_logs_are_dropped():
    approval = log(
        5,
        topics=[
            "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925",
            word(ALICE),
            word(BOB),
        ],
    )
    short = log(5, data="0x1234")
    gone = log(5, removed=True)
    assert decode_transfer_logs([approval, short, gone, log(9, index=3)]).num_rows == 1


def test_mask_tolerates_missing_fields():
    mask = erc20_transfer_mask([None, [], [TRANSFER_TOPIC]], [None, "0x", 5])
    assert not mask.any()


def test_no_logs_is_an_empty_table():
    assert decode_transfer_logs([]).num_rows == 0


@given(st.lists(st.integers(min_value=0, max_value=2**256 - 1), min_size=1, max_size=50))
def test_decoded_amounts_equal_the_uint256_in_the_data(values):
    table = decode_transfer_logs([log(v, index=i) for i, v in enumerate(values)])
    assert amounts(table) == values
