"""The Report for the terminal, as rich renderables.

Every string that comes from data (labels, actors, sources, pack titles, addresses) is put in a
:class:`rich.text.Text` after :func:`~exposure.report.i18n.clean`: never interpolated into console
markup, so a label such as ``[bold red]`` or an ANSI escape in a pack shows as the characters it
is, and cannot restyle or rewrite the officer's terminal.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

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
    short,
    t,
    tx_ref,
)
from .model import Finding, Report
from .verdict import sentences

#: Rating level -> rich style of the rating banner (unknown levels of a custom policy: bold).
LEVEL_STYLES = {
    "none": "bold white on green",
    "low": "bold black on yellow",
    "medium": "bold black on dark_orange",
    "high": "bold white on red",
}


def _txt(value: object, style: str = "") -> Text:
    """Data as plain text (never markup), cleaned of control characters; empty -> a dash."""
    text = clean(value) if value not in (None, "") else "—"
    return Text(text, style=style)


def _heading(text: str) -> Text:
    return Text("\n" + text, style="bold underline")


def _kv_table(rows: Iterable[tuple[str, Text | str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")  # a long URL folds, never cut
    for key, value in rows:
        grid.add_row(Text(key), value if isinstance(value, Text) else _txt(value))
    return grid


def _summary(report: Report, lang: str) -> list[RenderableType]:
    level = report.rating.level
    banner = Text(
        f"  {t('rating', lang)}: {level_name(level, lang).upper()}  ",
        style=LEVEL_STYLES.get(level, "bold reverse"),
    )
    rows: list[tuple[str, Text | str]] = [
        (t("address", lang), _txt(report.address, "bold")),
        (t("chain", lang), _txt(report.chain)),
        (t("screened_at", lang), _txt(fmt_time(report.screened_at) + " UTC")),
        (t("max_hops", lang), _txt(report.max_hops)),
        (t("policy", lang), _txt(report.rating.policy)),
    ]
    parts: list[RenderableType] = [
        Text(t("title", lang), style="bold"),
        _kv_table(rows),
        Text(""),
        banner,
    ]
    parts.append(Text(""))
    parts.append(Text(t("verdict", lang), style="bold"))
    verdict = Table.grid(padding=(0, 1))
    verdict.add_column(no_wrap=True)
    verdict.add_column(overflow="fold")
    for _, sentence in sentences(report, lang):
        verdict.add_row(" •", _txt(sentence))
    parts.append(verdict)
    return parts


def _own_labels(report: Report, lang: str) -> list[RenderableType]:
    if not report.labels:
        return []
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for key in ("entity", "category", "confidence", "source", "pack"):
        table.add_column(t(key, lang))
    for item in report.labels:
        cats = item.get("categories") or []
        table.add_row(
            _txt(entity_text(None, item.get("actor"), item.get("label"))),
            _txt(", ".join(category_name(clean(c), lang) for c in cats)),
            _txt(item.get("confidence")),
            _txt(item.get("source")),
            _txt(item.get("pack")),
        )
    return [_heading(t("own_labels", lang)), table]


def _exposures(report: Report, lang: str) -> list[RenderableType]:
    """One line per finding (entity, direction) with its categories and its rating reason,
    then per direction one compact line naming the categories with nothing within max_hops."""
    parts: list[RenderableType] = [_heading(t("findings", lang))]
    findings = report.findings()
    if findings:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        table.add_column(t("direction", lang), overflow="fold")
        table.add_column(t("entity", lang), overflow="fold")
        table.add_column(t("categories", lang), overflow="fold")
        table.add_column(t("hops", lang), justify="right", no_wrap=True)
        table.add_column(t("rating_reason", lang), overflow="fold")
        table.add_column(t("confidence", lang), overflow="fold")
        table.add_column(t("share", lang), justify="right", no_wrap=True)
        table.add_column(t("value", lang), justify="right")
        for f in findings:
            e = f.exposure
            table.add_row(
                Text(direction_name(f.direction, lang)),
                _txt(entity_text(e.actor_label, e.actor, e.label), "bold"),
                Text(categories_text(f.categories, lang)),
                Text(str(f.hops), style="bold"),
                Text(reason_text(f.reason, lang)),
                _txt(confidence_text(e.confidence, e.confidence_level, lang)),
                Text(fmt_share(e.share)),
                Text(fmt_value(e.value, report.value_unit)),
            )
        parts.append(table)
    for direction in ("in", "out"):
        empty = [e.category for e in report.exposures
                 if e.direction == direction and e.hops is None]
        if empty:
            line = Text(f"{t('nothing_within', lang, n=report.max_hops)} "
                        f"({direction_name(direction, lang)}): ", style="dim")
            line.append(", ".join(category_name(clean(c), lang) for c in empty), style="dim")
            parts.append(line)
    parts.append(Text(""))
    return parts


def _path(report: Report, f: Finding, lang: str) -> list[RenderableType]:
    e = f.exposure
    title = Text()
    title.append_text(_txt(entity_text(e.actor_label, e.actor, e.label), "bold"))
    title.append(f" · {direction_name(f.direction, lang)} · {hops_text(f.hops, lang)} · "
                 f"{categories_text(f.categories, lang)}")
    details = []
    if e.address:
        details.append((t("labelled_address", lang), _txt(e.address)))
    if e.serves_mainland:
        details.append((t("serves_mainland", lang),
                        Text(serves_mainland_name(e.serves_mainland, lang))))
    if e.source:
        details.append((t("source", lang), _txt(e.source)))
    if e.pack:
        details.append((t("pack", lang), _txt(e.pack)))
    if e.evidence:
        details.append((t("evidence", lang), _txt(e.evidence)))
    parts: list[RenderableType] = [Text(""), title]
    if details:
        parts.append(Padding(_kv_table(details), (0, 0, 0, 2)))
    if not e.path:
        parts.append(Padding(Text(t("self_labelled", lang), style="italic"), (0, 0, 0, 2)))
        return parts
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", style="bold")
    grid.add_column(overflow="fold")
    for i, hop in enumerate(e.path, start=1):
        route = _txt(hop.from_address)
        route.append(" → ")
        route.append_text(_txt(hop.to_address))
        detail = Text(hop_amount(hop) + " ")
        detail.append_text(_txt(hop.asset, "bold"))
        detail.append(f" · {fmt_time(hop.block_time)} UTC · {t('block', lang)} {hop.block_number}"
                      f" · {t('tx', lang)} ")
        detail.append_text(_txt(short(hop.tx_hash, 10, 8)))
        ref = tx_ref(hop.log_index, hop.vout, hop.trace_address)
        if ref:
            detail.append(f" ({ref})", style="dim")
        grid.add_row(f"{i}.", route)
        grid.add_row("", detail)
    parts.append(Padding(grid, (0, 0, 0, 2)))
    return parts


def _paths(report: Report, lang: str) -> list[RenderableType]:
    findings = report.findings()
    if not findings:
        return []
    parts: list[RenderableType] = [_heading(t("evidence_paths", lang))]
    for f in findings:
        parts.extend(_path(report, f, lang))
    return parts


def _activity(report: Report, lang: str) -> list[RenderableType]:
    a = report.activity
    parts: list[RenderableType] = [_heading(t("activity", lang))]
    if not a.seen:
        parts.append(Text(t("never_seen", lang), style="yellow"))
        parts.append(_kv_table([(t("indexed_range", lang),
                                 _txt(indexed_range_text(report, lang)))]))
        return parts
    parts.append(_kv_table([
        (t("first_seen", lang), _txt(fmt_time(a.first_seen))),
        (t("last_seen", lang), _txt(fmt_time(a.last_seen))),
        (t("counterparties", lang), _txt(f"{a.counterparties_in} / {a.counterparties_out}")),
        (t("indexed_range", lang), _txt(indexed_range_text(report, lang))),
    ]))
    if a.assets:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        for key, justify in (("asset", "left"), ("direction", "left"), ("transfers", "right"),
                             ("amount", "right"), ("value", "right")):
            table.add_column(t(key, lang), justify=justify)
        for item in a.assets:
            table.add_row(
                _txt(item.asset), Text(direction_name(item.direction, lang)),
                Text(f"{item.transfers:,}"), Text(fmt_amount(item.amount)),
                Text(fmt_value(item.value, report.value_unit)),
            )
        parts.append(table)
    return parts


def _stop_nodes(report: Report, lang: str) -> list[RenderableType]:
    parts: list[RenderableType] = [_heading(t("stop_nodes", lang))]
    if not report.stop_nodes:
        parts.append(Text(t("no_stop_nodes", lang), style="dim"))
        return parts
    parts.append(Text(t("stop_nodes_note", lang), style="dim"))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column(t("address", lang))
    table.add_column(t("direction", lang))
    table.add_column(t("degree", lang), justify="right")
    for s in report.stop_nodes:
        table.add_row(_txt(s.address), Text(direction_name(s.direction, lang)),
                      Text(f"{s.degree:,}"))
    parts.append(table)
    return parts


def _data_state(report: Report, lang: str) -> list[RenderableType]:
    ds = report.data_state or {}
    parts: list[RenderableType] = [_heading(t("data_state", lang))]
    indexed = dict_rows(ds.get("indexed"))
    if indexed:
        table = Table(title=t("indexed_blocks", lang), title_justify="left", box=box.SIMPLE_HEAD,
                      show_edge=False)
        table.add_column(t("chain", lang))
        table.add_column(t("stream", lang))
        table.add_column(t("first_block", lang), justify="right")
        table.add_column(t("last_block", lang), justify="right")
        for row in indexed:
            table.add_row(_txt(row.get("chain")), _txt(row.get("stream")),
                          _txt(row.get("first_block")), _txt(row.get("last_block")))
        parts.append(table)
    packs = dict_rows(ds.get("label_packs"))
    if packs:
        table = Table(title=t("label_packs", lang), title_justify="left", box=box.SIMPLE_HEAD,
                      show_edge=False)
        table.add_column(t("pack_title", lang))
        table.add_column(t("version", lang))
        table.add_column(t("tags", lang), justify="right")
        for pack in packs:
            title = _txt(pack.get("title") or pack.get("name"))
            if pack.get("demo"):
                title.append(f" [{t('demo', lang)}]", style="bold yellow")
            table.add_row(title, _txt(pack_version(pack)), _txt(pack.get("tags")))
        parts.append(table)
    whole = label_set_line(ds, lang)
    if whole:
        parts.append(_kv_table([(t("label_set", lang), _txt(whole))]))
    rows = settings_rows(ds, lang)
    if rows:
        parts.append(Text(t("filters", lang), style="italic"))
        parts.append(_kv_table((k, _txt(v)) for k, v in rows))
    return parts


def render_text(report: Report, lang: str = "en") -> Group:
    """The whole report as one rich renderable (print it on any Console)."""
    parts: list[RenderableType] = []
    parts.append(Panel(Group(*_summary(report, lang)), box=box.HEAVY, expand=False))
    parts.extend(_own_labels(report, lang))
    parts.extend(_exposures(report, lang))
    parts.extend(_paths(report, lang))
    parts.extend(_activity(report, lang))
    parts.extend(_stop_nodes(report, lang))
    parts.extend(_data_state(report, lang))
    parts.append(Text(""))
    parts.append(Text(t("disclaimer", lang), style="dim italic"))
    return Group(*parts)


def print_report(report: Report, console: Console | None = None, lang: str = "en") -> None:
    """Print the report on ``console`` (default: a new Console on stdout)."""
    (console or Console()).print(render_text(report, lang))
