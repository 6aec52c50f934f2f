"""The curated packs shipped in labels/: valid for GraphSense and for us, with the vocabulary
screening relies on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from exposure.labels.catalog import ensure_shipped, labels_of, load_file, shipped_files
from exposure.store import connect

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    c = connect(tmp_path_factory.mktemp("shipped") / "s.duckdb")
    ensure_shipped(c)
    yield c
    c.close()


def test_every_shipped_pack_loads_without_a_problem():
    files = shipped_files()
    assert any(p.parent.name == "actors" for p in files) and len(files) >= 5
    for path in files:
        pack, problems = load_file(path)
        assert pack is not None and problems == [], [str(p) for p in problems]


def test_every_shipped_tag_cites_a_source():
    for path in shipped_files():
        pack, _ = load_file(path)
        for tag in pack.tags:
            assert tag.source.startswith(("http", "https")) or len(tag.source) > 10, tag


def actor(con, actor_id):
    return con.execute(
        "SELECT serves_mainland, rwa, licence, evidence FROM actor_best WHERE actor_id = ?",
        [actor_id],
    ).fetchall()[0]


@pytest.mark.parametrize("exchange", ["binance", "okex", "bybit", "huobi", "mexc"])
def test_exchanges_reported_to_serve_mainland_residents_are_marked_with_evidence(con, exchange):
    serves, _, _, evidence = actor(con, exchange)
    assert serves == "yes" and evidence


@pytest.mark.parametrize("exchange", ["gate", "bitget", "kucoin"])
def test_exchanges_with_only_exit_notices_are_reported_not_confirmed(con, exchange):
    assert actor(con, exchange)[0] == "reported"


def test_hong_kong_licensed_platforms_are_not_mainland_serving(con):
    rows = con.execute(
        "SELECT DISTINCT c.category FROM address_categories c JOIN tags t USING (tag_id) "
        "WHERE t.actor IN ('osl', 'hashkeyexchange')"
    ).fetchall()
    cats = {r[0] for r in rows}
    assert "hk_licensed_exchange" in cats and "mainland_exchange" not in cats


def test_rwa_tokens_are_matched_by_contract_not_symbol(con):
    buidl = labels_of(con, "0x7712c34205737192402172409a8f7ccef8aa2aec", "ethereum")
    assert buidl and "rwa" in buidl[0].categories
    tangible_ustb = labels_of(con, "0x83fedbc0b85c6e29b589aa6bdefb1cc581935ecd", "ethereum")
    assert not any("rwa" in item.categories for item in tangible_ustb)


def test_usdt_contract_is_a_stablecoin_not_an_rwa(con):
    usdt = labels_of(con, "0xdac17f958d2ee523a2206206994597c13d831ec7", "ethereum")
    cats = set(usdt[0].categories)
    assert "stablecoin_issuer" in cats and "rwa" not in cats


@pytest.mark.skipif(
    not os.environ.get("CI") and not shutil.which("graphsense-cli")
    and not (REPO / ".cache" / "gs-venv").exists(),
    reason="GraphSense's validator runs in CI (it installs it in its own venv)",
)
def test_graphsense_validator_accepts_every_shipped_pack():
    done = subprocess.run(
        ["bash", str(REPO / "tests" / "validate_graphsense.sh")],
        capture_output=True, text=True, timeout=900, cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
