"""What counts as a TRON transfer (indexers/tron/decode.py), on built java-tron JSON: the same
Transfer-log fact as ERC-20, successful transactions only, TRX only, every address form."""

from __future__ import annotations

import pytest

from exposure.addresses import tron_to_hex
from exposure.errors import RpcError
from exposure.indexers.tron import TRON, decode_transfers, index_tron, token_lookup
from exposure.store import connect
from tests.test_index_tron import RECORDED, fast_client, quick, rows
from tests.tron_node import (
    TRANSFER_TOPIC,
    USDT,
    Account,
    Chain,
    build_tx,
    contract_call,
    info_for,
    internal_tx,
    serving,
    transfer_log,
    usdt_transfer,
    word,
)

ALICE, BOB = Account.of("alice"), Account.of("bob")
FAKE_USDT = "TXLAQ63Xg1NAzckPwKHvzw7CSEmLMEqcdj"  # a look-alike contract, not tracked


def _decode(chain: Chain, number: int, native: bool = True):
    return decode_transfers([chain.blocks[number]], {number: chain.infos[number]},
                            token_lookup(TRON.tokens), native=native)


@pytest.fixture
def chain() -> Chain:
    c = Chain()
    c.add_recorded()
    return c


def test_only_three_topic_one_word_transfer_logs_of_tracked_tokens_count(chain):
    tx = usdt_transfer(ALICE, BOB.address, 5)
    nft = {"address": USDT, "topics": [TRANSFER_TOPIC, word(ALICE.address), word(BOB.address),
                                       f"{7:064x}"], "data": ""}
    approval = {"address": USDT, "topics": ["8c5be1e5" + "0" * 56, word(ALICE.address),
                                            word(BOB.address)], "data": f"{9:064x}"}
    fake = transfer_log(FAKE_USDT, ALICE.address, BOB.address, 1_000)
    good = transfer_log(USDT, ALICE.address, BOB.address, 5)
    block = chain.add([tx], [info_for(tx, logs=[nft, approval, fake, good])])
    tokens, _ = _decode(chain, block["block_header"]["raw_data"]["number"])
    assert tokens.num_rows == 1
    row = tokens.to_pylist()[0]
    assert (row["log_index"], row["amount_lo"], row["token_address"]) == (3, 5, USDT)


def test_an_amount_beyond_128_bits_is_kept_exactly(chain, tmp_path):
    huge = 2**200 + 12345
    tx = usdt_transfer(ALICE, BOB.address, huge)
    chain.add([tx], [info_for(tx, logs=[transfer_log(USDT, ALICE.address, BOB.address, huge)])])
    with serving(chain) as node:
        con = connect(tmp_path / "t.duckdb")
        index_tron(con, fast_client(node.url), from_block=RECORDED + 1, settings=quick())
    assert rows(con, "SELECT amount_raw, CAST(amount_raw_big AS VARCHAR) FROM transfers") == [
        (None, str(huge))]
    con.close()


def test_zero_trc10_and_failed_movements_are_not_transfers(chain):
    zero_trx = build_tx(ALICE, "TransferContract", {"to_address": BOB.address, "amount": 0})
    failed = contract_call(ALICE, FAKE_USDT, call_value=5_000_000, ret="REVERT")
    # internal transactions of a failed call moved nothing, rejected or not
    inner = internal_tx(failed, FAKE_USDT, BOB.address, 1_000_000)
    multi = contract_call(BOB, FAKE_USDT)
    two = internal_tx(multi, FAKE_USDT, ALICE.address, 1)
    two["callValueInfo"] = [{"callValue": 3}, {"callValue": 4, "tokenId": "1002000"},
                            {"callValue": 5}]
    block = chain.add([zero_trx, failed, multi], [info_for(zero_trx),
                                                  info_for(failed, internal=[inner]),
                                               info_for(multi, internal=[two])])
    _, native = _decode(chain, block["block_header"]["raw_data"]["number"])
    assert [(r["trace_address"], int(r["amount"])) for r in native.to_pylist()] == [
        ("0:0", 3), ("0:1", 5)]


def test_the_recorded_blocks_trc10_and_resource_contracts_move_nothing(chain):
    tokens, native = _decode(chain, RECORDED)
    kinds = {r["kind"] for r in native.to_pylist()}
    assert kinds == {"transfer"} and native.num_rows == 39 and tokens.num_rows == 81


def test_hex_forms_decode_to_the_same_rows(chain, tmp_path):
    tx = usdt_transfer(ALICE, BOB.address, 77, call_value=11)
    block = chain.add([tx], [info_for(tx, logs=[transfer_log(USDT, ALICE.address, BOB.address,
                                                              77)])])
    number = block["block_header"]["raw_data"]["number"]
    from tests.tron_node import _hex_form

    hexed = Chain(blocks={number: _hex_form(block)}, infos={number: _hex_form(chain.infos[number])})
    assert hexed.blocks[number]["transactions"][0]["raw_data"]["contract"][0]["parameter"][
        "value"]["owner_address"] == tron_to_hex(ALICE.address)
    assert hexed.infos[number][0]["log"][0]["address"] == tron_to_hex(USDT)[2:]
    assert [t.to_pylist() for t in _decode(hexed, number)] == [
        t.to_pylist() for t in _decode(chain, number)]


def test_a_node_error_answer_is_one_line_naming_the_call_and_block(chain, tmp_path):
    with serving(chain) as node:
        original = node._answer

        def broken(path, args, visible):
            if path == "/wallet/gettransactioninfobyblocknum":
                return b'{"Error":"class java.lang.NullPointerException : null"}'
            return original(path, args, visible)

        node._answer = broken
        con = connect(tmp_path / "t.duckdb")
        with pytest.raises(RpcError) as exc:
            index_tron(con, fast_client(node.url), from_block=RECORDED, settings=quick())
    message = str(exc.value)
    assert message.startswith(f"/wallet/gettransactioninfobyblocknum for block {RECORDED}")
    assert "NullPointerException" in message and len(message.splitlines()) == 1
    assert exc.value.block_range == (RECORDED, RECORDED)
    assert rows(con, "SELECT count(*) FROM checkpoints") == [(0,)]
    con.close()


def test_missing_infos_of_a_contract_call_leave_the_block_unindexed(chain, tmp_path):
    tx = usdt_transfer(ALICE, BOB.address, 5)
    chain.add([tx], [])  # the node lost the call's info
    with serving(chain) as node:
        con = connect(tmp_path / "t.duckdb")
        with pytest.raises(RpcError, match=f"no info for transaction {tx['txID']}"):
            index_tron(con, fast_client(node.url), from_block=RECORDED, settings=quick())
    assert rows(con, "SELECT count(*) FROM blocks") == [(0,)]
    con.close()


def test_a_node_without_the_blocks_says_which(chain, tmp_path):
    with serving(chain) as node:
        con = connect(tmp_path / "t.duckdb")
        with pytest.raises(RpcError, match="blocks 0-5 missing in the answer"):
            index_tron(con, fast_client(node.url), from_block=0, to_block=5, settings=quick())
    con.close()
