"""The Report as Markdown (GitHub-flavoured tables), for case files and tickets.

Data strings go through :func:`md` (one line, Markdown and HTML specials escaped) or, for hex
hashes and addresses, :func:`code` (a code span only when the value is plainly alphanumeric).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .i18n import (
    categories_text,
    category_name,
    clean,
    confidence_text,
    dict_rows,
    direction_name,
    entity_text,
    fmt_amount,
    fmt_share,
    fmt_time,
    fmt_value,
    hop_amount,
    hops_text,
    indexed_range_text,
    label_set_line,
    level_name,
    pack_version,
    reason_text,
    serves_mainland_name,
    settings_rows,
    t,
    tx_ref,
)
from .model import Finding, Report
from .verdict import sentences

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_PLAIN = re.compile(r"[0-9A-Za-z:.]+")


def md(value: object) -> str:
    r"""Untrusted text for a Markdown table cell or line: one line, ``& < >`` as entities,
    ``\ | ` * _ [ ] ~`` backslash-escaped, so it can neither break the table nor format."""
    if value is None or value == "":
        return "—"
    text = clean(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def code(value: object) -> str:
    """A hash or address as a code span (anything not plainly alphanumeric: escaped text)."""
    text = clean(value)
    return f"`{text}`" if _PLAIN.fullmatch(text) else md(text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]],
           right: Sequence[int] = ()) -> list[str]:
    """A Markdown table; header cells are our own words, row cells already escaped."""
    aligns = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(md(h) if h else " " for h in header) + " |",
             "| " + " | ".join(aligns) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return [*lines, ""]


def _summary(report: Report, lang: str) -> list[str]:
    level = report.rating.level
    lines = [
        f"# {md(t('title', lang))}",
        "",
        f"**{md(t('rating', lang))}: {md(level_name(level, lang).upper())}**",
        "",
    ]
    lines.extend(_table(
        [t("summary", lang), ""],
        [
            [md(t("address", lang)), code(report.address)],
            [md(t("chain", lang)), md(report.chain)],
            [md(t("screened_at", lang)), md(fmt_time(report.screened_at) + " UTC")],
            [md(t("max_hops", lang)), md(report.max_hops)],
            [md(t("policy", lang)), md(report.rating.policy)],
        ],
    ))
    lines.append(f"**{md(t('verdict', lang))}**")
    lines.append("")
    lines.extend(f"- {md(sentence)}" for _, sentence in sentences(report, lang))
    lines.append("")
    return lines


def _own_labels(report: Report, lang: str) -> list[str]:
    if not report.labels:
        return []
    rows = [
        [
            md(entity_text(None, item.get("actor"), item.get("label"))),
            md(", ".join(category_name(clean(c), lang) for c in item.get("categories") or [])),
            md(item.get("confidence")),
            md(item.get("source")),
            md(item.get("pack")),
        ]
        for item in report.labels
    ]
    header = [t(k, lang) for k in ("entity", "category", "confidence", "source", "pack")]
    return [f"## {md(t('own_labels', lang))}", "", *_table(header, rows)]


def _exposures(report: Report, lang: str) -> list[str]:
    lines = [f"## {md(t('findings', lang))}", ""]
    findings = report.findings()
    if findings:
        rows = []
        for f in findings:
            e = f.exposure
            who = md(entity_text(e.actor_label, e.actor, e.label))
            if e.serves_mainland:
                who += f" ({md(serves_mainland_name(e.serves_mainland, lang))})"
            rows.append([
                md(direction_name(f.direction, lang)),
                f"**{who}**",
                md(categories_text(f.categories, lang)),
                f"**{f.hops}**",
                md(reason_text(f.reason, lang)),
                code(e.address) if e.address else "—",
                md(confidence_text(e.confidence, e.confidence_level, lang)),
                md(fmt_share(e.share)),
                md(fmt_value(e.value, report.value_unit)),
            ])
        header = [t(k, lang) for k in ("direction", "entity", "categories", "hops",
                                       "rating_reason", "labelled_address", "confidence",
                                       "share", "value")]
        lines.extend(_table(header, rows, right=(3, 7, 8)))
    for direction in ("in", "out"):
        empty = [e.category for e in report.exposures
                 if e.direction == direction and e.hops is None]
        if empty:
            names = ", ".join(category_name(clean(c), lang) for c in empty)
            lines.append(f"- {md(t('nothing_within', lang, n=report.max_hops))} "
                         f"({md(direction_name(direction, lang))}): {md(names)}")
    return [*lines, ""]


def _path(f: Finding, lang: str) -> list[str]:
    e = f.exposure
    who = md(entity_text(e.actor_label, e.actor, e.label))
    title = (f"### {who} · {md(direction_name(f.direction, lang))} · "
             f"{md(hops_text(f.hops, lang))} · {md(categories_text(f.categories, lang))}")
    lines = [title, ""]
    if e.address:
        lines.append(f"- {md(t('labelled_address', lang))}: {code(e.address)}")
    for key, value in (("source", e.source), ("pack", e.pack), ("evidence", e.evidence)):
        if value:
            lines.append(f"- {md(t(key, lang))}: {md(value)}")
    if lines[-1] != "":
        lines.append("")
    if not e.path:
        return [*lines, f"_{md(t('self_labelled', lang))}_", ""]
    rows = []
    for i, hop in enumerate(e.path, start=1):
        ref = tx_ref(hop.log_index, hop.vout, hop.trace_address)
        rows.append([
            str(i),
            code(hop.from_address),
            code(hop.to_address),
            f"{md(hop_amount(hop))} {md(hop.asset)}",
            md(fmt_time(hop.block_time)),
            md(hop.block_number),
            code(hop.tx_hash) + (f" ({md(ref)})" if ref else ""),
        ])
    header = ["#", t("from", lang), t("to", lang), t("amount", lang), t("time", lang),
              t("block", lang), t("tx", lang)]
    return [*lines, *_table(header, rows, right=(0, 3, 5))]


def _paths(report: Report, lang: str) -> list[str]:
    findings = report.findings()
    if not findings:
        return []
    lines = [f"## {md(t('evidence_paths', lang))}", ""]
    for f in findings:
        lines.extend(_path(f, lang))
    return lines


def _activity(report: Report, lang: str) -> list[str]:
    a = report.activity
    lines = [f"## {md(t('activity', lang))}", ""]
    if not a.seen:
        return [*lines, f"- {md(t('never_seen', lang))}",
                f"- {md(t('indexed_range', lang))}: {md(indexed_range_text(report, lang))}", ""]
    lines.extend([
        f"- {md(t('first_seen', lang))}: {md(fmt_time(a.first_seen))}",
        f"- {md(t('last_seen', lang))}: {md(fmt_time(a.last_seen))}",
        f"- {md(t('counterparties', lang))}: {a.counterparties_in} / {a.counterparties_out}",
        f"- {md(t('indexed_range', lang))}: {md(indexed_range_text(report, lang))}",
        "",
    ])
    if a.assets:
        rows = [[md(x.asset), md(direction_name(x.direction, lang)), f"{x.transfers:,}",
                 md(fmt_amount(x.amount)), md(fmt_value(x.value, report.value_unit))]
                for x in a.assets]
        header = [t(k, lang) for k in ("asset", "direction", "transfers", "amount", "value")]
        lines.extend(_table(header, rows, right=(2, 3, 4)))
    return lines


def _stop_nodes(report: Report, lang: str) -> list[str]:
    lines = [f"## {md(t('stop_nodes', lang))}", ""]
    if not report.stop_nodes:
        return [*lines, md(t("no_stop_nodes", lang)), ""]
    lines.extend([md(t("stop_nodes_note", lang)), ""])
    rows = [[code(s.address), md(direction_name(s.direction, lang)), f"{s.degree:,}"]
            for s in report.stop_nodes]
    header = [t("address", lang), t("direction", lang), t("degree", lang)]
    return [*lines, *_table(header, rows, right=(2,))]


def _data_state(report: Report, lang: str) -> list[str]:
    ds = report.data_state or {}
    lines = [f"## {md(t('data_state', lang))}", ""]
    indexed = dict_rows(ds.get("indexed"))
    if indexed:
        lines.extend([f"**{md(t('indexed_blocks', lang))}**", ""])
        rows = [[md(r.get("chain")), md(r.get("stream")), md(r.get("first_block")),
                 md(r.get("last_block"))] for r in indexed]
        header = [t(k, lang) for k in ("chain", "stream", "first_block", "last_block")]
        lines.extend(_table(header, rows, right=(2, 3)))
    packs = dict_rows(ds.get("label_packs"))
    if packs:
        lines.extend([f"**{md(t('label_packs', lang))}**", ""])
        rows = []
        for p in packs:
            title = md(p.get("title") or p.get("name"))
            if p.get("demo"):
                title += f" **({md(t('demo', lang))})**"
            rows.append([title, md(pack_version(p)), md(p.get("tags"))])
        header = [t(k, lang) for k in ("pack_title", "version", "tags")]
        lines.extend(_table(header, rows, right=(2,)))
    whole = label_set_line(ds, lang)
    if whole:
        lines.extend([f"- {md(t('label_set', lang))}: {md(whole)}", ""])
    settings = settings_rows(ds, lang)
    if settings:
        lines.extend([f"**{md(t('filters', lang))}**", ""])
        lines.extend(f"- {md(k)}: {md(v)}" for k, v in settings)
        lines.append("")
    return lines


def render_markdown(report: Report, lang: str = "en") -> str:
    """The whole report as a Markdown document."""
    lines: list[str] = []
    for part in (_summary, _own_labels, _exposures, _paths, _activity, _stop_nodes, _data_state):
        lines.extend(part(report, lang))
    lines.extend(["---", "", f"_{md(t('disclaimer', lang))}_", ""])
    return "\n".join(lines)
