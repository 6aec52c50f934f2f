"""Screening on TRON: a shipped exchange wallet (labels/packs) makes mainland_exchange hops, with
the evidence path's transfers as indexed from a java-tron HTTP API (tests/tron_node.py)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from exposure.addresses import tron_to_hex
from exposure.cli import main
from tests.tron_node import (
    USDT,
    Account,
    Chain,
    info_for,
    serving,
    transfer_log,
    trx_transfer,
    usdt_transfer,
)

RECORDED = 60836289
BINANCE = "TV6MuMXfmLbBqPZvBHdwFsDnQeVfnmiuSi"  # labels/packs/exchange-wallets-binance.yaml
CUSTOMER, FRIEND, BYSTANDER = Account.of("customer"), Account.of("friend"), Account.of("bystander")


@pytest.fixture(scope="module")
def tron_store(tmp_path_factory):
    """A store with block 60836289 and two built blocks: Binance's reserve wallet pays the customer
    700 USDT, the customer pays a friend 300 USDT and 50 TRX."""
    chain = Chain()
    chain.add_recorded()
    # the test states what the wallet did: a signed transaction needs its key, which we lack, so
    # the payout is a built transaction from a stand-in key whose info's log names the wallet
    payout = usdt_transfer(BYSTANDER, CUSTOMER.address, 700_000_000)
    chain.add([payout], [info_for(payout, logs=[
        transfer_log(USDT, BINANCE, CUSTOMER.address, 700_000_000)])])
    pay = usdt_transfer(CUSTOMER, FRIEND.address, 300_000_000, timestamp=1_713_150_700_000)
    tip = trx_transfer(CUSTOMER, FRIEND.address, 50_000_000)
    chain.add([pay, tip], [info_for(pay, logs=[
        transfer_log(USDT, CUSTOMER.address, FRIEND.address, 300_000_000)]), info_for(tip)])
    db = tmp_path_factory.mktemp("tron") / "t.duckdb"
    with serving(chain) as node:
        assert main(["index", "tron", "--rpc", node.url, "--from-block", str(RECORDED),
                     "--confirmations", "0", "--db", str(db)]) == 0
    return db, payout["txID"], pay["txID"]


def _exposure(report: dict, category: str, direction: str) -> dict:
    return next(e for e in report["exposures"]
                if e["category"] == category and e["direction"] == direction)


def test_a_customer_paid_by_a_shipped_tron_exchange_wallet_is_one_hop_from_a_mainland_exchange(
        tron_store, capsys):
    db, payout, _ = tron_store
    assert main(["screen", CUSTOMER.address, "--db", str(db), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["chain"] == "tron" and report["address"] == CUSTOMER.address
    found = _exposure(report, "mainland_exchange", "in")
    assert found["hops"] == 1 and found["actor"] == "binance" and found["address"] == BINANCE
    hop = found["path"][0]
    assert hop["tx_hash"] == payout and hop["asset"] == "USDT"
    assert hop["from"] == BINANCE and hop["to"] == CUSTOMER.address
    assert report["rating"]["level"] == "high"


def test_the_friend_is_two_hops_away_and_the_hex_form_screens_the_same(tron_store, capsys):
    db, payout, _ = tron_store
    assert main(["screen", tron_to_hex(FRIEND.address), "--db", str(db), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["address"] == FRIEND.address
    found = _exposure(report, "mainland_exchange", "in")
    assert found["hops"] == 2
    first, second = found["path"]  # the second hop may be the USDT payment or the TRX tip
    assert first["tx_hash"] == payout
    assert (second["from"], second["to"]) == (CUSTOMER.address, FRIEND.address)
    assert second["asset"] in ("USDT", "TRX") and len(second["tx_hash"]) == 64


def test_reports_in_chinese_name_the_tron_evidence(tron_store, capsys):
    db, payout, _ = tron_store
    assert main(["screen", CUSTOMER.address, "--db", str(db), "--format", "markdown",
                 "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert payout in out and BINANCE in out and "跳" in out


def test_a_book_of_tron_addresses_is_screened(tron_store, tmp_path, capsys):
    db, _, _ = tron_store
    book = tmp_path / "book.csv"
    book.write_text("客户,地址\n甲," + CUSTOMER.address + "\n乙," + tron_to_hex(FRIEND.address)
                    + "\n丙," + CUSTOMER.address[:-1] + "x\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["batch", str(book), "--out", str(out), "--db", str(db)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r["chain"] for r in rows[:2]] == ["tron", "tron"]
    assert [r["address"] for r in rows[:2]] == [CUSTOMER.address, FRIEND.address]
    assert [r["hops_mainland_exchange_in"] for r in rows] == ["1", "2", ""]
    assert rows[2]["status"] == "invalid"
    capsys.readouterr()


def test_the_notebook_api_explores_a_tron_neighbourhood(tron_store):
    from exposure import explore

    db, payout, _ = tron_store
    assert explore.validate(tron_to_hex(CUSTOMER.address), db=db) == ("tron", CUSTOMER.address)
    hood = explore.neighbourhood(CUSTOMER.address, db=db, hops=2, direction="both")
    nodes = {r["address"]: r for r in hood.nodes.to_pylist()}
    assert hood.chain == "tron" and {BINANCE, FRIEND.address} <= set(nodes)
    assert "mainland_exchange" in (nodes[BINANCE]["categories"] or [])
    edges = {(r["from_address"], r["to_address"], r["asset"]): r for r in hood.edges.to_pylist()}
    assert edges[(BINANCE, CUSTOMER.address, "USDT")]["first_tx"] == payout
    assert edges[(BINANCE, CUSTOMER.address, "USDT")]["amount"] == 700
    only_usdt = explore.neighbourhood(CUSTOMER.address, db=db, hops=1, assets=[USDT])
    assert {r["asset"] for r in only_usdt.edges.to_pylist()} <= {"USDT", USDT}
    flows = explore.flows_over_time(FRIEND.address, db=db, hops=2)
    assert flows.num_rows >= 1


#: In mainnet block 60836289, Binance's hot wallet (shipped tag, Tronscan 'Binance-Hot 7') sent
#: 5,000 USDT to this address (transaction ff48241f9e74...: a real, recorded USDT transfer call;
#: its Transfer log is the one the call fixes, see tests/tron_node.py derived_infos).
MAINNET_RECIPIENT = "TGYqpiGDUQ7ue7bm9xadkRmdU3PVtkSWx1"
BINANCE_HOT_7 = "TDqSquXBgUCLYvYC4XZgrprLK589dkhSCf"


def test_a_real_mainnet_recipient_of_a_shipped_binance_wallet_is_one_hop_away(tmp_path, capsys):
    chain = Chain()
    chain.add_recorded()
    db = str(tmp_path / "mainnet.duckdb")
    with serving(chain) as node:
        assert main(["index", "tron", "--rpc", node.url, "--from-block", str(RECORDED),
                     "--confirmations", "0", "--db", db]) == 0
    capsys.readouterr()
    assert main(["screen", MAINNET_RECIPIENT, "--db", db, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    found = _exposure(report, "mainland_exchange", "in")
    assert (found["hops"], found["actor"], found["address"]) == (1, "binance", BINANCE_HOT_7)
    hop = found["path"][0]
    assert hop["tx_hash"].startswith("ff48241f9e74") and hop["asset"] == "USDT"
    assert hop["amount"] == 5000.0 and hop["block_number"] == RECORDED
    assert report["rating"]["level"] == "high"
