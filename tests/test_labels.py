"""Labels: GraphSense TagPacks and ActorPacks, public dumps, provenance and derived categories."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from exposure.labels.catalog import import_labels, labels_of
from exposure.labels.loader import load_yaml_pack
from exposure.store import connect
from tests.conftest import run_cli


def _public_labels() -> Path:
    """The public label datasets beside the repository (../shared/data/labels), wherever the
    checkout is; EXPOSURE_PUBLIC_LABELS overrides."""
    import os

    for candidate in (
        os.environ.get("EXPOSURE_PUBLIC_LABELS"),
        Path(__file__).resolve().parents[2] / "shared" / "data" / "labels",
        "/work/shared/data/labels",
    ):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return Path("/nonexistent")


PUBLIC = _public_labels()
needs_public = pytest.mark.skipif(not PUBLIC.exists(), reason="public label datasets not present")

BINANCE_HOT = "0x28c6c06298d514db089934071355e5743bf21d60"
KRAKEN = "0x2910543af39aba0cd09dbb2d50200b3e800a63d2"
TOKEN = "0x7712c34205737192402172409a8f7ccef8aa2aec"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


ACTORS = """
title: Test actors
creator: tests
actors:
- id: binance
  label: Binance
  uri: https://www.binance.com
  lastmod: 2026-01-01
  categories: [exchange]
  jurisdictions: [MT]
  context: '{"exposure": {"serves_mainland": "yes", "evidence": "WSJ 2023", "as_of": "2024-01-22"}}'
- id: kraken
  label: Kraken
  uri: https://www.kraken.com
  lastmod: 2026-01-01
  categories: [exchange]
  context: '{"exposure": {"serves_mainland": "no"}}'
- id: securitize
  label: Securitize
  uri: https://securitize.io
  lastmod: 2026-01-01
  categories: [organization]
  context: '{"exposure": {"rwa": "issuer"}}'
"""

TAGS = f"""
title: Test tags
creator: tests
source: https://example.org/list
confidence: service_data
lastmod: 2026-02-01
currency: ETH
tags:
- address: '{BINANCE_HOT}'
  label: Binance 14
  actor: binance
  category: exchange
- address: '{KRAKEN}'
  label: Kraken 4
  actor: kraken
  category: exchange
- address: '{TOKEN}'
  label: BUIDL token
  actor: securitize
  category: defi_token
  context: '{{"exposure": {{"rwa": "token"}}}}'
"""


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "labels.duckdb")
    yield c
    c.close()


def categories(con, address: str) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT category FROM address_categories WHERE address = ?", [address]
        ).fetchall()
    }


def test_header_fields_are_inherited_into_every_tag(tmp_path):
    pack, problems = load_yaml_pack(write(tmp_path, "t.yaml", TAGS))
    assert problems == []
    assert {t.source for t in pack.tags} == {"https://example.org/list"}
    assert {t.confidence_level for t in pack.tags} == {50}
    assert [t.line for t in pack.tags] == [8, 12, 16]


def test_actor_attributes_make_mainland_exchange_rwa_and_plain_exchange(tmp_path, con):
    write(tmp_path, "a.yaml", ACTORS)
    write(tmp_path, "t.yaml", TAGS)
    report = import_labels(con, [tmp_path])
    assert report.problems == () and report.tags == 3
    assert categories(con, BINANCE_HOT) == {"mainland_exchange", "exchange"}
    assert categories(con, KRAKEN) == {"exchange"}
    assert categories(con, TOKEN) == {"rwa"}


def test_a_tag_pointing_at_a_shipped_actor_gets_its_attributes(tmp_path, con):
    from exposure.labels.catalog import ensure_shipped, shipped_files

    if not any("actor" in p.name for p in shipped_files()):
        pytest.skip("no shipped ActorPack yet")
    ensure_shipped(con)
    write(tmp_path, "t.yaml", TAGS)
    import_labels(con, [tmp_path / "t.yaml"])
    assert "mainland_exchange" in categories(con, BINANCE_HOT)
    assert "mainland_exchange" not in categories(con, KRAKEN)


def test_reimporting_a_pack_replaces_it(tmp_path, con):
    path = write(tmp_path, "t.yaml", TAGS)
    import_labels(con, [path])
    import_labels(con, [path])
    assert con.execute("SELECT count(*) FROM tags").fetchall()[0][0] == 3
    assert con.execute("SELECT count(*) FROM label_packs").fetchall()[0][0] == 1


def test_disagreeing_packs_are_both_kept_and_the_most_confident_wins(tmp_path, con):
    write(tmp_path, "t.yaml", TAGS)
    write(tmp_path, "crawl.yaml", f"""
        title: Crawled
        creator: someone
        source: https://explorer.example
        confidence: web_crawl
        currency: ETH
        tags:
        - address: '{BINANCE_HOT}'
          label: Some Other Exchange
          actor: kraken
    """)
    import_labels(con, [tmp_path])
    found = labels_of(con, BINANCE_HOT, "ethereum")
    assert [f.label for f in found] == ["Binance 14", "Some Other Exchange"]
    assert found[0].is_best and not found[1].is_best


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("title: x\ncreator: y\ntags:\n- address: 0x1\n  label: [a\n", "yaml"),
        ("title: x\ncreator: y\nsource: s\nconfidence: web_crawl\ncurrency: ETH\ntags:\n"
         "- address: '0x28C6c06298d514Db089934071355E5743bF21d60'\n  label: bad checksum\n",
         ":7: address: EVM address fails its EIP-55 checksum"),
        ("title: x\ncreator: y\nsource: s\nconfidence: web_crawl\ncurrency: ETH\ntags:\n"
         f"- address: '{BINANCE_HOT}'\n  label: l\n  category: crypto_bank\n",
         ":7: category: unknown category 'crypto_bank'"),
        ("title: x\ncreator: y\nconfidence: web_crawl\ncurrency: ETH\ntags:\n"
         f"- address: '{BINANCE_HOT}'\n  label: l\n", ":6: source: missing"),
        ("title: x\ncreator: y\nsource: s\nconfidence: sure\ncurrency: ETH\ntags:\n"
         f"- address: '{BINANCE_HOT}'\n  label: l\n", "confidence: unknown confidence 'sure'"),
        ("title: x\ntitle: z\ncreator: y\ntags: []\n", ":2: yaml: duplicate key 'title'"),
        ("title: x\ncreator: y\nsource: s\nconfidence: web_crawl\ncurrency: ETH\ntags:\n"
         f"- address: '{BINANCE_HOT}'\n  label: a\n  actor: binance\n"
         f"- address: '{BINANCE_HOT}'\n  label: b\n  actor: okex\n",
         ":10: actor: 0x28c6c06298d514db089934071355e5743bf21d60 is tagged with actor 'binance'"),
        ("title: x\ncreator: y\nsource: s\nconfidence: web_crawl\ncurrency: BTC\ntags:\n"
         "- address: '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3'\n  label: bad base58 checksum\n",
         ":7: address: not a valid Bitcoin address"),
    ],
)
def test_a_malformed_pack_names_file_line_and_problem_and_imports_nothing(tmp_path, con, text, where):
    path = write(tmp_path, "bad.yaml", text)
    report = import_labels(con, [path])
    assert report.failed_files == (str(path),)
    assert any(where in f"{p}" for p in report.problems), [str(p) for p in report.problems]
    assert all(str(p).startswith(f"{path}:") for p in report.problems)
    assert con.execute("SELECT count(*) FROM tags").fetchall()[0][0] == 0


def test_yaml_tags_that_would_construct_objects_are_refused_and_never_run(tmp_path, con):
    marker = tmp_path / "pwned"
    path = write(tmp_path, "evil.yaml", f"""
        title: !!python/object/apply:os.system ["touch {marker}"]
        creator: y
        tags: []
    """)
    report = import_labels(con, [path])
    assert not marker.exists()
    assert "YAML tags that construct objects are not allowed" in str(report.problems[0])


def test_every_problem_of_every_file_is_reported_and_good_files_still_import(tmp_path, con):
    write(tmp_path, "good.yaml", TAGS)
    write(tmp_path, "bad1.yaml", "title: x\ncreator: y\nsource: s\nconfidence: web_crawl\n"
          "currency: ETH\ntags:\n- address: '0x12'\n  label: a\n- address: '0x34'\n  label: b\n")
    write(tmp_path, "bad2.yaml", "title: [\n")
    report = import_labels(con, [tmp_path])
    assert len(report.failed_files) == 2
    assert sum("bad1.yaml" in str(p) for p in report.problems) == 2
    assert con.execute("SELECT count(*) FROM tags").fetchall()[0][0] == 3


def test_lenient_import_drops_only_the_invalid_addresses(tmp_path, con):
    path = write(tmp_path, "mixed.yaml", f"""
        title: Mixed
        creator: y
        source: s
        confidence: web_crawl
        currency: ETH
        tags:
        - address: '{BINANCE_HOT}'
          label: fine
        - address: '0x12'
          label: truncated
    """)
    assert import_labels(con, [path]).failed_files
    report = import_labels(con, [path], lenient=True)
    assert not report.failed_files and report.tags == 1 and len(report.problems) == 1


def test_label_text_is_stored_as_data(tmp_path, con):
    write(tmp_path, "x.yaml", TAGS.replace("Binance 14", "<script>alert(1)</script>"))
    import_labels(con, [tmp_path])
    assert labels_of(con, BINANCE_HOT)[0].label == "<script>alert(1)</script>"


@needs_public
def test_explorer_dumps_import_as_web_crawl_with_actor_categories(con):
    folder = PUBLIC / "etherscan-labels" / "data" / "etherscan" / "accounts"
    report = import_labels(con, [folder / "binance.json", folder / "kraken.json"]
                           if (folder / "kraken.json").exists() else [folder / "binance.json"])
    assert report.failed_files == () and report.tags > 10
    rows = con.execute("SELECT DISTINCT confidence, actor FROM tags").fetchall()
    assert ("web_crawl", "binance") in rows
    assert "exchange" in categories(con, BINANCE_HOT)


@needs_public
def test_eth_labels_accounts_and_token_csv_layouts_import(con):
    root = PUBLIC / "eth-labels" / "data"
    report = import_labels(con, [root / "etherscan" / "okx" / "accounts.json",
                                 root / "csv" / "tokens.csv"], lenient=True)
    assert report.tags > 20_000
    chains = {r[0] for r in con.execute("SELECT DISTINCT chain FROM tags").fetchall()}
    assert {"ethereum", "bsc", "arbitrum"} <= chains


@needs_public
def test_ofac_lists_import_as_sanctions_on_their_chains(con):
    root = PUBLIC / "ofac-sanctioned-digital-currency-addresses"
    report = import_labels(con, [root / "sanctioned_addresses_ETH.txt",
                                 root / "sanctioned_addresses_USDT.json"], lenient=True)
    assert report.tags > 150
    rows = dict(con.execute(
        "SELECT chain, count(*) FROM address_categories WHERE category = 'sanction' GROUP BY 1"
    ).fetchall())
    assert rows["ethereum"] > 100 and rows.get("tron", 0) > 0


@needs_public
def test_graphsense_public_packs_import(con):
    root = PUBLIC / "graphsense-tagpacks"
    report = import_labels(con, [root / "packs" / "exchange-wallets-binance.yaml",
                                 root / "packs" / "exchange-wallets-kucoin.yaml"], lenient=True)
    assert report.failed_files == ()
    # the truncated TRON address of the public KuCoin pack is dropped, and said so
    assert any("T6MXHXMGXURKJ7AD5NCB4IYPLWX" in str(p) for p in report.problems)


def test_cli_import_reports_problems_and_exits_2(tmp_path):
    write(tmp_path, "bad.yaml", "title: x\ncreator: y\nsource: s\nconfidence: web_crawl\n"
          "currency: ETH\ntags:\n- address: '0x12'\n  label: a\n")
    done = run_cli("labels", "import", str(tmp_path / "bad.yaml"), "--db", str(tmp_path / "x.duckdb"))
    assert done.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}:7: address:" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_show_lists_labels_with_provenance_in_eip55(tmp_path):
    write(tmp_path, "a.yaml", ACTORS)
    write(tmp_path, "t.yaml", TAGS)
    db = str(tmp_path / "x.duckdb")
    assert run_cli("labels", "import", str(tmp_path), "--db", db).returncode == 0
    done = run_cli("labels", "show", BINANCE_HOT, "--db", db)
    assert done.returncode == 0, done.stderr
    assert "0x28C6c06298d514Db089934071355E5743bf21d60" in done.stdout
    assert "mainland_exchange" in done.stdout and "WSJ 2023" in done.stdout
    listed = run_cli("labels", "list", "--category", "rwa", "--db", db)
    assert "BUIDL token" in listed.stdout
