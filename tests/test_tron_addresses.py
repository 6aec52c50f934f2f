"""Tron addresses: base58check of 0x41 + 20 bytes, checked against the ``base58`` package as the
oracle; hex forms accepted everywhere and shown as ``T...``; a bad checksum is one line, exit 2."""

from __future__ import annotations

import base58
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exposure.addresses import (
    looks_tron,
    normalize,
    normalize_tron,
    tron_encode_many,
    tron_from_bytes,
    tron_to_hex,
)
from exposure.cli import main
from exposure.errors import InputError
from exposure.labels.taxonomy import chain_of
from exposure.screening import detect_chain

USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
USDT_HEX = "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"  # ATTRIBUTION.md 5.1

body20 = st.binary(min_size=20, max_size=20)


@given(body20)
def test_tron_encoding_is_base58check_of_0x41(body):
    expected = base58.b58encode_check(b"\x41" + body).decode()
    assert tron_from_bytes(body) == expected
    assert tron_from_bytes(b"\x41" + body) == expected
    assert len(expected) == 34 and expected.startswith("T")
    assert normalize_tron(expected) == expected
    assert tron_to_hex(expected) == "41" + body.hex()


@given(st.lists(body20, min_size=1, max_size=50))
def test_bulk_encoding_matches_one_at_a_time(bodies):
    raw = np.frombuffer(b"".join(bodies), dtype=np.uint8).reshape(len(bodies), 20)
    assert tron_encode_many(raw) == [base58.b58encode_check(b"\x41" + b).decode() for b in bodies]


def test_bulk_encoding_of_the_extremes():
    raw = np.array([[0] * 20, [255] * 20, [0] * 19 + [1]], dtype=np.uint8)
    assert tron_encode_many(raw) == [tron_from_bytes(bytes(r)) for r in raw]
    assert tron_encode_many(np.empty((0, 20), dtype=np.uint8)) == []


def test_the_usdt_contract_in_every_form_normalises_to_its_t_address():
    for form in (USDT, USDT_HEX, USDT_HEX.upper(), "0x" + USDT_HEX, f"  {USDT}  "):
        assert normalize_tron(form) == USDT
        assert normalize("tron", form) == USDT
        assert looks_tron(form)
    assert tron_to_hex(USDT) == USDT_HEX


@pytest.mark.parametrize(
    "bad, why",
    [
        (USDT[:-1] + "u", "checksum"),
        (USDT[:-1] + "0", "not a Tron address"),  # 0 is not base58
        (USDT[:-1], "not a Tron address"),
        ("42" + USDT_HEX[2:], "not a Tron address"),  # not the 0x41 prefix
        (base58.b58encode_check(b"\x42" + bytes(20)).decode(), "not a Tron address"),
    ],
)
def test_malformed_tron_addresses_are_refused(bad, why):
    with pytest.raises(InputError, match=why):
        normalize_tron(bad)


def test_auto_detection_picks_tron_for_both_forms():
    assert detect_chain(USDT, "auto", ["ethereum"]) == ("tron", USDT)
    assert detect_chain(USDT_HEX, "auto", []) == ("tron", USDT)
    assert detect_chain("0x" + USDT_HEX, "tron", []) == ("tron", USDT)
    # an EVM address is still EVM
    evm = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    assert detect_chain(evm, "auto", []) == ("ethereum", evm)


def test_label_packs_tell_tron_from_a_token_currency_by_the_address_shape():
    assert chain_of("USDT", USDT) == "tron"
    assert chain_of("USDT", USDT_HEX) == "tron"
    assert chain_of("TRX", USDT_HEX) == "tron"


def test_screening_a_tron_address_with_a_bad_checksum_is_one_line_and_exit_2(tmp_path, capsys):
    db = str(tmp_path / "x.duckdb")
    assert main(["db", "migrate", "--db", db]) == 0
    capsys.readouterr()
    assert main(["screen", USDT[:-1] + "u", "--db", db]) == 2
    err = capsys.readouterr().err.strip()
    assert "checksum" in err and len(err.splitlines()) == 1


def test_screening_a_hex_tron_address_reports_its_t_form(tmp_path, capsys):
    db = str(tmp_path / "x.duckdb")
    assert main(["db", "migrate", "--db", db]) == 0
    capsys.readouterr()
    assert main(["screen", USDT_HEX, "--db", db, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert f'"address": "{USDT}"' in out and '"chain": "tron"' in out


def test_a_user_pack_may_give_tron_addresses_in_hex_and_a_bad_checksum_names_its_line(
        tmp_path, capsys):
    db = str(tmp_path / "x.duckdb")
    good = tmp_path / "mine.yaml"
    good.write_text(
        "title: my TRON tags\ncreator: compliance\ndescription: hex forms\nis_public: false\n"
        "tags:\n"
        f"- address: \"{USDT_HEX}\"\n  currency: USDT\n  label: hex form\n"
        "  source: own\n  confidence: service_data\n  actor: binance\n"
        "- address: \"41e4c3c1d8bdb4a2b4a0c1ab6b1b2c3d4e5f607182\"\n  network: TRX\n"
        "  label: TRX hex\n  source: own\n  confidence: service_data\n", encoding="utf-8")
    assert main(["labels", "import", str(good), "--db", db]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["labels", "show", USDT_HEX, "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{USDT} (tron)") and "hex form" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace(USDT_HEX, USDT[:-1] + "u"), encoding="utf-8")
    assert main(["labels", "import", str(bad), "--db", db]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:6: address:" in err and "checksum" in err
