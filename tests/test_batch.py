"""Screening a customer book: CSV in (UTF-8, BOM, GBK), one row per address out, bad rows kept."""

from __future__ import annotations

import csv
import io
import json

import pytest

from exposure.batch import read_book
from exposure.devchain.exposure_scenario import addr
from exposure.errors import InputError
from tests.conftest import run_cli


def book(tmp_path, rows, encoding="utf-8", name="book.csv", header=("客户编号", "钱包地址")):
    path = tmp_path / name
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_a_gbk_book_with_a_chinese_header_is_read(tmp_path):
    path = book(tmp_path, [("甲001", addr("c1"))], encoding="gbk")
    rows = read_book(path)
    assert rows[0].address == addr("c1") and rows[0].line == 2 and rows[0].fields["客户编号"] == "甲001"


def test_a_utf8_bom_book_and_a_headerless_book_are_read(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffaddress\n".encode() + addr("c1").encode() + b"\n")
    assert read_book(path)[0].address == addr("c1")
    bare = tmp_path / "bare.csv"
    bare.write_text(addr("c1") + "\n" + addr("c2") + "\n")
    assert [r.line for r in read_book(bare)] == [1, 2]


def test_an_empty_book_says_so(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_book(tmp_path / "empty.csv")


def test_an_ambiguous_book_asks_for_the_column(tmp_path):
    path = book(tmp_path, [("a", "b")], header=("x", "y"))
    with pytest.raises(InputError, match="--address-column"):
        read_book(path)


def test_batch_screens_every_row_and_reports_bad_rows_with_their_line(exposure_world, tmp_path):
    db, _ = exposure_world
    path = book(tmp_path, [
        ("1", addr("c1")), ("2", "0x1234"), ("3", addr("c2")), ("4", addr("c6")),
        ("5", "0x" + "ab" * 20), ("6", "0x28C6c06298d514Db089934071355E5743bF21d60"),
    ], encoding="gbk")
    out = tmp_path / "out.csv"
    done = run_cli("batch", str(path), "--out", str(out), "--db", str(db), "--degree-cap", "20")
    assert done.returncode == 0, done.stderr
    assert f"{path}:3:" in done.stderr and f"{path}:7:" in done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    by_line = {r["line"]: r for r in rows}
    assert len(rows) == 6
    assert by_line["2"]["hops_mainland_exchange_in"] == "1" and by_line["2"]["rating"] == "high"
    assert by_line["4"]["hops_mainland_exchange_in"] == "2"
    assert by_line["3"]["status"] == "invalid"
    assert by_line["5"]["hops_mainland_exchange_in"] == "" and by_line["5"]["rating"] == "none"
    assert by_line["6"]["status"] == "unseen"
    assert float(by_line["2"]["share_mainland_exchange_in"]) == pytest.approx(1.0, abs=1e-3)


def test_batch_hops_agree_with_single_screens(exposure_world, tmp_path):
    db, _ = exposure_world
    customers = ["c1", "c2", "c4", "c5", "c7", "c8", "c9", "c11", "c12", "exchange_binance"]
    path = book(tmp_path, [(c, addr(c)) for c in customers])
    out = tmp_path / "out.json"
    assert run_cli("batch", str(path), "--out", str(out), "--db", str(db), "--degree-cap", "20",
                   "--no-shares").returncode == 0
    rows = json.loads(out.read_text())
    for customer, row in zip(customers, rows, strict=True):
        single = json.loads(run_cli("screen", addr(customer), "--format", "json", "--db", str(db),
                                    "--degree-cap", "20").stdout)
        for e in single["exposures"]:
            assert row[f"hops_{e['category']}_{e['direction']}"] == e["hops"], (customer, e["category"])
