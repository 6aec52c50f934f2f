"""What the officer reads (issue 14), on a real-shaped store screened through the real CLI: a
verdict first, one line per finding (entity, direction), exact amounts, and a JSON report of a
few KB that still pins its labels. The store is :mod:`tests.realshaped`."""

from __future__ import annotations

import json

import pytest

from exposure.addresses import checksum
from tests.conftest import run_cli
from tests.realshaped import (
    BINANCE_WALLET,
    CUSTOMER,
    FILLER_PACKS,
    HTX_WALLET,
    LONG_URL,
    MULE,
    OKX_LABEL,
    OKX_PACK,
    OKX_WALLET,
    TX_HTX,
)


def screen(db, address: str, *args: str) -> dict:
    done = run_cli("screen", address, "--db", str(db), "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def text_of(db, address: str, *args: str) -> str:
    done = run_cli("screen", address, "--db", str(db), *args, env={"COLUMNS": "400"})
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.replace("┃", " ").split())


@pytest.fixture(scope="module")
def customer(real_world) -> dict:
    return screen(real_world, CUSTOMER)


def test_the_verdict_says_who_paid_how_much_how_far_and_how_sure(customer):
    sentences = {s["about"]: s["text"] for s in customer["verdict"]["sentences"]}
    assert list(sentences) == ["in", "out"]
    assert sentences["in"].startswith(
        "Source of funds: received 8,062.71 USDT directly (1 hop) from HTX (Huobi), an exchange "
        "serving mainland-China residents (service_data confidence 50; source https://")
    assert sentences["out"].startswith(
        "Destination of funds: sent 8,000 USDT directly (1 hop) to Binance, an exchange serving "
        "mainland-China residents (service_data confidence 50; source https://")
    assert customer["verdict"]["lang"] == "en"


def test_the_verdict_is_in_the_report_language_in_every_format(real_world):
    zh = screen(real_world, CUSTOMER, "--lang", "zh-CN")["verdict"]
    assert zh["lang"] == "zh-CN"
    first = zh["sentences"][0]["text"]
    assert first.startswith("资金来源：直接（1 跳）收到来自 HTX (Huobi)（服务中国大陆居民的虚拟货币交易所")
    assert first.endswith("的 8,062.71 USDT。")
    for fmt in ("text", "markdown", "html"):
        shown = text_of(real_world, CUSTOMER, "--lang", "zh", "--format", fmt)
        for sentence in zh["sentences"]:
            assert " ".join(sentence["text"].split())[:60] in shown, fmt


def test_one_finding_per_entity_and_direction_with_its_categories_together(customer):
    findings = [(f["direction"], f["address"], f["categories"], f["level"])
                for f in customer["findings"]]
    assert findings == [
        ("in", checksum(HTX_WALLET), ["mainland_exchange", "exchange"], "high"),
        ("out", checksum(BINANCE_WALLET), ["mainland_exchange", "exchange"], "high"),
    ]
    # its rating reason is the highest rule it meets, not one bullet per rule
    assert customer["findings"][0]["reason"] == {
        "level": "high", "category": "mainland_exchange", "direction": "in", "hops": 1,
        "rule": 1, "max_hops": 1, "min_share": None, "share": 1.0}
    assert [(r["category"], r["direction"], r["level"]) for r in customer["rating"]["reasons"]] \
        == [("mainland_exchange", "in", "high"), ("mainland_exchange", "out", "high"),
            ("exchange", "in", "low"), ("exchange", "out", "low")]


def test_the_text_report_shows_each_finding_and_its_evidence_path_once(real_world):
    text = text_of(real_world, CUSTOMER)
    assert text.count(TX_HTX[:10]) == 1  # the HTX path once, not once per category
    assert text.count("high · rule 1: within 1 hop") == 2  # one reason per finding
    assert "medium" not in text and "low ·" not in text
    assert ("HTX (Huobi) · HTX proof-of-reserves wallet (ETH/ERC20) · source of funds · 1 hop · "
            "exchange serving mainland-China residents, exchange") in text


def test_an_exchange_wallet_screened_is_itself_a_wallet_of_the_exchange(real_world):
    report = screen(real_world, HTX_WALLET)
    sentences = [(s["about"], s["text"]) for s in report["verdict"]["sentences"]]
    assert sentences[0][0] == "self"
    assert sentences[0][1].startswith(
        "This address is itself a wallet of HTX (Huobi), an exchange serving mainland-China "
        "residents (service_data confidence 50; source https://")
    selves = [f for f in report["findings"] if f["direction"] == "self"]
    assert len(selves) == 1 and selves[0]["categories"] == ["mainland_exchange", "exchange"]
    assert selves[0]["hops"] == 0
    text = text_of(real_world, HTX_WALLET)
    assert text.count("high · rule 1") == 1  # not eight bullets "at 0 hops"
    zh = screen(real_world, HTX_WALLET, "--lang", "zh")["verdict"]["sentences"][0]["text"]
    assert zh.startswith("该地址本身即为 HTX (Huobi)（服务中国大陆居民的虚拟货币交易所")
    assert zh.endswith("的钱包。")


def test_an_indirect_source_names_the_intermediaries_and_the_exact_amount(real_world):
    report = screen(real_world, MULE)
    inbound = report["verdict"]["sentences"][0]["text"]
    assert inbound.startswith(f"Source of funds: received 123,456,789,012.345 USDT directly "
                              f"(1 hop) from OKX, an exchange serving mainland-China residents "
                              f"(service_data confidence 50; source {LONG_URL}).")
    outbound = report["verdict"]["sentences"][1]["text"]
    assert outbound.startswith("Destination of funds: sent 5,000 USDT that reached Binance")
    assert outbound.endswith("through 1 intermediary address (2 hops).")
    hop = next(e for e in report["exposures"] if e["hops"] == 1 and e["direction"] == "in")
    assert hop["path"][0]["amount_raw"] == "123456789012345000"
    assert hop["path"][0]["decimals"] == 6
    assert hop["label"] == OKX_LABEL
    for fmt in ("text", "markdown", "html"):  # never the float's 123,456,789,012.345001
        shown = text_of(real_world, MULE, "--format", fmt)
        assert "123,456,789,012.345 USDT" in shown, fmt
        assert "012.345001" not in shown and "012.34499" not in shown, fmt


def test_the_data_state_names_the_packs_used_and_summarises_the_rest(customer, real_world):
    state = customer["data_state"]
    assert [p["title"] for p in state["label_packs"]] == [
        "Binance wallets (BTC, ETH, TRON)", "HTX (Huobi) wallets (BTC, ETH, TRON)"]
    assert all(len(p["sha256"]) == 12 and p["tags"] > 0 for p in state["label_packs"])
    whole = state["label_set"]
    assert whole["packs"] > FILLER_PACKS and whole["tags"] > FILLER_PACKS
    assert len(whole["sha256"]) == 64
    mule = screen(real_world, MULE)["data_state"]
    assert OKX_PACK in [p["title"] for p in mule["label_packs"]]
    assert mule["label_set"] == whole  # one label set, one digest


def test_a_one_address_json_report_stays_a_few_kb(real_world):
    done = run_cli("screen", CUSTOMER, "--db", str(real_world), "--format", "json")
    assert len(done.stdout.encode()) < 16_000, len(done.stdout.encode())
    # the label set is pinned without listing every pack
    assert done.stdout.count('"title"') == 2


def test_the_label_set_digest_changes_when_any_pack_changes(real_world, tmp_path):
    import shutil

    db = tmp_path / "copy.duckdb"
    shutil.copyfile(real_world, db)
    before = screen(db, CUSTOMER)["data_state"]["label_set"]
    pack = tmp_path / "one-more.yaml"
    pack.write_text(
        "title: One more pack\ncreator: t\ndescription: d\nis_public: true\n"
        "confidence: web_crawl\nnetwork: ethereum\ncurrency: ETH\ncategory: exchange\n"
        f"source: https://example.org\ntags:\n- address: '{OKX_WALLET[:-1]}1'\n  label: x\n",
        encoding="utf-8")
    assert run_cli("labels", "import", str(pack), "--db", str(db)).returncode == 0
    after = screen(db, CUSTOMER)["data_state"]["label_set"]
    assert after["packs"] == before["packs"] + 1
    assert after["sha256"] != before["sha256"]
