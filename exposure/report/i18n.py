"""Officer-facing words of the reports, in English and Simplified Chinese (zh-CN), and the few
formatting rules every rendering shares (numbers, times, shortened hashes, untrusted text).

Everything a report says in words comes from :data:`STRINGS` through :func:`t`; category,
direction, level, exposure-type and serves-mainland values have their own lookups. An unknown key
falls back to English, then to the key itself, so a new category from a user's pack still shows.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Hop, Reason, Report

LANGS = ("en", "zh")

#: key -> {lang: text}. ``{name}`` fields are filled by :func:`t`'s keyword arguments.
STRINGS: dict[str, dict[str, str]] = {
    # -- screening categories (DESIGN.md section 5) --------------------------------------------
    "category.mainland_exchange": {
        "en": "exchange serving mainland-China residents",
        "zh": "服务中国大陆居民的虚拟货币交易所",
    },
    "category.rwa": {"en": "RWA token issuer or token", "zh": "现实世界资产(RWA)代币发行方"},
    "category.exchange": {"en": "exchange", "zh": "虚拟货币交易所"},
    "category.hk_licensed_exchange": {
        "en": "exchange licensed by the Hong Kong SFC",
        "zh": "香港证监会持牌平台",
    },
    "category.sanction": {"en": "sanctioned", "zh": "制裁名单"},
    "category.mixing_service": {"en": "mixing service", "zh": "混币服务"},
    "category.stablecoin_issuer": {"en": "stablecoin issuer", "zh": "稳定币发行方"},
    "category.defi_bridge": {"en": "DeFi bridge", "zh": "跨链桥"},
    "category.mining_service": {"en": "mining service", "zh": "挖矿服务"},
    "category.gambling": {"en": "gambling", "zh": "赌博"},
    "category.scam": {"en": "scam", "zh": "诈骗"},
    "category.ransomware": {"en": "ransomware", "zh": "勒索软件"},
    "category.hacking": {"en": "hacking", "zh": "黑客攻击"},
    "category.market": {"en": "darknet market", "zh": "暗网市场"},
    # -- directions, levels, exposure types, serves_mainland ------------------------------------
    "direction.in": {"en": "source of funds", "zh": "资金来源"},
    "direction.out": {"en": "destination of funds", "zh": "资金去向"},
    "direction_short.in": {"en": "in", "zh": "来源"},
    "direction_short.out": {"en": "out", "zh": "去向"},
    "level.none": {"en": "none", "zh": "无"},
    "level.low": {"en": "low", "zh": "低"},
    "level.medium": {"en": "medium", "zh": "中"},
    "level.high": {"en": "high", "zh": "高"},
    "exposure_type.direct": {"en": "direct", "zh": "直接"},
    "exposure_type.indirect": {"en": "indirect", "zh": "间接"},
    "serves_mainland.yes": {"en": "serves mainland-China residents", "zh": "服务中国大陆居民"},
    "serves_mainland.reported": {
        "en": "reported to serve mainland-China residents (unverified)",
        "zh": "据公开报道服务中国大陆居民（未经核实）",
    },
    "serves_mainland.no": {"en": "does not serve mainland-China residents",
                           "zh": "不服务中国大陆居民"},
    "serves_mainland.unknown": {"en": "unknown", "zh": "未知"},
    # -- headings and field names ---------------------------------------------------------------
    "title": {"en": "Crypto address exposure report", "zh": "虚拟货币地址关联风险筛查报告"},
    "summary": {"en": "Summary", "zh": "摘要"},
    "address": {"en": "Address", "zh": "地址"},
    "chain": {"en": "Chain", "zh": "区块链"},
    "screened_at": {"en": "Screened at", "zh": "筛查时间"},
    "max_hops": {"en": "Maximum hops", "zh": "最大跳数"},
    "rating": {"en": "Rating", "zh": "风险评级"},
    "policy": {"en": "Policy", "zh": "评级规则"},
    "reasons": {"en": "Reasons", "zh": "评级依据"},
    "no_reasons": {"en": "No rule of the policy fired.", "zh": "评级规则均未触发。"},
    "own_labels": {"en": "Labels of the screened address", "zh": "被筛查地址自身的标签"},
    "activity": {"en": "Activity", "zh": "地址活动"},
    "first_seen": {"en": "First seen", "zh": "首次出现"},
    "last_seen": {"en": "Last seen", "zh": "最近出现"},
    "indexed_range": {"en": "Indexed data", "zh": "已索引数据"},
    "blocks_range": {"en": "{chain} blocks {first}-{last}", "zh": "{chain} 区块 {first}–{last}"},
    "counterparties": {"en": "Counterparties (in / out)", "zh": "交易对手数（来源 / 去向）"},
    "asset": {"en": "Asset", "zh": "资产"},
    "direction": {"en": "Direction", "zh": "方向"},
    "transfers": {"en": "Transfers", "zh": "转账笔数"},
    "amount": {"en": "Amount", "zh": "数量"},
    "value": {"en": "Value", "zh": "价值"},
    "exposures": {"en": "Exposures", "zh": "风险关联"},
    "category": {"en": "Category", "zh": "类别"},
    "hops": {"en": "Hops", "zh": "跳数"},
    "type": {"en": "Type", "zh": "类型"},
    "entity": {"en": "Entity / label", "zh": "实体 / 标签"},
    "labelled_address": {"en": "Labelled address", "zh": "被标记地址"},
    "confidence": {"en": "Confidence", "zh": "可信度"},
    "source": {"en": "Source", "zh": "来源"},
    "pack": {"en": "Label pack", "zh": "标签包"},
    "serves_mainland": {"en": "Serves mainland", "zh": "是否服务中国大陆居民"},
    "evidence": {"en": "Evidence", "zh": "依据"},
    "share": {"en": "Share", "zh": "占比"},
    "nothing_within": {"en": "Nothing within {n} hops", "zh": "{n} 跳内未发现"},
    "evidence_paths": {"en": "Evidence paths", "zh": "证据路径"},
    "evidence_graph": {"en": "Evidence graph", "zh": "证据图"},
    "graph_note": {
        "en": "Arrows show the direction the money moved: sources of funds on the left, "
              "destinations on the right.",
        "zh": "箭头表示资金流动方向：左侧为资金来源，右侧为资金去向。",
    },
    "hop": {"en": "Hop", "zh": "跳"},
    "n_hops": {"en": "{n} hops", "zh": "{n} 跳"},
    "one_hop": {"en": "1 hop", "zh": "1 跳"},
    "from": {"en": "From", "zh": "转出方"},
    "to": {"en": "To", "zh": "转入方"},
    "time": {"en": "Time (UTC)", "zh": "时间（UTC）"},
    "block": {"en": "Block", "zh": "区块"},
    "tx": {"en": "Transaction", "zh": "交易哈希"},
    "self_labelled": {
        "en": "The screened address itself carries this label (0 hops).",
        "zh": "被筛查地址本身即带有该标签（0 跳）。",
    },
    "edge_transfers": {"en": "{n} transfers on this edge", "zh": "该边共 {n} 笔转账"},
    "screened_node": {"en": "screened address", "zh": "被筛查地址"},
    "intermediate_node": {"en": "unlabelled intermediary", "zh": "未标记的中间地址"},
    "legend": {"en": "Legend", "zh": "图例"},
    "stop_nodes": {"en": "Stop nodes", "zh": "停止节点"},
    "stop_nodes_note": {
        "en": "Unlabelled high-degree addresses (routers, token contracts, unknown services) the "
              "walk did not pass through.",
        "zh": "未被穿越的未标记高连接度地址（路由合约、代币合约、未知服务等）。",
    },
    "degree": {"en": "Counterparties", "zh": "交易对手数"},
    "no_stop_nodes": {"en": "The walk met no stop node.", "zh": "遍历未遇到停止节点。"},
    "data_state": {"en": "Data state", "zh": "数据状态"},
    "indexed_blocks": {"en": "Indexed blocks", "zh": "已索引区块"},
    "stream": {"en": "Stream", "zh": "数据流"},
    "first_block": {"en": "First block", "zh": "起始区块"},
    "last_block": {"en": "Last block", "zh": "最新区块"},
    "label_packs": {"en": "Label packs", "zh": "标签包"},
    "pack_title": {"en": "Title", "zh": "名称"},
    "version": {"en": "Version (date, sha256)", "zh": "版本（日期，sha256）"},
    "tags": {"en": "Tags", "zh": "标签数"},
    "demo": {"en": "demo data", "zh": "演示数据"},
    "shipped": {"en": "shipped", "zh": "内置"},
    "filters": {"en": "Filters and settings", "zh": "过滤条件与设置"},
    "setting.dust_usd": {"en": "Dust threshold (USD per transfer)",
                         "zh": "粉尘阈值（每笔美元）"},
    "setting.dust_units": {"en": "Dust thresholds per asset (units)",
                           "zh": "各资产粉尘阈值（单位）"},
    "setting.prices": {"en": "Reference prices (USD)", "zh": "参考价格（美元）"},
    "setting.start": {"en": "Window start", "zh": "时间窗口起点"},
    "setting.end": {"en": "Window end", "zh": "时间窗口终点"},
    "setting.degree_cap": {"en": "Degree cap (stop nodes)", "zh": "连接度上限（停止节点）"},
    "setting.entities": {"en": "Bitcoin address clusters (common-input ownership)",
                         "zh": "比特币地址聚类（共同输入所有权）"},
    "open": {"en": "open", "zh": "不限"},
    "none": {"en": "none", "zh": "无"},
    # -- the two "nothing" outcomes, kept distinct -----------------------------------------------
    "never_seen": {
        "en": "Address never seen in the indexed data",
        "zh": "该地址未出现在已索引的数据中",
    },
    "never_seen_detail": {
        "en": "No transfer to or from this address exists in the indexed data ({range}); "
              "this is not the same as having no exposure.",
        "zh": "已索引数据（{range}）中没有与该地址相关的转账记录；这不等同于没有风险关联。",
    },
    "no_exposure": {
        "en": "No exposure found within {n} hops",
        "zh": "在 {n} 跳内未发现风险关联",
    },
    "disclaimer": {
        "en": "This report is based only on the data state stated above (the indexed blocks and "
              "the label packs with their versions) and on the attributions of those labels; a "
              "missing label is not evidence of no exposure. Use it as one input to a "
              "due-diligence decision, not as a finding of fact.",
        "zh": "本报告仅基于上文所列的数据状态（已索引区块及标签包版本）以及这些标签的归属信息；"
              "未被标记并不代表不存在风险关联。本报告仅作为尽职调查决策的参考依据之一，"
              "不构成事实认定。",
    },
    "generated_by": {"en": "Generated by exposure", "zh": "由 exposure 生成"},
    # -- rating reasons (see reason_text) --------------------------------------------------------
    "reason_rule": {"en": "rule {rule}", "zh": "规则 {rule}"},
    "reason_max_hops": {"en": "within {max}", "zh": "{max}以内"},
    "reason_min_share": {"en": "share {share} ≥ {min}", "zh": "占比 {share} ≥ {min}"},
    "reason_any": {"en": "found", "zh": "发现即触发"},
    "confidence_of": {"en": "{name} confidence {level}", "zh": "可信度：{name} {level}"},
    "reason_at": {"en": "{direction}, {hops}", "zh": "{direction}，{hops}"},
    "transfer": {"en": "Transfer (from ↓ to)", "zh": "转账（转出方 ↓ 转入方）"},
    "findings": {"en": "Findings", "zh": "发现事项"},
    "categories": {"en": "Categories", "zh": "类别"},
    "rating_reason": {"en": "Rating reason", "zh": "评级依据"},
    "no_rule": {"en": "no rule fired", "zh": "未触发评级规则"},
    "direction.self": {"en": "the address itself", "zh": "该地址本身"},
    "evidence_of": {"en": "Evidence of", "zh": "证据对应"},
    # -- the verdict (see verdict.py) ------------------------------------------------------------
    "verdict": {"en": "Verdict", "zh": "结论"},
    "verdict.dir.in": {"en": "Source of funds", "zh": "资金来源"},
    "verdict.dir.out": {"en": "Destination of funds", "zh": "资金去向"},
    "verdict.self": {"en": "This address is itself a wallet of {who}{detail}.",
                     "zh": "该地址本身即为 {who}{detail}的钱包。"},
    "verdict.in.direct": {
        "en": "{dir}: received {amount} directly ({hops}) from {who}{detail}.",
        "zh": "{dir}：直接（{hops}）收到来自 {who}{detail}的 {amount}。",
    },
    "verdict.in.indirect": {
        "en": "{dir}: {amount} from {who}{detail}, reached this address through {via} "
              "({hops}).",
        "zh": "{dir}：来自 {who}{detail}的 {amount} 经{via}（{hops}）转入该地址。",
    },
    "verdict.out.direct": {
        "en": "{dir}: sent {amount} directly ({hops}) to {who}{detail}.",
        "zh": "{dir}：直接（{hops}）向 {who}{detail}转出 {amount}。",
    },
    "verdict.out.indirect": {
        "en": "{dir}: sent {amount} that reached {who}{detail}, through {via} ({hops}).",
        "zh": "{dir}：该地址转出的 {amount} 经{via}（{hops}）到达 {who}{detail}。",
    },
    "verdict.via_one": {"en": "1 intermediary address", "zh": " 1 个中间地址"},
    "verdict.via_n": {"en": "{k} intermediary addresses", "zh": " {k} 个中间地址"},
    "verdict.source": {"en": "source {source}", "zh": "来源 {source}"},
    "verdict.also": {"en": " Also within {n} hops: {items}.", "zh": "{n} 跳内另有：{items}。"},
    "verdict.also_item": {"en": "{who} ({categories}, {hops})",
                          "zh": "{who}（{categories}，{hops}）"},
    "verdict.nothing": {"en": "{dir}: nothing within {n} hops.", "zh": "{dir}：{n} 跳内未发现。"},
    "verdict.nothing_else": {"en": "{dir}: nothing else within {n} hops.",
                             "zh": "{dir}：{n} 跳内未发现其他关联。"},
    "verdict.stopped_one": {
        "en": " The walk did not pass through 1 high-degree address (see Stop nodes).",
        "zh": "遍历未穿越 1 个高连接度地址（见停止节点）。",
    },
    "verdict.stopped_n": {
        "en": " The walk did not pass through {k} high-degree addresses (see Stop nodes).",
        "zh": "遍历未穿越 {k} 个高连接度地址（见停止节点）。",
    },
    "verdict.not_screened": {"en": "{dir}: not screened.", "zh": "{dir}：未筛查。"},
    "verdict.unseen": {
        "en": "This address has no transfer in the indexed data ({range}): its sources and "
              "destinations of funds are unknown, which is not the same as no exposure.",
        "zh": "该地址在已索引数据（{range}）中没有任何转账：其资金来源与去向未知，"
              "这不等同于没有风险关联。",
    },
    "what.mainland_exchange.yes": {"en": "an exchange serving mainland-China residents",
                                   "zh": "服务中国大陆居民的虚拟货币交易所"},
    "what.mainland_exchange.reported": {
        "en": "an exchange reported to serve mainland-China residents",
        "zh": "据公开报道服务中国大陆居民的虚拟货币交易所",
    },
    "what.mainland_exchange": {"en": "an exchange serving mainland-China residents",
                               "zh": "服务中国大陆居民的虚拟货币交易所"},
    "what.rwa": {"en": "an RWA token issuer or token", "zh": "现实世界资产(RWA)代币发行方或代币"},
    "what.exchange": {"en": "an exchange", "zh": "虚拟货币交易所"},
    "what.hk_licensed_exchange": {"en": "an exchange licensed by the Hong Kong SFC",
                                  "zh": "香港证监会持牌平台"},
    "what.sanction": {"en": "a sanctioned party", "zh": "制裁名单所列对象"},
    "what.mixing_service": {"en": "a mixing service", "zh": "混币服务"},
    "what.stablecoin_issuer": {"en": "a stablecoin issuer", "zh": "稳定币发行方"},
    "what.defi_bridge": {"en": "a DeFi bridge", "zh": "跨链桥"},
    "what.mining_service": {"en": "a mining service", "zh": "挖矿服务"},
    "what.other": {"en": "labelled {category}", "zh": "被标记为{category}的对象"},
    # -- data state summary ------------------------------------------------------------------------
    "label_set": {"en": "Whole label set", "zh": "全部标签集"},
    "label_set_text": {
        "en": "{packs} packs, {tags} tags; sha256 {sha256} (the packs above are those whose "
              "labels this report uses)",
        "zh": "共 {packs} 个标签包、{tags} 条标签；sha256 {sha256}"
              "（上表仅列出本报告所用标签所属的标签包）",
    },
}

_GRAPHSENSE_CONFIDENCE = {
    "ownership": "所有权证明",
    "authority_data": "权威机构数据",
    "forensic": "取证分析",
    "service_data": "服务方数据",
    "web_crawl": "网络抓取",
    "heuristic": "启发式推断",
}


def norm_lang(lang: str | None) -> str:
    """``en`` or ``zh`` from any spelling (``zh-CN``, ``zh_cn``, ``ZH``...); default English."""
    text = (lang or "en").lower().replace("_", "-")
    return "zh" if text.startswith("zh") else "en"


def html_lang(lang: str | None) -> str:
    """The BCP 47 tag of the page (``zh-CN`` or ``en``)."""
    return "zh-CN" if norm_lang(lang) == "zh" else "en"


def _lookup(key: str, lang: str | None) -> str | None:
    entry = STRINGS.get(key)
    if entry is None:
        return None
    return entry.get(norm_lang(lang)) or entry.get("en")


def t(key: str, lang: str | None = "en", **values: object) -> str:
    """The text of ``key`` in ``lang`` (unknown: English, then the key), ``{fields}`` filled."""
    text = _lookup(key, lang)
    if text is None:
        return key
    return text.format(**values) if values else text


def category_name(category: str, lang: str | None = "en") -> str:
    """The officer-facing name of a screening category (unknown: the category itself)."""
    return _lookup(f"category.{category}", lang) or category


def direction_name(direction: str, lang: str | None = "en") -> str:
    """``in`` -> source of funds, ``out`` -> destination of funds."""
    return _lookup(f"direction.{direction}", lang) or direction


def level_name(level: str, lang: str | None = "en") -> str:
    """A rating level's name (unknown levels of a custom policy: as they are)."""
    return _lookup(f"level.{level}", lang) or level


def exposure_type_name(kind: str | None, lang: str | None = "en") -> str:
    """``direct`` / ``indirect`` (None: a dash)."""
    if not kind:
        return "—"
    return _lookup(f"exposure_type.{kind}", lang) or kind


def serves_mainland_name(value: str | None, lang: str | None = "en") -> str:
    """The serves_mainland attribute in words (None: a dash)."""
    if not value:
        return "—"
    return _lookup(f"serves_mainland.{value}", lang) or value


def confidence_text(confidence: str | None, level: int | None, lang: str | None = "en") -> str:
    """A label's confidence, e.g. ``ownership (100)``; Chinese adds the meaning of known ids."""
    if not confidence and level is None:
        return "—"
    name = clean(confidence or "")
    if norm_lang(lang) == "zh" and name in _GRAPHSENSE_CONFIDENCE:
        name = _GRAPHSENSE_CONFIDENCE[name]
    return f"{name} ({level})" if level is not None else name


def categories_text(categories: tuple[str, ...] | list[str], lang: str | None = "en") -> str:
    """A finding's categories, listed together in the report's language."""
    sep = "、" if norm_lang(lang) == "zh" else ", "
    return sep.join(category_name(clean(c), lang) for c in categories)


def hops_text(hops: int | None, lang: str | None = "en") -> str:
    """``1 hop``, ``2 hops`` / ``2 跳`` (None: a dash)."""
    if hops is None:
        return "—"
    return t("one_hop", lang) if hops == 1 else t("n_hops", lang, n=hops)


def reason_text(reason: Reason | None, lang: str | None = "en", *,
                full: bool = False) -> str:
    """A rating reason in words: its level, the rule's number and the bounds it met, e.g.
    ``high · rule 2: share 35.0% ≥ 10%``; ``full`` adds the category, direction and hops (for
    use outside a finding's row). ``None``: no rule fired."""
    if reason is None:
        return t("no_rule", lang)
    zh = norm_lang(lang) == "zh"
    bounds = []
    if reason.max_hops is not None:
        bounds.append(t("reason_max_hops", lang, max=hops_text(reason.max_hops, lang)))
    if reason.min_share is not None:
        bounds.append(t("reason_min_share", lang, share=fmt_share(reason.share),
                        min=f"{reason.min_share:.0%}"))
    if not bounds:
        bounds.append(t("reason_any", lang))
    text = (f"{level_name(reason.level, lang)} · {t('reason_rule', lang, rule=reason.rule)}"
            + ("：" if zh else ": ") + ("，" if zh else ", ").join(bounds))
    if full:
        where = (f"{category_name(reason.category, lang)}, "
                 f"{direction_name(reason.direction, lang)}, {hops_text(reason.hops, lang)}")
        text += f"（{where}）" if zh else f" ({where})"
    return text


# -- shared formatting -------------------------------------------------------------------------
def clean(text: object) -> str:
    """Untrusted text (label packs) made safe to show on one line: every control or format
    character (newlines, ESC, bidi overrides, zero-width marks) becomes a space.

    Escaping for the output format (HTML, Markdown) is the renderer's job on top of this.
    """
    if text is None:
        return ""
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text)
    )


def fmt_amount(amount: float | None) -> str:
    """A display amount from a float (a derived figure, e.g. a sum): thousands separated, at
    most 6 decimals and the 15 significant digits a float holds (never its binary noise: a sum
    of 123456789012.345 stored as ...012.34499 prints 123,456,789,012.345), tiny values in 3
    digits. Amounts of single transfers: :func:`hop_amount` (exact)."""
    if amount is None:
        return "—"
    if amount != 0 and abs(amount) < 1e-6:
        return f"{amount:.3g}"
    try:
        exact = Decimal(format(float(amount), ".15g")).quantize(Decimal("0.000001"))
    except (InvalidOperation, ValueError):
        return clean(amount)
    return _grouped(exact)


def _grouped(value: Decimal) -> str:
    """``value`` with thousands separators and no trailing zeros (``-0``: ``0``)."""
    text = f"{value:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def exact_amount(raw: object, decimals: int | None) -> str | None:
    """The exact amount of ``raw`` base units with ``decimals`` (e.g. ``"8062710000"``, 6 ->
    ``8,062.71``), never through a float; None if either is missing or malformed."""
    if decimals is None or not isinstance(raw, str | int):
        return None
    text = str(raw).strip()
    if not text.isdigit() or not isinstance(decimals, int) or not 0 <= decimals <= 255:
        return None
    digits = tuple(int(d) for d in text.lstrip("0") or "0")
    return _grouped(Decimal((0, digits, -decimals)))  # exact: no context rounding


def hop_amount(hop: Hop) -> str:
    """A transfer's amount, exact from ``amount_raw`` and ``decimals`` (older reports without
    decimals: from the display float)."""
    return exact_amount(hop.amount_raw, hop.decimals) or fmt_amount(hop.amount)


def fmt_value(value: float | None, unit: str) -> str:
    """A value in the valuation unit, two decimals."""
    if value is None:
        return "—"
    return f"{value:,.2f} {clean(unit)}"


def fmt_share(share: float | None) -> str:
    """A share as a percentage with one decimal (below 0.1% but above 0: ``<0.1%``)."""
    if share is None:
        return "—"
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{share:.1%}"


def _parse_time(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def fmt_time(value: str | None) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS`` UTC (unparseable: as it is)."""
    if not value:
        return "—"
    parsed = _parse_time(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S") if parsed else clean(value)


def fmt_date(value: str | None) -> str:
    """An ISO time as its UTC date."""
    if not value:
        return "—"
    parsed = _parse_time(value)
    return parsed.strftime("%Y-%m-%d") if parsed else clean(value)


def short(text: str | None, head: int = 6, tail: int = 4) -> str:
    """A long hash or address as ``0x1234…abcd`` (short ones as they are)."""
    if not text:
        return "—"
    text = clean(text)
    return text if len(text) <= head + tail + 1 else f"{text[:head]}…{text[-tail:]}"


def truncate(text: str | None, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    text = clean(text)
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def entity_text(actor_label: str | None, actor: str | None, label: str | None) -> str:
    """Who was reached: the actor's name (or id) and the tag's label, de-duplicated."""
    who = clean(actor_label or actor or "")
    what = clean(label or "")
    if who and what and what != who:
        return f"{who} · {what}"
    return who or what or "—"


def tx_ref(log_index: int | None, vout: int | None, trace: str | None) -> str:
    """Where in the transaction the transfer is: ``log 3``, ``vout 1``, ``trace 0,1`` or ''."""
    if log_index is not None:
        return f"log {log_index}"
    if vout is not None:
        return f"vout {vout}"
    if trace:
        return f"trace {clean(trace)}"
    return ""


def setting_text(value: object, lang: str | None = "en") -> str:
    """A settings value on one line: pairs as ``ETH 3000``, None as 'open', lists joined."""
    if value is None or value == "":
        return t("open", lang)
    if isinstance(value, list | tuple):
        if not value:
            return t("none", lang)
        items = []
        for item in value:
            if isinstance(item, list | tuple) and len(item) == 2:
                items.append(f"{clean(item[0])} {clean(item[1])}")
            else:
                items.append(clean(item))
        return ", ".join(items)
    if isinstance(value, dict):
        return clean(json.dumps(value, ensure_ascii=False, default=str, sort_keys=True))
    return clean(value)


def dict_rows(value: object) -> list[dict]:
    """The dict items of a list in ``data_state`` (anything else: none)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def pack_version(pack: dict) -> str:
    """A label pack's version: its date and the start of its sha256."""
    return " ".join(clean(v) for v in (pack.get("lastmod"), pack.get("sha256")) if v) or "—"


#: data_state keys with their own section (the rest are shown as settings rows).
_DATA_STATE_SECTIONS = frozenset({"chain", "indexed", "label_packs", "label_set", "settings",
                                  "max_hops"})


def label_set_line(data_state: dict, lang: str | None = "en") -> str | None:
    """The whole label set in one line (counts and digest), or None if the state has none."""
    ls = data_state.get("label_set")
    if not isinstance(ls, dict):
        return None
    return t("label_set_text", lang, packs=clean(ls.get("packs")), tags=clean(ls.get("tags")),
             sha256=clean(ls.get("sha256")))


def settings_rows(data_state: dict, lang: str | None = "en") -> list[tuple[str, str]]:
    """The filters and settings of ``data_state`` as (name, value) rows, in a stable order."""
    rows: list[tuple[str, str]] = []
    settings = data_state.get("settings")
    if isinstance(settings, dict):
        rows.extend((t(f"setting.{k}", lang), setting_text(v, lang)) for k, v in settings.items())
    for key, value in data_state.items():
        if key not in _DATA_STATE_SECTIONS:
            rows.append((t(key, lang) if key in STRINGS else clean(key), setting_text(value, lang)))
    return rows


def indexed_range_text(report: Report, lang: str | None = "en") -> str:
    """The indexed block range of the report's chain in words, from ``data_state['indexed']``
    (all streams), else the activity's own ``indexed_range`` text."""
    rows = [r for r in dict_rows((report.data_state or {}).get("indexed"))
            if r.get("chain") == report.chain]
    firsts = [r["first_block"] for r in rows if isinstance(r.get("first_block"), int)]
    lasts = [r["last_block"] for r in rows if isinstance(r.get("last_block"), int)]
    if firsts and lasts:
        return t("blocks_range", lang, chain=clean(report.chain), first=min(firsts),
                 last=max(lasts))
    return clean(report.activity.indexed_range) if report.activity.indexed_range else "—"
