"""The verdict: what a report found, in one sentence per direction, in the report's language.

It opens every rendering (text, Markdown, HTML, PDF) and is the ``verdict`` key of the JSON.
Built from the report's findings (:meth:`~exposure.report.model.Report.findings`): the screened
address itself labelled (0 hops) is one sentence; then per screened direction the top finding
(highest rated, then nearest) with the transfer that proves it, who was reached, what they are
and how sure the label is, the others named briefly; a direction with nothing says so, and says
when the walk stopped at high-degree addresses.
"""

from __future__ import annotations

from typing import Any

from .i18n import (
    category_name,
    clean,
    confidence_text,
    hop_amount,
    hops_text,
    html_lang,
    indexed_range_text,
    norm_lang,
    t,
)
from .model import Exposure, Finding, Report


def who(e: Exposure) -> str:
    """The entity reached, for a sentence: the actor's name, else the label, else the address."""
    return clean(e.actor_label or e.actor or e.label or e.address or "—")


def what(finding: Finding, lang: str) -> str:
    """What the entity is: the phrase of its first category (mainland-serving exchanges say
    whether that is reported or confirmed)."""
    category = finding.categories[0]
    e = finding.exposure
    if category == "mainland_exchange" and e.serves_mainland in ("yes", "reported"):
        return t(f"what.mainland_exchange.{e.serves_mainland}", lang)
    text = t(f"what.{category}", lang)
    if text == f"what.{category}":  # a category without a phrase: its name
        return t("what.other", lang, category=category_name(category, lang))
    return text


def how(e: Exposure, lang: str) -> str:
    """How sure: the label's confidence and its source."""
    parts = []
    if e.confidence or e.confidence_level is not None:
        name = confidence_text(e.confidence, None, lang)
        parts.append(t("confidence_of", lang, name=name, level=e.confidence_level)
                     if e.confidence_level is not None else name)
    if e.source:
        parts.append(t("verdict.source", lang, source=clean(e.source)))
    return ("；" if norm_lang(lang) == "zh" else "; ").join(parts)


def _entity(finding: Finding, lang: str) -> dict[str, str]:
    e = finding.exposure
    sure = how(e, lang)
    zh = norm_lang(lang) == "zh"
    if zh:
        detail = f"{what(finding, lang)}；{sure}" if sure else what(finding, lang)
        return {"who": who(e), "detail": f"（{detail}）"}
    detail = f", {what(finding, lang)}" + (f" ({sure})" if sure else "")
    return {"who": who(e), "detail": detail}


def _amount(e: Exposure, direction: str) -> str:
    """The transfer that shows the flow: what left the entity (in) or the screened address
    (out), i.e. the first hop in the order the money moved."""
    if not e.path:
        return "—"
    hop = e.path[0]
    return f"{hop_amount(hop)} {clean(hop.asset)}"


def _finding_sentence(finding: Finding, lang: str) -> str:
    e = finding.exposure
    parts = _entity(finding, lang)
    if finding.direction == "self":
        return t("verdict.self", lang, **parts)
    n = finding.hops
    key = f"verdict.{finding.direction}.{'direct' if n <= 1 else 'indirect'}"
    via = t("verdict.via_one" if n - 1 == 1 else "verdict.via_n", lang, k=n - 1)
    return t(key, lang, amount=_amount(e, finding.direction), via=via,
             hops=hops_text(n, lang), dir=t(f"verdict.dir.{finding.direction}", lang), **parts)


def _also(findings: list[Finding], report: Report, lang: str) -> str:
    if not findings:
        return ""
    zh = norm_lang(lang) == "zh"
    items = []
    for f in findings:
        cats = ("、" if zh else ", ").join(category_name(c, lang) for c in f.categories)
        items.append(t("verdict.also_item", lang, who=who(f.exposure), categories=cats,
                       hops=hops_text(f.hops, lang)))
    return t("verdict.also", lang, n=report.max_hops,
             items=("；" if zh else "; ").join(items))


def _stopped(report: Report, direction: str, lang: str) -> str:
    k = sum(1 for s in report.stop_nodes if s.direction == direction)
    if not k:
        return ""
    return t("verdict.stopped_one" if k == 1 else "verdict.stopped_n", lang, k=k)


def sentences(report: Report, lang: str = "en") -> list[tuple[str, str]]:
    """The verdict as ``(about, sentence)`` pairs; ``about`` is ``unseen``, ``self``, ``in`` or
    ``out``."""
    if not report.activity.seen:
        return [("unseen", t("verdict.unseen", lang,
                             range=indexed_range_text(report, lang)))]
    findings = report.findings()
    out: list[tuple[str, str]] = []
    own = [f for f in findings if f.direction == "self"]
    if own:
        text = _finding_sentence(own[0], lang)
        text += _also(own[1:], report, lang)
        out.append(("self", text))
    screened = {e.direction for e in report.exposures}
    for direction in ("in", "out"):
        dname = t(f"verdict.dir.{direction}", lang)
        if direction not in screened:
            out.append((direction, t("verdict.not_screened", lang, dir=dname)))
            continue
        mine = [f for f in findings if f.direction == direction]
        if mine:
            text = _finding_sentence(mine[0], lang) + _also(mine[1:], report, lang)
        else:
            key = "verdict.nothing_else" if own else "verdict.nothing"
            text = t(key, lang, dir=dname, n=report.max_hops)
        out.append((direction, text + _stopped(report, direction, lang)))
    return out


def verdict_text(report: Report, lang: str = "en") -> str:
    """The verdict as one paragraph."""
    sep = "" if norm_lang(lang) == "zh" else " "
    return sep.join(s for _, s in sentences(report, lang))


def verdict_dict(report: Report, lang: str = "en") -> dict[str, Any]:
    """The JSON ``verdict``: its language, the paragraph and its sentences."""
    parts = sentences(report, lang)
    return {
        "lang": html_lang(lang),
        "text": verdict_text(report, lang),
        "sentences": [{"about": about, "text": text} for about, text in parts],
    }
