"""Evidence pictures: ``exposure screen --graph FILE.svg|png`` for case files, and the HTML
report in a real browser (headless Debian Chromium driven by playwright's Python package; never a
downloaded browser): the graph's nodes and path edges are there and visible, nothing is fetched,
and a hostile label is shown as text, never run. Screenshots are kept under pytest's tmp dir."""

from __future__ import annotations

import os
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import exposure
from exposure.devchain.exposure_scenario import addr
from exposure.report.render import render
from tests.conftest import run_cli

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SVG_NS = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>window.pwned=1</script>"


def _missing(what: str) -> None:
    """Skip on a developer machine without ``what``; in CI (which installs it) fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI: scripts/setup installs it")
    pytest.skip(f"{what} is not installed")


def _path_txs(report) -> set[str]:
    return {h.tx_hash for e in report.found() for h in e.path}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


# -- exposure screen --graph -------------------------------------------------------------------


def test_screen_graph_svg_is_the_evidence_graph(exposure_world, tmp_path):
    db, _ = exposure_world
    picture = tmp_path / "case-c4.svg"
    done = run_cli("screen", addr("c4"), "--db", str(db), "--format", "json",
                   "--graph", str(picture))
    assert done.returncode == 0, done.stderr
    assert f"evidence graph written to {picture}" in done.stderr
    assert done.stdout.lstrip().startswith("{")  # stdout keeps only the report
    root = ET.fromstring(picture.read_text(encoding="utf-8"))
    assert root.tag == f"{SVG_NS}svg" and root.get("id") == "evidence-graph"
    groups = list(root.iter(f"{SVG_NS}g"))
    classes = [set((g.get("class") or "").split()) for g in groups]
    assert sum({"node", "screened"} <= c for c in classes) == 1
    assert any({"node", "labelled", "cat-mainland_exchange"} <= c for c in classes)
    assert any({"node", "labelled", "cat-rwa"} <= c for c in classes)
    report = exposure.screen(addr("c4"), db=db)
    edges = {g.get("data-tx") for g, c in zip(groups, classes, strict=True) if {"edge", "path"} <= c}
    assert edges == _path_txs(report) and len(edges) == 8  # 4 hops in, 4 hops out


def test_screen_graph_png_is_the_svg_rasterised_at_twice_its_size(exposure_world, tmp_path):
    if shutil.which("rsvg-convert") is None:
        _missing("rsvg-convert (Debian librsvg2-bin)")
    db, _ = exposure_world
    picture = tmp_path / "case-c2.png"
    done = run_cli("screen", addr("c2"), "--db", str(db), "--lang", "zh", "--graph", str(picture))
    assert done.returncode == 0, done.stderr
    report = exposure.screen(addr("c2"), db=db)
    svg = ET.fromstring(render(report, "svg", "zh"))
    assert _png_size(picture) == (2 * int(svg.get("width")), 2 * int(svg.get("height")))
    assert picture.stat().st_size > 10_000  # drawn, not blank


def test_screen_graph_refuses_other_formats_before_screening(exposure_world, tmp_path):
    db, _ = exposure_world
    done = run_cli("screen", addr("c4"), "--db", str(db), "--graph", str(tmp_path / "g.gif"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: --graph must end in .svg or .png, got '{tmp_path / 'g.gif'}'"
    assert done.stdout == ""


def test_screen_graph_png_without_a_converter_says_what_to_install(exposure_world, tmp_path):
    db, _ = exposure_world
    done = run_cli("screen", addr("c4"), "--db", str(db), "--graph", str(tmp_path / "g.png"),
                   env={"PATH": str(tmp_path)})  # no rsvg-convert on this PATH
    assert done.returncode == 1
    assert "apt-get install librsvg2-bin" in done.stderr and ".svg" in done.stderr
    assert done.stdout == "" and not (tmp_path / "g.png").exists()


# -- the HTML report in Chromium ---------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through playwright (never ``playwright install``)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} (Debian package chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _open(browser, html: str, path: Path):
    """A page showing ``html`` from ``path`` (file://), with every request it made."""
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, requests


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0, box
    return box


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_graph_nodes_and_path_edges_are_visible(browser, exposure_world, tmp_path, shots,
                                                       lang):
    db, _ = exposure_world
    report = exposure.screen(addr("c4"), db=db)
    page, requests = _open(browser, render(report, "html", lang), tmp_path / "report.html")
    try:
        graph = page.locator("svg#evidence-graph")
        assert graph.is_visible()
        _box(graph)
        screened = page.locator("svg#evidence-graph g.node.screened")
        assert screened.count() == 1 and screened.is_visible()
        assert screened.get_attribute("data-address") == report.address
        _box(screened)
        for category in ("mainland_exchange", "rwa"):
            endpoint = page.locator(f"svg#evidence-graph g.node.labelled.cat-{category}")
            assert endpoint.count() == 1 and endpoint.is_visible(), category
            _box(endpoint)
        edges = page.locator("svg#evidence-graph g.edge.path")
        assert edges.count() == 8
        seen = set()
        for i in range(edges.count()):
            edge = edges.nth(i)
            assert edge.is_visible()
            _box(edge)
            assert edge.locator("path.edge-line").bounding_box()["width"] > 50  # a drawn line
            seen.add(edge.get_attribute("data-tx"))
            for end in ("data-from", "data-to"):  # both ends are nodes of the picture
                address = edge.get_attribute(end)
                assert page.locator(f'svg#evidence-graph g.node[data-address="{address}"]').count()
        assert seen == _path_txs(report)
        assert page.locator("script").count() == 0
        assert all(u.startswith("file:") for u in requests), requests  # nothing fetched
        shot = shots / f"report-c4-{lang}.png"
        page.screenshot(path=str(shot), full_page=True)
        graph.screenshot(path=str(shots / f"graph-c4-{lang}.png"))
        print(f"screenshot: {shot}")
        width, height = _png_size(shot)
        assert width >= 1000 and height > 500
    finally:
        page.close()


def test_hostile_label_is_shown_as_text_and_never_run(browser, exposure_world, tmp_path, shots):
    from exposure.labels.catalog import import_labels
    from exposure.store import connect

    world, _ = exposure_world
    db = tmp_path / "hostile.duckdb"
    shutil.copyfile(world, db)  # the shared world stays read-only
    pack = tmp_path / "hostile.yaml"
    pack.write_text(
        f"""title: Hostile labels (test)
creator: exposure tests
description: A label that is HTML and JavaScript.
is_public: false
source: exposure tests
confidence: ownership
lastmod: 2026-01-02
network: devchain
currency: ETH
tags:
- address: '{addr("y")}'
  label: '{HOSTILE}'
  category: exchange
""",
        encoding="utf-8",
    )
    con = connect(db)
    try:
        loaded = import_labels(con, [pack])
    finally:
        con.close()
    assert loaded.failed_files == (), loaded.problems
    report = exposure.screen(addr("c6"), db=db)  # y paid c6 50 USDT: an exchange 1 hop in
    assert report.exposure("exchange", "in").hops == 1
    assert report.exposure("exchange", "in").label == HOSTILE
    page, requests = _open(browser, render(report, "html", "en"), tmp_path / "hostile.html")
    try:
        assert page.evaluate("() => typeof window.pwned") == "undefined"
        assert page.locator("script").count() == 0
        for where in ("td", "#paths h3"):  # the exposures table and the evidence path
            shown = page.locator(where).filter(has_text=HOSTILE).first
            assert shown.is_visible(), where
            _box(shown)
        node = page.locator("svg#evidence-graph g.node.labelled.cat-exchange")
        assert node.count() == 1 and node.is_visible()
        assert HOSTILE in node.locator("title").text_content()
        assert all(u.startswith("file:") for u in requests), requests
        shot = shots / "report-hostile-label.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
    finally:
        page.close()


# -- reports that hold on real data (issue 14) -------------------------------------------------
# The real-shaped store (tests/realshaped.py): 42-character addresses, an OKX label in Chinese
# with a 150-character source URL, HTX and Binance wallets of the shipped packs.

SCREEN_1280 = {"width": 1280, "height": 900}
A4_PRINTABLE = {"width": 718, "height": 1000}  # 210 mm less the 2 x 10 mm page margins, in CSS px

_LAYOUT = """() => {
  const doc = document.documentElement;
  const narrow = [];
  for (const table of document.querySelectorAll('table')) {
    for (const row of table.rows) {
      for (const cell of row.cells) {
        const w = cell.getBoundingClientRect().width;
        if (w < 60) narrow.push([table.id || table.className, cell.textContent.slice(0, 30), w]);
      }
    }
  }
  const broken = [];
  for (const a of document.querySelectorAll('.addr')) {
    const lines = a.getClientRects().length;
    const h = a.getBoundingClientRect().height;
    const lh = parseFloat(getComputedStyle(a).fontSize) * 2;
    if (lines !== 1 || h > lh) broken.push([a.textContent, lines, h]);
  }
  const spill = [];
  for (const el of document.querySelectorAll('td, dd, p')) {
    if (el.scrollWidth > el.clientWidth + 1) spill.push([el.tagName, el.textContent.slice(0, 40)]);
  }
  return {scroll: doc.scrollWidth, client: doc.clientWidth, narrow, broken, spill};
}"""


@pytest.fixture(scope="module")
def real_reports(real_world):
    from tests.realshaped import CUSTOMER, MULE

    reports = {name: exposure.screen(address, db=real_world)
               for name, address in (("customer", CUSTOMER), ("mule", MULE))}
    return reports


def _real_page(browser, real_reports, tmp_path, name, lang, viewport, media="screen"):
    path = tmp_path / f"{name}-{lang}.html"
    path.write_text(render(real_reports[name], "html", lang), encoding="utf-8")
    page = browser.new_page(viewport=viewport)
    page.emulate_media(media=media)
    page.goto(path.as_uri(), wait_until="load")
    return page


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", ["customer", "mule"])
@pytest.mark.parametrize(("viewport", "media"), [(SCREEN_1280, "screen"), (A4_PRINTABLE, "print")],
                         ids=["1280px", "A4-print"])
def test_real_data_report_fits_without_overflow_or_crushed_columns(
        browser, real_reports, tmp_path, shots, name, lang, viewport, media):
    page = _real_page(browser, real_reports, tmp_path, name, lang, viewport, media)
    try:
        layout = page.evaluate(_LAYOUT)
        assert layout["scroll"] <= layout["client"], layout  # no horizontal overflow
        assert layout["narrow"] == [], layout["narrow"]  # no column narrower than 60 px
        assert layout["broken"] == [], layout["broken"]  # every address on one line
        assert layout["spill"] == [], layout["spill"]  # long URLs and labels wrap in their cell
        shot = shots / f"real-{name}-{lang}-{viewport['width']}-{media}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
    finally:
        page.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_real_data_report_opens_with_the_verdict_and_shows_addresses_whole_in_the_evidence(
        browser, real_reports, tmp_path, lang):
    from tests.realshaped import LONG_URL, OKX_LABEL, OKX_WALLET

    report = real_reports["mule"]
    page = _real_page(browser, real_reports, tmp_path, "mule", lang, SCREEN_1280)
    try:
        verdict = page.locator("#verdict p.verdict-sentence")
        expected = [s["text"] for s in report.to_dict(lang)["verdict"]["sentences"]]
        assert verdict.all_text_contents() == expected
        assert verdict.first.is_visible()
        # the verdict comes before the findings on the page
        assert _box(verdict.first)["y"] < _box(page.locator("#findings-table"))["y"]
        okx = checksum_of(OKX_WALLET)
        short = page.locator("#findings-table .addr").first  # shortened, whole text on hover
        assert short.get_attribute("title") == okx
        assert short.text_content() == f"{okx[:8]}…{okx[-6:]}"
        whole = page.locator(f'#paths .addr[data-address="{okx}"]').first
        assert whole.text_content() == okx  # the evidence section shows it whole
        assert page.locator("#findings-table td.source").first.text_content() == LONG_URL
        assert OKX_LABEL in page.locator("#findings-table").text_content()
    finally:
        page.close()


def checksum_of(address: str) -> str:
    from exposure.addresses import checksum

    return checksum(address)


def _pdf_pages(data: bytes) -> list[bytes]:
    import re

    assert data[:5] == b"%PDF-", data[:20]
    return re.findall(rb"/Type\s*/Page\b.*?/MediaBox\s*\[([^\]]*)\]", data, flags=re.S)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_format_pdf_prints_the_report_on_a4_pages(real_world, tmp_path, lang):
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} (Debian package chromium)")
    from tests.realshaped import MULE

    long_pdf, short_pdf = tmp_path / "mule.pdf", tmp_path / "unseen.pdf"
    done = run_cli("screen", MULE, "--db", str(real_world), "--lang", lang, "--format", "pdf",
                   "--out", str(long_pdf))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and f"report written to {long_pdf}" in done.stderr
    unseen = "0x" + "ab" * 20  # never seen: the shortest report there is
    done = run_cli("screen", unseen, "--db", str(real_world), "--lang", lang, "--format", "pdf",
                   "--out", str(short_pdf))
    assert done.returncode == 0, done.stderr
    pages = _pdf_pages(long_pdf.read_bytes())
    few = _pdf_pages(short_pdf.read_bytes())
    for box in pages + few:  # A4: 210 x 297 mm = 595 x 842 pt
        x0, y0, x1, y1 = (float(v) for v in box.split())
        assert (round(x1 - x0), round(y1 - y0)) == (595, 842), box
    # the findings, evidence paths, graph and data state of two findings: a few pages, not a
    # scroll of one-character columns; the unseen address's report: one or two
    assert 2 <= len(pages) <= 5, len(pages)
    assert 1 <= len(few) <= 2 and len(few) < len(pages), (len(few), len(pages))


def test_format_pdf_without_chromium_says_what_to_install(real_world, tmp_path):
    from tests.realshaped import CUSTOMER

    done = run_cli("screen", CUSTOMER, "--db", str(real_world), "--format", "pdf", "--out",
                   str(tmp_path / "r.pdf"), env={"EXPOSURE_CHROMIUM": str(tmp_path / "none")})
    assert done.returncode == 1
    assert "apt-get install chromium" in done.stderr and "\n" not in done.stderr.strip()
    assert not (tmp_path / "r.pdf").exists()
