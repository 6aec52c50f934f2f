"""Report renderings (text, JSON, Markdown, HTML with the evidence graph), in English and Chinese.

Reports are built by hand: a customer 2 hops downstream of a mainland-serving exchange (source of
funds) that paid an RWA issuer directly (destination of funds); an address never seen in the
indexed data; a labelled address screened itself; labels carrying markup of every format.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from rich.console import Console

from exposure.addresses import checksum
from exposure.errors import InputError
from exposure.labels.taxonomy import SCREENING_CATEGORIES
from exposure.policy import load_policy
from exposure.report.html import evidence_graph, render_html
from exposure.report.i18n import STRINGS, category_name, clean, reason_text, t
from exposure.report.markdown import md, render_markdown
from exposure.report.model import (
    Activity,
    AssetActivity,
    Exposure,
    Hop,
    Rating,
    Reason,
    Report,
    StopNode,
)
from exposure.report.render import render, render_text_plain
from exposure.report.text import print_report

REPO = Path(__file__).resolve().parents[1]

# EIP-55 test vectors (mixed case = checksummed)
CUSTOMER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
EXCHANGE = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
MULE = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
ISSUER = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
ROUTER = "0x52908400098527886E0F7030069857D2E4169EE7"
TX_EXCHANGE_TO_MULE = "0x" + "a1" * 32
TX_MULE_TO_CUSTOMER = "0x" + "b2" * 32
TX_CUSTOMER_TO_ISSUER = "0x" + "c3" * 32
HOSTILE_LABEL = "<script>alert(1)</script> | **Ondo** `treasury` [bold red]pwned[/bold red]\x1b[31m"

DATA_STATE = {
    "chain": "ethereum",
    "indexed": [
        {"chain": "ethereum", "stream": "erc20", "first_block": 1, "last_block": 120},
        {"chain": "ethereum", "stream": "native", "first_block": 1, "last_block": 120},
    ],
    "label_packs": [
        {"title": "exposure: mainland-serving exchanges", "kind": "tagpack",
         "name": "mainland_exchanges", "lastmod": "2025-12-01", "sha256": "0123456789ab",
         "tags": 42, "actors": 0, "shipped": True, "demo": False},
        {"title": "Demo scenario <b>labels</b>", "kind": "tagpack", "name": "demo",
         "lastmod": "2026-01-02", "sha256": "ba9876543210", "tags": 7, "actors": 0,
         "shipped": False, "demo": True},
    ],
    "label_set": {"packs": 1300, "tags": 250000, "sha256": "5" * 64},
    "settings": {"dust_usd": 1.0, "dust_units": [], "prices": [["ETH", 3000.0], ["USDT", 1.0]],
                 "start": None, "end": None, "degree_cap": 1000},
    "max_hops": 6,
    "policy": "exposure/policies/default.yaml",
}


def _empty(category: str, direction: str) -> Exposure:
    return Exposure(category=category, direction=direction, hops=None, exposure_type=None)


def _exposures(found: list[Exposure]) -> tuple[Exposure, ...]:
    by_key = {(e.category, e.direction): e for e in found}
    return tuple(
        by_key.get((c, d)) or _empty(c, d) for d in ("in", "out") for c in SCREENING_CATEGORIES
    )


def exposed_report(label: str = "Ondo treasury") -> Report:
    """Mainland exchange 2 hops upstream (in), RWA issuer 1 hop downstream (out), rest empty."""
    mainland = Exposure(
        category="mainland_exchange", direction="in", hops=2, exposure_type="indirect",
        address=EXCHANGE, actor="binance", actor_label="Binance", label="Binance 14",
        confidence="service_data", confidence_level=60, source="https://example.org/binance",
        pack="exposure: mainland-serving exchanges", serves_mainland="reported",
        evidence="WSJ 2023-08", value=700.0, share=0.35,
        path=(
            Hop(EXCHANGE, MULE, TX_EXCHANGE_TO_MULE, 101, "2025-11-03T08:15:00+00:00", "USDT",
                700.0, "700000000", log_index=3, edge_value=700.0),
            Hop(MULE, CUSTOMER, TX_MULE_TO_CUSTOMER, 105, "2025-11-04T09:30:00+00:00", "USDT",
                699.5, "699500000", log_index=0, edge_transfers=2, edge_value=699.5),
        ),
    )
    rwa = Exposure(
        category="rwa", direction="out", hops=1, exposure_type="direct", address=ISSUER,
        actor="ondofinance", actor_label="Ondo Finance", label=label, confidence="ownership",
        confidence_level=100, source="ondo.finance docs", pack="exposure: RWA issuers",
        value=3000.0, share=1.0,
        path=(Hop(CUSTOMER, ISSUER, TX_CUSTOMER_TO_ISSUER, 110, "2025-11-05T10:00:00+00:00",
                  "ETH", 1.0, "1000000000000000000", trace_address="0", edge_value=3000.0),),
    )
    exposures = _exposures([mainland, rwa])
    return Report(
        address=CUSTOMER,
        chain="ethereum",
        screened_at="2026-01-10T12:00:00+00:00",
        activity=Activity(
            seen=True, first_seen="2025-11-04T09:30:00+00:00",
            last_seen="2025-11-05T10:00:00+00:00",
            assets=(AssetActivity("USDT", "in", 3, 2000.0, 2000.0),
                    AssetActivity("ETH", "out", 1, 1.0, 3000.0)),
            indexed_range="ethereum blocks 1-120", counterparties_in=2, counterparties_out=1,
        ),
        exposures=exposures,
        rating=load_policy().rate(exposures),
        stop_nodes=(StopNode(ROUTER, "in", 4321),),
        data_state=DATA_STATE,
    )


def unseen_report() -> Report:
    """An address with no transfer in the indexed data."""
    return Report(
        address=MULE, chain="ethereum", screened_at="2026-01-10T12:00:00+00:00",
        activity=Activity(seen=False, indexed_range="ethereum blocks 1-120"),
        exposures=_exposures([]), rating=Rating("none", "default"), data_state=DATA_STATE,
    )


def quiet_report() -> Report:
    """An address seen in the data with nothing labelled within max_hops."""
    return Report(
        address=MULE, chain="ethereum", screened_at="2026-01-10T12:00:00+00:00",
        activity=Activity(seen=True, first_seen="2025-11-03T08:15:00+00:00",
                          last_seen="2025-11-04T09:30:00+00:00",
                          indexed_range="ethereum blocks 1-120"),
        exposures=_exposures([]), rating=Rating("none", "default"), data_state=DATA_STATE,
    )


def self_labelled_report() -> Report:
    """The screened address is itself a sanctioned one (0 hops, empty path)."""
    sanction = Exposure(category="sanction", direction="out", hops=0, exposure_type="direct",
                        address=ISSUER, actor="ofac", label="OFAC SDN", confidence="authority_data",
                        confidence_level=90, source="OFAC")
    return Report(
        address=ISSUER, chain="ethereum", screened_at="2026-01-10T12:00:00+00:00",
        activity=Activity(seen=True, indexed_range="ethereum blocks 1-120"),
        exposures=_exposures([sanction]),
        rating=load_policy().rate(_exposures([sanction])),
        labels=({"label": "OFAC SDN", "actor": "ofac", "confidence": "authority_data",
                 "source": "OFAC", "pack": "ofac", "categories": ["sanction"]},),
        data_state=DATA_STATE,
    )


class _Structure(HTMLParser):
    """Checks that every non-void element is closed in order; records tags and attributes."""

    VOID: ClassVar[set[str]] = {"meta", "br", "link", "img", "input", "hr", "col", "area", "base", "source", "wbr",
                                "path", "circle", "line", "rect", "ellipse", "polygon", "polyline"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def _parse(page: str) -> _Structure:
    parser = _Structure()
    parser.feed(page)
    parser.close()
    return parser


def _classes(parser: _Structure, tag: str) -> list[set[str]]:
    return [set((a.get("class") or "").split()) for t_, a in parser.tags if t_ == tag]


# -- fixtures sanity ---------------------------------------------------------------------------
def test_fixture_addresses_are_eip55_checksummed():
    for address in (CUSTOMER, EXCHANGE, MULE, ISSUER, ROUTER):
        assert checksum(address) == address


# -- JSON --------------------------------------------------------------------------------------
def test_json_round_trip_has_the_pinned_top_level_keys():
    data = json.loads(render(exposed_report(), "json"))
    assert set(data) >= {"schema", "address", "chain", "activity", "exposures", "rating",
                         "stop_nodes", "data_state", "max_hops", "value_unit", "labels",
                         "verdict", "findings"}
    assert data["schema"] == "exposure.report/2"
    assert data["address"] == CUSTOMER


def test_json_holds_one_exposure_per_category_and_direction_with_null_hops_when_none():
    data = json.loads(render(exposed_report(), "json"))
    keys = [(e["category"], e["direction"]) for e in data["exposures"]]
    assert sorted(keys) == sorted((c, d) for c in SCREENING_CATEGORIES for d in ("in", "out"))
    for e in data["exposures"]:
        if (e["category"], e["direction"]) in {("mainland_exchange", "in"), ("rwa", "out")}:
            assert set(e) >= {"category", "direction", "hops", "exposure_type", "actor", "label",
                              "confidence", "source", "value", "share", "path"}
            assert e["hops"] >= 1 and e["path"]
        else:  # nothing found: nothing else to say
            assert e == {"category": e["category"], "direction": e["direction"], "hops": None}


def test_json_path_lists_hops_in_the_order_the_money_moved():
    data = json.loads(render(exposed_report(), "json"))
    by_key = {(e["category"], e["direction"]): e for e in data["exposures"]}
    inbound = by_key["mainland_exchange", "in"]
    assert inbound["hops"] == 2 == len(inbound["path"])
    assert inbound["path"][0]["from"] == EXCHANGE
    assert inbound["path"][-1]["to"] == CUSTOMER
    assert inbound["path"][0]["to"] == inbound["path"][1]["from"]
    outbound = by_key["rwa", "out"]
    assert outbound["hops"] == 1
    assert outbound["path"][0]["from"] == CUSTOMER
    assert outbound["path"][0]["to"] == ISSUER
    assert outbound["path"][0]["amount_raw"] == "1000000000000000000"
    for hop in inbound["path"] + outbound["path"]:
        assert set(hop) >= {"tx_hash", "log_index", "vout", "block_time", "asset", "amount",
                            "amount_raw", "from", "to"}


def test_json_is_the_same_in_every_language_but_for_the_verdict():
    report = exposed_report()
    zh, en = json.loads(render(report, "json", "zh")), json.loads(render(report, "json", "en"))
    assert zh.pop("verdict")["lang"] == "zh-CN" and en.pop("verdict")["lang"] == "en"
    assert zh == en


def test_json_verdict_is_the_rendered_verdict_one_sentence_per_direction():
    data = json.loads(render(exposed_report(), "json"))
    verdict = data["verdict"]
    assert [s["about"] for s in verdict["sentences"]] == ["in", "out"]
    assert verdict["text"] == " ".join(s["text"] for s in verdict["sentences"])
    assert verdict["sentences"][1]["text"] == (
        "Destination of funds: sent 1 ETH directly (1 hop) to Ondo Finance, an RWA token issuer "
        "or token (ownership confidence 100; source ondo.finance docs).")
    markdown, page = render(exposed_report(), "markdown"), render(exposed_report(), "html")
    for sentence in verdict["sentences"]:  # the same words in every rendering
        assert f"- {md(sentence['text'])}" in markdown
        assert f">{html.escape(sentence['text'])}</p>" in page


def test_json_rating_reasons_are_values_one_per_exposure_highest_rule_first():
    data = json.loads(render(exposed_report(), "json"))
    assert data["rating"]["levels"] == ["none", "low", "medium", "high"]
    assert data["rating"]["reasons"] == [
        {"level": "high", "category": "rwa", "direction": "out", "hops": 1, "rule": 5,
         "max_hops": 1, "min_share": None, "share": 1.0},
        {"level": "high", "category": "mainland_exchange", "direction": "in", "hops": 2,
         "rule": 2, "max_hops": None, "min_share": 0.1, "share": 0.35},
    ]  # the medium "within 3 hops" rule the mainland exchange also meets is not a reason


def test_json_findings_group_categories_of_one_entity_and_direction():
    data = json.loads(render(exposed_report(), "json"))
    assert [(f["direction"], f["actor"], f["categories"], f["level"]) for f in data["findings"]] \
        == [("out", "ondofinance", ["rwa"], "high"),
            ("in", "binance", ["mainland_exchange"], "high")]
    assert data["findings"][1]["reason"]["rule"] == 2
    assert data["findings"][1]["path_of"] == {"category": "mainland_exchange", "direction": "in"}


def test_json_keeps_hostile_labels_verbatim():
    data = json.loads(render(exposed_report(HOSTILE_LABEL), "json"))
    labels = [e["label"] for e in data["exposures"] if e["category"] == "rwa" and e["hops"]]
    assert labels == [HOSTILE_LABEL]


def test_report_schema_doc_names_every_json_key():
    doc = (REPO / "docs" / "report-schema.md").read_text(encoding="utf-8")
    data = json.loads(render(self_labelled_report(), "json"))
    full = json.loads(render(exposed_report(), "json"))
    keys: set[str] = set(data) | set(full) | set(full["activity"]) | set(full["rating"])
    keys |= set(full["exposures"][0]) | set(full["exposures"][0]["path"][0])
    keys |= set(full["activity"]["assets"][0]) | set(full["stop_nodes"][0])
    keys |= set(full["rating"]["reasons"][0]) | set(full["findings"][0])
    keys |= set(full["verdict"]) | set(full["verdict"]["sentences"][0])
    keys |= set(full["data_state"]["label_set"])
    keys |= set(full["data_state"]) | set(full["data_state"]["indexed"][0])
    keys |= set(full["data_state"]["label_packs"][0]) | set(data["labels"][0])
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert not missing, f"docs/report-schema.md does not document {missing}"


# -- text ----------------------------------------------------------------------------------------
def test_text_shows_rating_hops_addresses_and_shortened_tx_hashes():
    text = render(exposed_report(), "text")
    assert "HIGH" in text
    for address in (CUSTOMER, EXCHANGE, MULE, ISSUER):
        assert address in text
    for tx in (TX_EXCHANGE_TO_MULE, TX_MULE_TO_CUSTOMER, TX_CUSTOMER_TO_ISSUER):
        assert f"{tx[:10]}…{tx[-8:]}" in text
    assert "exchange serving mainland-China residents" in text
    assert re.search(r"Binance ·\s+exchange\s+2\s+high · rule", text)  # one line per finding
    assert re.search(r"Ondo Finance\s+RWA token\s+1\s+high · rule", text)
    assert "700 USDT" in text and "35.0%" in text


def test_text_opens_with_the_verdict_one_sentence_per_direction():
    text = " ".join(render(exposed_report(), "text", width=400).split())
    verdict = text.split("Verdict", 1)[1].split("Findings", 1)[0]
    assert ("• Source of funds: 700 USDT from Binance, an exchange reported to serve "
            "mainland-China residents (service_data confidence 60; source "
            "https://example.org/binance), reached this address through 1 intermediary address "
            "(2 hops).") in verdict
    assert "• Destination of funds: sent 1 ETH directly (1 hop) to Ondo Finance" in verdict
    zh = " ".join(render(exposed_report(), "text", "zh", width=400).split())
    assert "资金去向：直接（1 跳）向 Ondo Finance（现实世界资产(RWA)代币发行方或代币；" in zh


def test_text_shows_one_rating_reason_per_finding_not_one_per_rule():
    text = render(exposed_report(), "text", width=200)
    assert text.count("high · rule") == 2  # two findings, each its highest rule
    assert "medium" not in text  # the lower rule the mainland exchange also meets


def test_text_lists_categories_with_nothing_within_max_hops_compactly():
    text = render(exposed_report(), "text")
    text = " ".join(text.split())
    assert ("Nothing within 6 hops (source of funds): RWA token issuer or token, exchange,"
            in text)
    assert ("Nothing within 6 hops (destination of funds): exchange serving mainland-China "
            "residents, exchange," in text)


def test_text_shows_data_state_packs_versions_and_filters():
    text = render(exposed_report(), "text")
    assert "2025-12-01 0123456789ab" in text
    assert "demo data" in text
    assert "Degree cap" in text and "1000" in text
    assert "4,321" in text  # the stop node's degree
    assert "1300 packs, 250000 tags; sha256 " + "5" * 64 in " ".join(text.split())


def test_text_renders_label_markup_as_literal_characters():
    report = exposed_report(HOSTILE_LABEL)
    plain = render(report, "text")
    assert "[bold red]pwned[/bold red]" in plain
    assert "**Ondo**" in plain
    assert "\x1b" not in plain
    styled = render_text_plain(report, styles=True)
    assert "[bold red]pwned[/bold red]" in styled  # markup in data is not interpreted
    assert "[/bold red] [31m" in styled  # the label's own ESC is replaced, never emitted


def test_text_to_a_file_has_no_colour_codes():
    assert "\x1b" not in render(exposed_report(), "text")


def test_print_report_prints_on_the_given_console():
    console = Console(record=True, width=120, file=io.StringIO())
    print_report(exposed_report(), console, lang="zh")
    assert "服务中国大陆居民的虚拟货币交易所" in console.export_text()


def test_text_says_never_seen_distinct_from_no_exposure():
    unseen = render(unseen_report(), "text")
    quiet = render(quiet_report(), "text")
    assert "Address never seen in the indexed data" in unseen
    assert "ethereum blocks 1-120" in unseen  # the indexed range, from the data state
    assert "nothing within" not in unseen
    assert "no transfer in the indexed data" in " ".join(unseen.split())
    quiet = " ".join(quiet.split())
    assert "Source of funds: nothing within 6 hops." in quiet
    assert "Destination of funds: nothing within 6 hops." in quiet
    assert "never seen" not in quiet


def test_text_in_chinese_names_categories_and_directions_in_chinese():
    text = render(exposed_report(), "text", "zh")
    assert "服务中国大陆居民的虚拟货币交易所" in text
    assert "现实世界资产(RWA)代币发行方" in text
    assert "资金来源" in text and "资金去向" in text
    assert "高" in text
    unseen = render(unseen_report(), "text", "zh")
    assert "该地址未出现在已索引的数据中" in unseen
    assert "ethereum 区块 1–120" in unseen


# -- Markdown ----------------------------------------------------------------------------------
def test_markdown_has_tables_with_hops_addresses_and_full_tx_hashes():
    text = render_markdown(exposed_report(), "en")
    for address in (CUSTOMER, EXCHANGE, MULE, ISSUER):
        assert f"`{address}`" in text
    for tx in (TX_EXCHANGE_TO_MULE, TX_MULE_TO_CUSTOMER, TX_CUSTOMER_TO_ISSUER):
        assert f"`{tx}`" in text
    assert "| **2** |" in text and "| **1** |" in text


def test_markdown_escapes_label_text_so_it_cannot_break_tables_or_format():
    text = render(exposed_report(HOSTILE_LABEL), "markdown")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert r"\*\*Ondo\*\*" in text
    assert r"\`treasury\`" in text
    assert "\x1b" not in text
    row = next(line for line in text.splitlines() if "Ondo Finance" in line and "**1**" in line)
    header = next(line for line in text.splitlines() if line.startswith("| Direction |"))
    unescaped = re.compile(r"(?<!\\)\|")
    assert len(unescaped.findall(row)) == len(unescaped.findall(header))


def test_markdown_escape_turns_newlines_into_spaces():
    assert md("a\nb|c") == r"a b\|c"
    assert md("x & <y>") == "x &amp; &lt;y&gt;"


def test_markdown_in_chinese_and_unseen():
    assert "服务中国大陆居民的虚拟货币交易所" in render(exposed_report(), "markdown", "zh")
    assert "Address never seen in the indexed data" in render(unseen_report(), "markdown")


# -- HTML ----------------------------------------------------------------------------------------
def test_html_is_one_well_formed_page():
    page = render(exposed_report(), "html")
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in page
    parser = _parse(page)
    assert parser.errors == []
    assert parser.stack == []


def test_html_ids_are_unique():
    for report in (exposed_report(), self_labelled_report(), unseen_report()):
        ids = [a["id"] for _, a in _parse(render(report, "html")).tags if a.get("id")]
        assert len(ids) == len(set(ids))


def test_html_escapes_every_label_string():
    page = render(exposed_report(HOSTILE_LABEL), "html")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>labels</b>" not in page  # a pack title
    assert "\x1b" not in page
    assert _parse(page).errors == []


def test_html_loads_nothing_from_the_network():
    page = render(exposed_report(), "html")
    parser = _parse(page)
    for _tag, attrs in parser.tags:
        for name in ("src", "href", "xlink:href", "action", "poster", "data"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "ftp:")), (name, value)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    assert "@import" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_html_contains_rating_hops_addresses_and_tx_hashes():
    page = render(exposed_report(), "html")
    assert 'id="rating" class="rating level-high"' in page
    assert 'data-hops="2"' in page and 'data-hops="1"' in page
    for address in (CUSTOMER, EXCHANGE, MULE, ISSUER):
        assert address in page
    for tx in (TX_EXCHANGE_TO_MULE, TX_MULE_TO_CUSTOMER, TX_CUSTOMER_TO_ISSUER):
        assert f'data-tx="{tx}"' in page


def test_html_evidence_graph_has_nodes_and_path_edges_with_stable_classes():
    page = render(exposed_report(), "html")
    parser = _parse(page)
    assert any(tag == "svg" and a.get("id") == "evidence-graph" for tag, a in parser.tags)
    groups = [(set((a.get("class") or "").split()), a) for tag, a in parser.tags if tag == "g"]
    nodes = {a["data-address"]: cls for cls, a in groups if "node" in cls}
    assert nodes[CUSTOMER] >= {"node", "screened"}
    assert nodes[EXCHANGE] >= {"node", "labelled", "cat-mainland_exchange"}
    assert nodes[MULE] >= {"node", "intermediate"}
    assert nodes[ISSUER] >= {"node", "labelled", "cat-rwa"}
    edges = {a["data-tx"]: (cls, a) for cls, a in groups if "edge" in cls}
    assert set(edges) == {TX_EXCHANGE_TO_MULE, TX_MULE_TO_CUSTOMER, TX_CUSTOMER_TO_ISSUER}
    assert edges[TX_EXCHANGE_TO_MULE][0] >= {"edge", "path", "path-mainland_exchange-in"}
    assert edges[TX_CUSTOMER_TO_ISSUER][0] >= {"edge", "path", "path-rwa-out"}
    assert edges[TX_MULE_TO_CUSTOMER][1]["data-from"] == MULE
    assert edges[TX_MULE_TO_CUSTOMER][1]["data-to"] == CUSTOMER
    assert "700 USDT" in page and "2025-11-03" in page  # edge label: amount and date
    legend = _classes(parser, "li")
    assert {"legend-item", "cat-mainland_exchange"} in legend
    assert {"legend-item", "cat-rwa"} in legend


def test_evidence_graph_puts_sources_left_and_destinations_right_of_the_screened_address():
    graph = evidence_graph(exposed_report())
    x = {n.address: n.x for n in graph.nodes.values()}
    assert x[EXCHANGE] < x[MULE] < x[CUSTOMER] < x[ISSUER]
    assert len(graph.nodes) == 4 and len(graph.edges) == 3
    for edge in graph.edges:  # every arrow points the way the money moved: rightwards
        assert graph.nodes[edge.source].x < graph.nodes[edge.target].x


def test_evidence_graph_stays_readable_with_many_paths():
    found = []
    for i, category in enumerate(SCREENING_CATEGORIES):
        for direction in ("in", "out"):
            hops = 1 + (i % 3)
            chain = [f"0x{(i * 2 + (direction == 'in')):02x}{k:02x}" + "0" * 36
                     for k in range(hops)]
            seq = [*chain, CUSTOMER] if direction == "in" else [CUSTOMER, *chain]
            path = tuple(Hop(a, b, f"0x{i:02x}{k:02x}" + "f" * 60, 1, "2025-01-01T00:00:00",
                             "USDT", 5.0, "5000000")
                         for k, (a, b) in enumerate(itertools.pairwise(seq)))
            found.append(Exposure(category=category, direction=direction, hops=hops,
                                  exposure_type="direct" if hops == 1 else "indirect",
                                  address=chain[0] if direction == "in" else chain[-1],
                                  label=f"{category} {direction}", path=path))
    report = Report(address=CUSTOMER, chain="ethereum", screened_at="2026-01-10T12:00:00",
                    activity=Activity(seen=True), exposures=tuple(found),
                    rating=Rating("high", "default"))
    graph = evidence_graph(report)
    points = sorted((n.x, n.y) for n in graph.nodes.values())
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        assert x1 != x2 or abs(y2 - y1) >= 90  # no two nodes of a column overlap
    assert graph.width > 0 and graph.height > 0
    assert _parse(render_html(report)).errors == []


def test_html_marks_a_self_labelled_screened_address():
    page = render(self_labelled_report(), "html")
    assert 'class="node screened labelled cat-sanction"' in page
    assert "The screened address itself carries this label" in page


def test_html_in_chinese_declares_zh_cn_and_uses_chinese_names():
    page = render(exposed_report(), "html", "zh")
    assert '<html lang="zh-CN">' in page
    assert "服务中国大陆居民的虚拟货币交易所" in page
    assert "现实世界资产(RWA)代币发行方" in page
    assert "资金来源" in page and "资金去向" in page


def test_html_says_never_seen_and_still_draws_the_screened_node():
    page = render(unseen_report(), "html")
    assert 'class="outcome never-seen"' in page
    assert "Address never seen in the indexed data" in page
    assert 'class="node screened"' in page
    assert 'class="edge path' not in page
    assert "Source of funds: nothing within 6 hops." in render(quiet_report(), "html")


# -- i18n and the entry point --------------------------------------------------------------------
def test_every_string_has_english_and_chinese():
    for key, entry in STRINGS.items():
        assert entry.get("en") and entry.get("zh"), key


def test_every_screening_category_has_a_chinese_name():
    for category in SCREENING_CATEGORIES:
        assert category_name(category, "zh") != category
        assert category_name(category, "zh-CN") == category_name(category, "zh")
    assert category_name("mainland_exchange", "zh") == "服务中国大陆居民的虚拟货币交易所"
    assert category_name("hk_licensed_exchange", "zh") == "香港证监会持牌平台"


def test_unknown_keys_fall_back_to_english_then_the_key():
    STRINGS["only_english"] = {"en": "English only"}
    try:
        assert t("only_english", "zh") == "English only"
    finally:
        del STRINGS["only_english"]
    assert t("no.such.key", "zh") == "no.such.key"
    assert category_name("new_category", "zh") == "new_category"


def test_rating_reason_values_are_worded_in_the_report_language():
    reason = Reason(level="high", category="mainland_exchange", direction="in", hops=1, rule=1,
                    max_hops=1)
    assert reason_text(reason, "en") == "high · rule 1: within 1 hop"
    assert reason_text(reason, "zh") == "高 · 规则 1：1 跳以内"
    assert reason_text(reason, "en", full=True) == (
        "high · rule 1: within 1 hop (exchange serving mainland-China residents, source of "
        "funds, 1 hop)")
    share = Reason(level="high", category="rwa", direction="out", hops=3, rule=6,
                   min_share=0.1, share=0.25)
    assert reason_text(share, "zh") == "高 · 规则 6：占比 25.0% ≥ 10%"
    assert reason_text(None, "en") == "no rule fired"


def test_clean_removes_control_and_bidi_characters():
    assert clean("a\nb\x1b[31mc\u202ed") == "a b [31mc d"


def test_render_rejects_unknown_format_and_language():
    with pytest.raises(InputError, match="--format must be one of"):
        render(exposed_report(), "docx")
    with pytest.raises(InputError, match="--lang must be one of"):
        render(exposed_report(), "text", "fr")


# -- verdict and findings (issue 14) -------------------------------------------------------------
def test_a_self_labelled_address_is_one_self_finding_and_its_verdict_says_so():
    report = self_labelled_report()
    assert [(f.direction, f.hops, f.categories) for f in report.findings()] == [
        ("self", 0, ("sanction",))]
    data = json.loads(render(report, "json"))
    assert [s["about"] for s in data["verdict"]["sentences"]] == ["self", "in", "out"]
    assert data["verdict"]["sentences"][0]["text"] == (
        "This address is itself a wallet of ofac, a sanctioned party (authority_data confidence "
        "90; source OFAC).")
    assert data["verdict"]["sentences"][1]["text"] == "Source of funds: nothing else within 6 hops."


def test_a_direction_not_screened_says_so_in_the_verdict():
    from dataclasses import replace

    report = exposed_report()
    only_in = replace(report, exposures=tuple(e for e in report.exposures if e.direction == "in"))
    sentences = json.loads(render(only_in, "json", "zh"))["verdict"]["sentences"]
    assert sentences[-1] == {"about": "out", "text": "资金去向：未筛查。"}


def test_the_unseen_verdict_is_one_sentence_with_the_indexed_range():
    sentences = json.loads(render(unseen_report(), "json"))["verdict"]["sentences"]
    assert sentences == [{"about": "unseen", "text": (
        "This address has no transfer in the indexed data (ethereum blocks 1-120): its sources "
        "and destinations of funds are unknown, which is not the same as no exposure.")}]


def test_hop_amounts_are_exact_from_amount_raw_and_decimals_never_a_float():
    from exposure.report.i18n import exact_amount, fmt_amount, hop_amount

    hop = Hop(CUSTOMER, ISSUER, TX_CUSTOMER_TO_ISSUER, 1, "2025-11-05T10:00:00+00:00", "USDT",
              123456789012.345, "123456789012345000", decimals=6)
    assert hop_amount(hop) == "123,456,789,012.345"
    assert f"{hop.amount:,.6f}" == "123,456,789,012.345001"  # what a float prints
    assert exact_amount(str(2**256 - 1), 18) == (
        "115,792,089,237,316,195,423,570,985,008,687,907,853,269,984,665,640,564,039,457."
        "584007913129639935")
    assert exact_amount("1", 18) == "0.000000000000000001"
    assert fmt_amount(123456789012.345) == "123,456,789,012.345"  # sums: no binary noise
    assert fmt_amount(123456789012.34499) == "123,456,789,012.345"  # 15 significant digits
    assert fmt_amount(0.1 + 0.2) == "0.3" and fmt_amount(2000.0) == "2,000"
