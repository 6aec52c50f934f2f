"""The Report as one self-contained HTML page, with the evidence graph drawn inline as SVG.

The page loads nothing: inline CSS, no script, no font or image fetch, and a Content-Security-
Policy that forbids any fetch or script should a string slip through. Every string from data goes
through :func:`esc` (control characters removed, then ``html.escape``), so a label such as
``<script>`` is shown, never run.

The evidence graph (:func:`render_svg`) is a layered drawing: the screened address in the middle
column, ``in`` paths to its left (money flowing rightwards into it), ``out`` paths to its right,
one column per hop; arrows point the way the money moved; edges carry the asset amount and date
of their representative transfer; labelled endpoints are coloured by category (legend below).
Stable hooks for browser tests and styling:

- ``svg#evidence-graph``;
- nodes ``g.node`` with ``data-address``: ``g.node.screened#node-screened`` (plus ``labelled
  cat-<category>`` when the screened address itself is labelled), ``g.node.labelled.cat-<category>``
  with ``data-category``, ``g.node.intermediate``; ids ``node-<in|out>-<n>``;
- edges ``g.edge.path`` (plus ``path-<category>-<direction>`` for every path using the edge) with
  ``data-tx``, ``data-from``, ``data-to``, ``data-asset``, ``data-amount-raw``; ids
  ``edge-<in|out>-<n>``;
- ``ul#legend`` with ``li.legend-item.cat-<category>``.

The page: ``#verdict p.verdict-sentence`` (``data-about`` self, in, out or unseen) opens it; the
findings table ``#findings-table`` has one ``tr.finding`` per (entity, direction) with
``data-categories``, ``data-level`` and ``data-hops``; every address is a ``span.addr`` on one
line with the full address in ``title`` and ``data-address`` (shortened in the middle in tables,
whole in the header and the evidence section ``#paths``). Print styles give A4 pages.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

from .i18n import (
    category_name,
    clean,
    confidence_text,
    dict_rows,
    direction_name,
    entity_text,
    fmt_amount,
    fmt_date,
    fmt_share,
    fmt_time,
    fmt_value,
    hop_amount,
    hops_text,
    html_lang,
    indexed_range_text,
    label_set_line,
    level_name,
    pack_version,
    reason_text,
    serves_mainland_name,
    settings_rows,
    short,
    t,
    tx_ref,
)
from .model import Exposure, Finding, Hop, Report
from .verdict import sentences

#: Fill colour of labelled nodes per screening category (unknown categories: UNKNOWN_COLOUR).
CATEGORY_COLOURS = {
    "mainland_exchange": "#d62728",
    "rwa": "#9467bd",
    "exchange": "#1f77b4",
    "hk_licensed_exchange": "#17becf",
    "sanction": "#7b1113",
    "mixing_service": "#ff7f0e",
    "stablecoin_issuer": "#2ca02c",
    "defi_bridge": "#bcbd22",
    "mining_service": "#8c564b",
    "gambling": "#e377c2",
    "scam": "#b8860b",
    "ransomware": "#4b0082",
    "hacking": "#006d5b",
    "market": "#5e3c99",
}
UNKNOWN_COLOUR = "#555555"
SCREENED_COLOUR = "#1f2937"
INTERMEDIATE_COLOUR = "#9ca3af"

LEVEL_COLOURS = {"none": "#15803d", "low": "#ca8a04", "medium": "#ea580c", "high": "#b91c1c"}

# Layout, in SVG user units (pixels at 100%).
COLUMN_GAP = 240
ROW_GAP = 112
MARGIN_X = 130
MARGIN_TOP = 72
MARGIN_BOTTOM = 80
RADIUS = {"screened": 20, "labelled": 15, "intermediate": 8}


def esc(value: object) -> str:
    """Data for HTML text or a quoted attribute: control characters removed, then escaped."""
    if value is None or value == "":
        return "—"
    return html.escape(clean(value), quote=True)


def css_ident(value: object) -> str:
    """A value usable inside a class name or id (anything else becomes ``_``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", clean(value)) or "_"


def colour(category: str) -> str:
    """The fill colour of ``category``."""
    return CATEGORY_COLOURS.get(category, UNKNOWN_COLOUR)


def _lines(text: str, columns: int, most: int = 2) -> list[str]:
    """``text`` broken into at most ``most`` lines of ``columns`` display columns (at a space
    where there is one), the last line cut with an ellipsis."""
    text = clean(text)
    out: list[str] = []
    while text and len(out) < most - 1:
        head = _fit(text, columns)
        if head == text:
            break
        cut = len(head) - 1  # without the ellipsis
        space = text.rfind(" ", 0, cut + 1)
        cut = space if space > 0 else cut
        out.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        out.append(_fit(text, columns))
    return out


def _fit(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` display columns (CJK counts two) with an ellipsis."""
    text = clean(text)
    used = 0
    for i, ch in enumerate(text):
        used += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if used > columns:
            return text[: max(i - 1, 0)] + "…"
    return text


# -- the evidence graph ------------------------------------------------------------------------
@dataclass
class _Node:
    key: tuple[str, str]
    id: str
    address: str
    column: int
    order: int
    categories: list[str] = field(default_factory=list)
    exposures: list[Exposure] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0

    @property
    def kind(self) -> str:
        if self.id == "node-screened":
            return "screened"
        return "labelled" if self.categories else "intermediate"


@dataclass
class _Edge:
    id: str
    source: tuple[str, str]
    target: tuple[str, str]
    hop: Hop
    paths: list[str] = field(default_factory=list)


@dataclass
class EvidenceGraph:
    """Nodes and edges of every found exposure path, laid out in columns (see module doc)."""

    nodes: dict[tuple[str, str], _Node]
    edges: list[_Edge]
    screened: tuple[str, str]
    width: int = 0
    height: int = 0


def evidence_graph(report: Report) -> EvidenceGraph:
    """The evidence graph of ``report``: one node per address and side, one edge per transfer
    pair and side, positioned (screened address at column 0, ``in`` left, ``out`` right)."""
    screened_key = ("", report.address)
    nodes: dict[tuple[str, str], _Node] = {
        screened_key: _Node(screened_key, "node-screened", report.address, 0, 0)
    }
    edges: dict[tuple[str, str, str], _Edge] = {}
    counters = {"in": 0, "out": 0}

    def node(side: str, address: str, distance: int) -> _Node:
        if address == report.address:
            return nodes[screened_key]
        key = (side, address)
        column = -distance if side == "in" else distance
        if key not in nodes:
            counters[side] += 1
            nodes[key] = _Node(key, f"node-{side}-{counters[side]}", address, column, len(nodes))
        elif abs(column) < abs(nodes[key].column):
            nodes[key].column = column
        return nodes[key]

    for e in report.found():
        path_class = f"path-{css_ident(e.category)}-{css_ident(e.direction)}"
        side = "in" if e.direction == "in" else "out"
        n = len(e.path)
        if not e.path:  # 0 hops: the screened address itself (else a path went missing)
            endpoint = (nodes[screened_key] if not e.hops or not e.address
                        else node(side, e.address, e.hops))
        else:
            for i, hop in enumerate(e.path):
                # distance from the screened address of the hop's sender and receiver
                d_from, d_to = (n - i, n - i - 1) if side == "in" else (i, i + 1)
                a = node(side, hop.from_address, d_from)
                b = node(side, hop.to_address, d_to)
                ekey = (side, a.key[1], b.key[1])
                if ekey not in edges:
                    edges[ekey] = _Edge(f"edge-{side}-{len(edges) + 1}", a.key, b.key, hop)
                if path_class not in edges[ekey].paths:
                    edges[ekey].paths.append(path_class)
            far = e.path[0].from_address if side == "in" else e.path[-1].to_address
            endpoint = node(side, e.address or far, n)
        if e.category not in endpoint.categories:
            endpoint.categories.append(e.category)
        endpoint.exposures.append(e)
    graph = EvidenceGraph(nodes, list(edges.values()), screened_key)
    _layout(graph)
    return graph


def _layout(graph: EvidenceGraph) -> None:
    """Rows by one outward barycentre sweep per side: each node wants the mean row of its
    neighbours nearer the centre, nodes of a column keep ROW_GAP apart (ties: first seen)."""
    neighbours: dict[tuple[str, str], list[tuple[str, str]]] = {k: [] for k in graph.nodes}
    for edge in graph.edges:
        neighbours[edge.source].append(edge.target)
        neighbours[edge.target].append(edge.source)
    columns: dict[int, list[_Node]] = {}
    for n in graph.nodes.values():
        columns.setdefault(n.column, []).append(n)
    placed: dict[tuple[str, str], float] = {graph.screened: 0.0}
    for sign in (-1, 1):
        depth = 1
        while sign * depth in columns:
            members = columns[sign * depth]
            wanted = {}
            for n in members:
                near = [placed[k] for k in neighbours[n.key]
                        if k in placed and abs(graph.nodes[k].column) < depth]
                wanted[n.key] = sum(near) / len(near) if near else None
            members.sort(key=lambda n: (wanted[n.key] is None, wanted[n.key] or 0, n.order))
            ys: list[float] = []
            for n in members:
                want = wanted[n.key]
                floor = ys[-1] + ROW_GAP if ys else None
                if want is None:
                    want = floor if floor is not None else 0.0
                ys.append(want if floor is None else max(want, floor))
            desired = [wanted[n.key] for n in members]
            offsets = [w - y for w, y in zip(desired, ys, strict=True) if w is not None]
            shift = sum(offsets) / len(offsets) if offsets else -(ys[-1] - ys[0]) / 2
            for n, y in zip(members, ys, strict=True):
                placed[n.key] = y + shift
            depth += 1
    left = -min(columns)
    right = max(columns)
    top = min(placed.values())
    bottom = max(placed.values())
    for n in graph.nodes.values():
        n.x = MARGIN_X + (n.column + left) * COLUMN_GAP
        n.y = MARGIN_TOP + (placed[n.key] - top)
    graph.width = int(2 * MARGIN_X + (left + right) * COLUMN_GAP)
    graph.height = int(MARGIN_TOP + MARGIN_BOTTOM + (bottom - top))


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


_GRAPH_STYLE = """
svg.evidence-graph { font-family: system-ui, -apple-system, "Segoe UI", "PingFang SC",
  "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; background: #fff; }
svg.evidence-graph .edge-line { fill: none; stroke: #4b5563; stroke-width: 1.6; }
svg.evidence-graph .edge-label { font-size: 11px; fill: #111827; text-anchor: middle;
  paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
svg.evidence-graph .edge-date { fill: #4b5563; }
svg.evidence-graph .node circle.core { stroke: #fff; stroke-width: 2; }
svg.evidence-graph .node.screened circle.core { stroke: #111827; stroke-width: 3; }
svg.evidence-graph .node-label { font-size: 11px; fill: #111827; text-anchor: middle;
  paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
svg.evidence-graph .node-label.strong { font-weight: 600; font-size: 12px; }
svg.evidence-graph .node-label.mono { font-family: ui-monospace, "SFMono-Regular", Menlo,
  Consolas, monospace; fill: #374151; }
svg.evidence-graph .side-caption { font-size: 12px; fill: #6b7280; text-anchor: middle; }
"""


def _node_svg(n: _Node, lang: str) -> str:
    kind = n.kind
    classes = ["node", kind]
    if kind == "screened" and n.categories:
        classes.append("labelled")
    classes.extend(f"cat-{css_ident(c)}" for c in n.categories)
    r = RADIUS[kind]
    attrs = (f'class="{" ".join(classes)}" id="{n.id}" data-address="{esc(n.address)}"'
             + (f' data-category="{esc(n.categories[0])}"' if n.categories else ""))
    tip = [n.address]
    for e in n.exposures:
        tip.append(f"{category_name(e.category, lang)} · {direction_name(e.direction, lang)}: "
                   f"{entity_text(e.actor_label, e.actor, e.label)}")
    parts = [f"<g {attrs}>", f"<title>{esc(chr(10).join(clean(x) for x in tip))}</title>"]
    x, y = _f(n.x), _f(n.y)
    if kind == "screened":
        for i, cat in enumerate(n.categories):  # the screened address's own labels: rings
            parts.append(f'<circle class="ring" cx="{x}" cy="{y}" r="{r + 5 + 4 * i}" '
                         f'fill="none" stroke="{colour(cat)}" stroke-width="3"/>')
        parts.append(f'<circle class="core" cx="{x}" cy="{y}" r="{r}" fill="{SCREENED_COLOUR}"/>')
        lines = [(t("screened_node", lang), "strong"), (short(n.address, 8, 6), "mono")]
        if n.categories:
            cats = " / ".join(category_name(c, lang) for c in n.categories)
            lines.extend((line, "") for line in _lines(cats, 32))
    elif kind == "labelled":
        fill = colour(n.categories[0])
        parts.append(f'<circle class="core" cx="{x}" cy="{y}" r="{r}" fill="{fill}"/>')
        e = n.exposures[0]
        cats = " / ".join(category_name(c, lang) for c in n.categories)
        lines = [(_fit(entity_text(e.actor_label, e.actor, e.label), 30), "strong"),
                 *((line, "") for line in _lines(cats, 32)),
                 (short(n.address, 8, 6), "mono")]
    else:
        parts.append(f'<circle class="core" cx="{x}" cy="{y}" r="{r}" '
                     f'fill="{INTERMEDIATE_COLOUR}"/>')
        lines = [(short(n.address, 8, 6), "mono")]
    top = n.y + r + 15 + (4 * len(n.categories) + 2 if kind == "screened" else 0)
    for i, (text, cls) in enumerate(lines):
        klass = f"node-label {cls}" if cls else "node-label"
        parts.append(f'<text class="{klass}" x="{x}" y="{_f(top + 14 * i)}">'
                     f"{esc(text)}</text>")
    parts.append("</g>")
    return "".join(parts)


def _edge_svg(edge: _Edge, graph: EvidenceGraph, lang: str) -> str:
    a, b = graph.nodes[edge.source], graph.nodes[edge.target]
    ra, rb = RADIUS[a.kind], RADIUS[b.kind] + 3
    hop = edge.hop
    if a.x == b.x:  # same column (an inconsistent path): a loop out to the right
        x1, y1, x2, y2 = a.x + ra, a.y, b.x + rb, b.y
        bulge = max(x1, x2) + 70
        d = f"M{_f(x1)},{_f(y1)} C{_f(bulge)},{_f(y1)} {_f(bulge)},{_f(y2)} {_f(x2)},{_f(y2)}"
        mx, my = bulge - 18, (y1 + y2) / 2
    else:
        sign = 1 if b.x > a.x else -1
        x1, y1, x2, y2 = a.x + sign * ra, a.y, b.x - sign * rb, b.y
        cx = (x1 + x2) / 2
        d = f"M{_f(x1)},{_f(y1)} C{_f(cx)},{_f(y1)} {_f(cx)},{_f(y2)} {_f(x2)},{_f(y2)}"
        mx, my = cx, (y1 + y2) / 2
    classes = " ".join(["edge", "path", *edge.paths])
    ref = tx_ref(hop.log_index, hop.vout, hop.trace_address)
    tip = [f"{hop.from_address} → {hop.to_address}",
           f"{hop_amount(hop)} {clean(hop.asset)} ({clean(hop.amount_raw)} base units)",
           f"{fmt_time(hop.block_time)} UTC · {t('block', lang)} {hop.block_number}",
           f"{t('tx', lang)} {clean(hop.tx_hash)}" + (f" ({ref})" if ref else "")]
    if hop.edge_transfers > 1:
        tip.append(t("edge_transfers", lang, n=hop.edge_transfers))
    attrs = (f'class="{classes}" id="{edge.id}" data-tx="{esc(hop.tx_hash)}" '
             f'data-from="{esc(hop.from_address)}" data-to="{esc(hop.to_address)}" '
             f'data-asset="{esc(hop.asset)}" data-amount-raw="{esc(hop.amount_raw)}"')
    return (
        f"<g {attrs}><title>{esc(chr(10).join(tip))}</title>"
        f'<path class="edge-line" d="{d}" marker-end="url(#arrow)"/>'
        f'<text class="edge-label" x="{_f(mx)}" y="{_f(my - 18)}">'
        f"{esc(hop_amount(hop))} {esc(_fit(hop.asset, 12))}</text>"
        f'<text class="edge-label edge-date" x="{_f(mx)}" y="{_f(my - 5)}">'
        f"{esc(fmt_date(hop.block_time))}</text></g>"
    )


def render_svg(report: Report, lang: str = "en", *, standalone: bool = False) -> str:
    """The evidence graph as SVG text: inline in the HTML page, or (``standalone``) a file."""
    graph = evidence_graph(report)
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    # inline: as wide as the page allows up to natural size, shrunk at most to 80% (then the
    # page scrolls sideways rather than making the text unreadable)
    fit = ("" if standalone else f' style="width:100%;height:auto;max-width:{graph.width}px;'
           f'min-width:{int(graph.width * 0.8)}px"')
    head = (f'<svg{ns} id="evidence-graph" class="evidence-graph" width="{graph.width}" '
            f'height="{graph.height}" viewBox="0 0 {graph.width} {graph.height}" role="img" '
            f'aria-labelledby="evidence-graph-title"{fit}>')
    parts = [
        head,
        f'<title id="evidence-graph-title">{esc(t("evidence_graph", lang))}: '
        f"{esc(report.address)}</title>",
        f"<style>{_GRAPH_STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#4b5563"/>'
        "</marker></defs>",
    ]
    columns = [n.column for n in graph.nodes.values()]
    centre = graph.nodes[graph.screened].x
    if min(columns) < 0:
        parts.append(f'<text class="side-caption" x="{_f(centre - COLUMN_GAP / 2)}" y="18">'
                     f"← {esc(direction_name('in', lang))}</text>")
    if max(columns) > 0:
        parts.append(f'<text class="side-caption" x="{_f(centre + COLUMN_GAP / 2)}" y="18">'
                     f"{esc(direction_name('out', lang))} →</text>")
    parts.append('<g class="edges">')
    parts.extend(_edge_svg(edge, graph, lang) for edge in graph.edges)
    parts.append('</g><g class="nodes">')
    parts.extend(_node_svg(n, lang) for n in graph.nodes.values())
    parts.append("</g></svg>")
    return "".join(parts)


def _legend(report: Report, lang: str) -> str:
    graph_categories: list[str] = []
    for e in report.found():
        if e.category not in graph_categories:
            graph_categories.append(e.category)

    def item(cls: str, fill: str, text: str) -> str:
        return (f'<li class="legend-item {cls}"><svg width="14" height="14" aria-hidden="true">'
                f'<circle cx="7" cy="7" r="6" fill="{fill}"/></svg> {esc(text)}</li>')

    items = [item("screened", SCREENED_COLOUR, t("screened_node", lang)),
             item("intermediate", INTERMEDIATE_COLOUR, t("intermediate_node", lang))]
    items.extend(item(f"cat-{css_ident(c)}", colour(c), category_name(c, lang))
                 for c in graph_categories)
    return (f'<ul id="legend" class="legend" aria-label="{esc(t("legend", lang))}">'
            + "".join(items) + "</ul>")


# -- the page ----------------------------------------------------------------------------------
_PAGE_STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 1200px; padding: 24px; color: #111827; background: #f9fafb;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei",
  "Noto Sans CJK SC", sans-serif; overflow-wrap: break-word; line-break: strict; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #d1d5db; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
section, header, footer { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px;
  padding: 12px 18px; margin: 14px 0; }
.mono, code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono",
  monospace; font-size: 12.5px; }
.addr { white-space: nowrap; }
.hash { word-break: break-all; }
.wrap { overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 16px;
  margin: 0; }
dl.facts dt { font-weight: 600; color: #374151; }
dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.rating { display: inline-block; margin: 14px 0 6px; padding: 8px 22px; border-radius: 8px;
  color: #fff; font-size: 28px; font-weight: 700; letter-spacing: 0.04em; }
.rating .rating-label { font-size: 14px; font-weight: 600; margin-right: 12px; opacity: 0.9; }
#verdict { margin: 10px 0 0; }
#verdict h2 { margin-top: 6px; }
#verdict p { font-size: 15px; margin: 6px 0; overflow-wrap: anywhere; }
#verdict p.about-unseen { color: #92400e; font-weight: 600; }
.outcome { font-weight: 600; font-size: 15px; }
.outcome.never-seen { color: #92400e; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb;
  vertical-align: top; min-width: 60px; }
th { background: #f3f4f6; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.text { overflow-wrap: anywhere; }
td.dir { word-break: keep-all; }
td.source { overflow-wrap: anywhere; min-width: 100px; }
td.entity { min-width: 130px; }
td.reason { min-width: 90px; }
td.share .value { white-space: normal; }
.confidence { display: block; }
td.transfer .mono { display: block; }
td.tx .mono { word-break: break-all; }
td.tx { min-width: 140px; }
.muted { color: #6b7280; }
.cats { display: block; margin-top: 2px; }
.cat { display: inline-block; margin-right: 8px; }
.cat-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  margin-right: 6px; vertical-align: baseline; }
.graph-scroll { overflow-x: auto; border: 1px solid #e5e7eb; border-radius: 6px; }
.graph-scroll svg { display: block; margin: 0 auto; }
td.nowrap { white-space: nowrap; }
ul.legend { list-style: none; padding: 0; margin: 8px 0; display: flex; flex-wrap: wrap;
  gap: 6px 18px; }
ul.legend li svg { vertical-align: -2px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 4px; background: #fde68a;
  color: #78350f; font-size: 12px; font-weight: 600; }
footer { color: #4b5563; font-size: 13px; }
@page { size: A4; margin: 12mm 10mm; }
@media print {
  body { background: #fff; padding: 0; max-width: none; font-size: 11.5px; }
  section, header, footer { border: none; padding: 4px 0; margin: 8px 0; }
  h2 { break-after: avoid; }
  tr, .path-detail h3, dl.facts { break-inside: avoid; }
  thead { display: table-header-group; }
  .mono, code { font-size: 9.5px; }
  th, td { padding: 3px 4px; }
  .graph-scroll { overflow: visible; border: none; }
  .graph-scroll svg { width: 100% !important; min-width: 0 !important; height: auto; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'")


def _row(cells: list[str], cls: str = "", attrs: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<tr{c}{attrs}>" + "".join(cells) + "</tr>"


def _td(html_text: str, cls: str = "") -> str:
    return f'<td class="{cls}">{html_text}</td>' if cls else f"<td>{html_text}</td>"


def _th(text: str, num: bool = False) -> str:
    return f'<th class="num">{esc(text)}</th>' if num else f"<th>{esc(text)}</th>"


def _mono(value: object) -> str:
    return f'<span class="mono">{esc(value)}</span>'


def _addr(address: object, *, full: bool = False) -> str:
    """An address on one line in monospace: shortened in the middle with the full text on hover
    (``full``: the whole address, as the evidence section shows it)."""
    text = clean(address)
    if not text:
        return "—"
    shown = text if full else short(text, 8, 6)
    return (f'<span class="mono addr" title="{esc(text)}" data-address="{esc(text)}">'
            f"{esc(shown)}</span>")


def _swatch(category: str) -> str:
    return f'<span class="cat-swatch" style="background:{colour(category)}"></span>'


def _header(report: Report, lang: str) -> str:
    level = report.rating.level
    facts = [
        ("address", _addr(report.address, full=True)),
        ("chain", esc(report.chain)),
        ("screened_at", esc(fmt_time(report.screened_at)) + " UTC"),
        ("max_hops", esc(report.max_hops)),
        ("policy", esc(report.rating.policy)),
    ]
    dl = "".join(f"<dt>{esc(t(k, lang))}</dt><dd>{v}</dd>" for k, v in facts)
    background = LEVEL_COLOURS.get(level, "#374151")
    verdict = "".join(
        f'<p class="verdict-sentence about-{css_ident(about)}" data-about="{esc(about)}">'
        f"{esc(text)}</p>"
        for about, text in sentences(report, lang)
    )
    return (
        f'<header id="summary"><h1>{esc(t("title", lang))}</h1><dl class="facts">{dl}</dl>'
        f'<div id="rating" class="rating level-{css_ident(level)}" style="background:{background}"'
        f' data-level="{esc(level)}"><span class="rating-label">{esc(t("rating", lang))}</span>'
        f'<span class="rating-level">{esc(level_name(level, lang).upper())}</span></div>'
        f'<div id="verdict"><h2>{esc(t("verdict", lang))}</h2>{verdict}</div></header>'
    )


def _own_labels(report: Report, lang: str) -> str:
    if not report.labels:
        return ""
    keys = ("entity", "category", "confidence", "source", "pack")
    head = _row([_th(t(k, lang)) for k in keys])
    rows = "".join(
        _row([
            _td(esc(entity_text(None, item.get("actor"), item.get("label")))),
            _td(esc(", ".join(category_name(clean(c), lang)
                              for c in item.get("categories") or []))),
            _td(esc(item.get("confidence"))),
            _td(esc(item.get("source"))),
            _td(esc(item.get("pack"))),
        ])
        for item in report.labels
    )
    return (f'<section id="own-labels"><h2>{esc(t("own_labels", lang))}</h2>'
            f"<table><thead>{head}</thead><tbody>{rows}</tbody></table></section>")


def _graph_section(report: Report, lang: str) -> str:
    return (
        f'<section id="graph"><h2>{esc(t("evidence_graph", lang))}</h2>'
        f'<p class="muted">{esc(t("graph_note", lang))}</p>'
        f'<div class="graph-scroll">{render_svg(report, lang)}</div>{_legend(report, lang)}'
        "</section>"
    )


def _categories(categories: tuple[str, ...], lang: str) -> str:
    return "".join(f'<span class="cat cat-{css_ident(c)}">{_swatch(c)}'
                   f"{esc(category_name(c, lang))}</span>" for c in categories)


def _exposures(report: Report, lang: str) -> str:
    """One row per finding (entity, direction): its categories together, its rating reason."""
    head = _row([_th(t("direction", lang)), _th(t("entity", lang)), _th(t("hops", lang), True),
                 _th(t("rating_reason", lang)), _th(t("labelled_address", lang)),
                 _th(t("source", lang)), _th(f"{t('share', lang)} / {t('value', lang)}", True)])
    rows = []
    for f in report.findings():
        e = f.exposure
        who = f"<strong>{esc(entity_text(e.actor_label, e.actor, e.label))}</strong>"
        if e.serves_mainland:
            who += f'<br><span class="muted">{esc(serves_mainland_name(e.serves_mainland, lang))}'
            who += "</span>"
        who += f'<span class="cats">{_categories(f.categories, lang)}</span>'
        who += (f'<span class="muted confidence">{esc(t("confidence", lang))}: '
                f"{esc(confidence_text(e.confidence, e.confidence_level, lang))}</span>")
        cls = " ".join(["finding", f"dir-{css_ident(f.direction)}",
                        *(f"cat-{css_ident(c)}" for c in f.categories)])
        rows.append(_row(
            [
                _td(esc(direction_name(f.direction, lang)), "dir"),
                _td(who, "entity text"),
                _td(f"<strong>{f.hops}</strong>", "num"),
                _td(esc(reason_text(f.reason, lang)), "reason text"),
                _td(_addr(e.address), "address"),
                _td(esc(e.source), "source"),
                _td(f"{esc(fmt_share(e.share))}<br>"
                    f'<span class="value">{esc(fmt_value(e.value, report.value_unit))}</span>',
                    "num share"),
            ],
            cls,
            f' id="finding-{css_ident(f.direction)}-{css_ident(e.category)}"'
            f' data-hops="{f.hops}" data-level="{esc(f.level or "")}"'
            f' data-categories="{esc(" ".join(f.categories))}"',
        ))
    table = (f'<table id="findings-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
             "</table>") if rows else ""
    nothing = []
    for direction in ("in", "out"):
        empty = [e.category for e in report.exposures
                 if e.direction == direction and e.hops is None]
        if empty:
            names = ", ".join(category_name(clean(c), lang) for c in empty)
            nothing.append(
                f'<p class="nothing muted dir-{direction}">'
                f"{esc(t('nothing_within', lang, n=report.max_hops))} "
                f"({esc(direction_name(direction, lang))}): {esc(names)}</p>"
            )
    return (f'<section id="findings"><h2>{esc(t("findings", lang))}</h2>{table}'
            f'{"".join(nothing)}</section>')


def _path(f: Finding, lang: str) -> str:
    e = f.exposure
    ident = f"path-{css_ident(f.direction)}-{css_ident(e.category)}"
    title = (f"{esc(entity_text(e.actor_label, e.actor, e.label))} · "
             f"{esc(direction_name(f.direction, lang))} · {esc(hops_text(f.hops, lang))}")
    facts = [(k, esc(v)) for k, v in (("serves_mainland",
                                       serves_mainland_name(e.serves_mainland, lang)
                                       if e.serves_mainland else None),
                                      ("source", e.source), ("pack", e.pack),
                                      ("evidence", e.evidence)) if v]
    facts.insert(0, ("categories", _categories(f.categories, lang)))
    if e.address:
        facts.insert(0, ("labelled_address", _addr(e.address, full=True)))
    dl = "".join(f"<dt>{esc(t(k, lang))}</dt><dd>{v}</dd>" for k, v in facts)
    out = [f'<div class="path-detail" id="{ident}"><h3>{title}</h3>',
           f'<dl class="facts">{dl}</dl>']
    if not e.path:
        out.append(f'<p class="muted">{esc(t("self_labelled", lang))}</p></div>')
        return "".join(out)
    head = _row([_th(t("hop", lang)), _th(t("transfer", lang)), _th(t("amount", lang), True),
                 _th(t("tx", lang))])
    rows = []
    for i, hop in enumerate(e.path, start=1):
        ref = tx_ref(hop.log_index, hop.vout, hop.trace_address)
        tx = (f'<span class="mono hash">{esc(hop.tx_hash)}</span>'
              + (f' <span class="muted">({esc(ref)})</span>' if ref else ""))
        when = (f"<strong>{i}</strong><br>{esc(fmt_time(hop.block_time))}<br>"
                f'<span class="muted">{esc(t("block", lang))} {esc(hop.block_number)}</span>')
        route = (f"{_addr(hop.from_address, full=True)}"
                 f'<span class="muted arrow">↓</span>{_addr(hop.to_address, full=True)}')
        rows.append(_row(
            [
                _td(when, "when"),
                _td(route, "transfer"),
                _td(f"{esc(hop_amount(hop))} {esc(hop.asset)}", "num"),
                _td(tx, "tx"),
            ],
            "hop",
            f' data-tx="{esc(hop.tx_hash)}" data-amount-raw="{esc(hop.amount_raw)}"',
        ))
    out.append(f'<table class="hops"><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
               "</table></div>")
    return "".join(out)


def _paths(report: Report, lang: str) -> str:
    findings = report.findings()
    if not findings:
        return ""
    return (f'<section id="paths"><h2>{esc(t("evidence_paths", lang))}</h2>'
            + "".join(_path(f, lang) for f in findings) + "</section>")


def _activity(report: Report, lang: str) -> str:
    a = report.activity
    out = [f'<section id="activity"><h2>{esc(t("activity", lang))}</h2>']
    if not a.seen:
        out.append(f'<p class="outcome never-seen">{esc(t("never_seen", lang))}</p>'
                   f'<dl class="facts"><dt>{esc(t("indexed_range", lang))}</dt>'
                   f"<dd>{esc(indexed_range_text(report, lang))}</dd></dl></section>")
        return "".join(out)
    facts = [("first_seen", fmt_time(a.first_seen)), ("last_seen", fmt_time(a.last_seen)),
             ("counterparties", f"{a.counterparties_in} / {a.counterparties_out}"),
             ("indexed_range", indexed_range_text(report, lang))]
    out.append('<dl class="facts">' + "".join(
        f"<dt>{esc(t(k, lang))}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>")
    if a.assets:
        head = _row([_th(t("asset", lang)), _th(t("direction", lang)),
                     _th(t("transfers", lang), True), _th(t("amount", lang), True),
                     _th(t("value", lang), True)])
        rows = "".join(
            _row([_td(esc(x.asset)), _td(esc(direction_name(x.direction, lang))),
                  _td(f"{x.transfers:,}", "num"), _td(esc(fmt_amount(x.amount)), "num"),
                  _td(esc(fmt_value(x.value, report.value_unit)), "num")])
            for x in a.assets
        )
        out.append(f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _stop_nodes(report: Report, lang: str) -> str:
    out = [f'<section id="stop-nodes"><h2>{esc(t("stop_nodes", lang))}</h2>']
    if not report.stop_nodes:
        out.append(f'<p class="muted">{esc(t("no_stop_nodes", lang))}</p></section>')
        return "".join(out)
    out.append(f'<p class="muted">{esc(t("stop_nodes_note", lang))}</p>')
    head = _row([_th(t("address", lang)), _th(t("direction", lang)), _th(t("degree", lang), True)])
    rows = "".join(
        _row([_td(_addr(s.address, full=True)), _td(esc(direction_name(s.direction, lang))),
              _td(f"{s.degree:,}", "num")], "stop-node")
        for s in report.stop_nodes
    )
    out.append(f"<table><thead>{head}</thead><tbody>{rows}</tbody></table></section>")
    return "".join(out)


def _data_state(report: Report, lang: str) -> str:
    ds = report.data_state or {}
    out = [f'<section id="data-state"><h2>{esc(t("data_state", lang))}</h2>']
    indexed = dict_rows(ds.get("indexed"))
    if indexed:
        head = _row([_th(t("chain", lang)), _th(t("stream", lang)),
                     _th(t("first_block", lang), True), _th(t("last_block", lang), True)])
        rows = "".join(
            _row([_td(esc(r.get("chain"))), _td(esc(r.get("stream"))),
                  _td(esc(r.get("first_block")), "num"), _td(esc(r.get("last_block")), "num")])
            for r in indexed
        )
        out.append(f'<h3>{esc(t("indexed_blocks", lang))}</h3>'
                   f'<table id="indexed-blocks"><thead>{head}</thead><tbody>{rows}</tbody></table>')
    packs = dict_rows(ds.get("label_packs"))
    if packs:
        head = _row([_th(t("pack_title", lang)), _th(t("version", lang)),
                     _th(t("tags", lang), True)])
        rows = []
        for p in packs:
            title = esc(p.get("title") or p.get("name"))
            if p.get("demo"):
                title += f' <span class="badge">{esc(t("demo", lang))}</span>'
            rows.append(_row([_td(title), _td(_mono(pack_version(p))),
                              _td(esc(p.get("tags")), "num")]))
        out.append(f'<h3>{esc(t("label_packs", lang))}</h3><table id="label-packs"><thead>'
                   f'{head}</thead><tbody>{"".join(rows)}</tbody></table>')
    whole = label_set_line(ds, lang)
    if whole:
        out.append(f'<dl class="facts" id="label-set"><dt>{esc(t("label_set", lang))}</dt>'
                   f"<dd>{esc(whole)}</dd></dl>")
    settings = settings_rows(ds, lang)
    if settings:
        out.append(f'<h3>{esc(t("filters", lang))}</h3><dl class="facts" id="settings">'
                   + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in settings)
                   + "</dl>")
    out.append("</section>")
    return "".join(out)


def render_html(report: Report, lang: str = "en") -> str:
    """The whole report as one self-contained HTML page (no script, no external resource)."""
    title = f"{t('title', lang)} · {clean(report.address)}"
    body = "".join([
        _header(report, lang),
        _own_labels(report, lang),
        _graph_section(report, lang),
        _exposures(report, lang),
        _paths(report, lang),
        _activity(report, lang),
        _stop_nodes(report, lang),
        _data_state(report, lang),
        f'<footer id="disclaimer"><p>{esc(t("disclaimer", lang))}</p>'
        f'<p class="muted">{esc(t("generated_by", lang))} · {esc(report.rating.policy)} · '
        f"{esc(fmt_time(report.screened_at))} UTC</p></footer>",
    ])
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html_lang(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{esc(title)}</title>\n<style>{_PAGE_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
