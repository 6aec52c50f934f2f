"""One entry point from a Report to the text of any output format (what the CLI calls)."""

from __future__ import annotations

import io

from rich.console import Console

from ..errors import InputError
from .html import render_html, render_svg
from .i18n import LANGS, norm_lang
from .markdown import render_markdown
from .model import Report
from .text import render_text

FORMATS = ("text", "json", "markdown", "html")
#: PDF is bytes, not text: :func:`exposure.report.pdf.render_pdf` (the CLI's ``--format pdf``).

#: File suffix of each format (for ``--out`` defaults).
SUFFIXES = {"text": ".txt", "json": ".json", "markdown": ".md", "html": ".html", "svg": ".svg",
            "pdf": ".pdf"}


def check_lang(lang: str) -> str:
    """``en`` or ``zh`` (also ``zh-CN``...); anything else is an InputError."""
    text = (lang or "").strip()
    if text.lower().replace("_", "-") not in ("en", "zh", "zh-cn", "zh-hans", "zh-hans-cn"):
        raise InputError(f"--lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return norm_lang(text)


def render_text_plain(report: Report, lang: str = "en", *, width: int = 110,
                      styles: bool = False) -> str:
    """The terminal rendering as a string: plain text unless ``styles`` (ANSI codes kept)."""
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=styles,
                      color_system="truecolor" if styles else None, emoji=False,
                      highlight=False, soft_wrap=False)
    console.print(render_text(report, lang))
    return console.export_text(styles=styles)


def render(report: Report, fmt: str = "text", lang: str = "en", *, width: int = 110) -> str:
    """``report`` as ``fmt`` (text, json, markdown, html; also svg: the evidence graph alone)
    in ``lang`` (en, zh). JSON is the same in every language (the stable schema) but for its
    ``verdict``, which is in ``lang``; text has no colour codes (for files: print
    :func:`~exposure.report.text.render_text` on a Console for colour)."""
    lang = check_lang(lang)
    if fmt == "json":
        return report.to_json(lang=lang) + "\n"
    if fmt == "text":
        return render_text_plain(report, lang, width=width)
    if fmt == "markdown":
        return render_markdown(report, lang)
    if fmt == "html":
        return render_html(report, lang)
    if fmt == "svg":
        return render_svg(report, lang, standalone=True) + "\n"
    raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
