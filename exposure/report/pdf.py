"""The Report as PDF: the HTML page printed by Chromium (A4, backgrounds kept, a footer with the
address and page numbers), through playwright's Python package driving the system's Chromium
(Debian: ``apt-get install chromium fonts-noto-cjk``; never ``playwright install``).

The browser is found at ``$EXPOSURE_CHROMIUM``, else ``chromium`` / ``chromium-browser`` /
``google-chrome`` on the PATH, else ``/usr/bin/chromium``. The page is loaded from memory and
fetches nothing (its Content-Security-Policy forbids it).
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

from ..errors import ExposureError
from .html import render_html
from .i18n import clean, t
from .model import Report

CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)


class PdfError(ExposureError):
    """A PDF cannot be made (no Chromium or playwright); the message says what to install."""

    exit_code = 1


def find_chromium() -> Path | None:
    """The Chromium to print with (see the module docstring), or None."""
    given = os.environ.get("EXPOSURE_CHROMIUM")
    if given:
        return Path(given) if Path(given).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    default = Path("/usr/bin/chromium")
    return default if default.exists() else None


def check_pdf() -> Path:
    """The Chromium to use, or a PdfError saying what to install (checked before any work)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise PdfError("--format pdf needs playwright's Python package (pip install playwright; "
                       "it drives the system's Chromium, no `playwright install`)") from None
    chromium = find_chromium()
    if chromium is None:
        raise PdfError("--format pdf needs Chromium (Debian/Ubuntu: apt-get install chromium "
                       "fonts-noto-cjk), or set EXPOSURE_CHROMIUM to a Chromium binary")
    return chromium


def _footer(report: Report, lang: str) -> str:
    text = html.escape(f"{t('title', lang)} · {clean(report.address)}")
    return ('<div style="font-size:8px;width:100%;padding:0 10mm;color:#6b7280;'
            'font-family:sans-serif;display:flex;justify-content:space-between">'
            f'<span>{text}</span><span><span class="pageNumber"></span> / '
            '<span class="totalPages"></span></span></div>')


def render_pdf(report: Report, lang: str = "en") -> bytes:
    """The HTML report printed to an A4 PDF (bytes)."""
    chromium = check_pdf()
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    page_html = render_html(report, lang)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))
            try:
                page = browser.new_page()
                page.set_content(page_html, wait_until="load")
                page.emulate_media(media="print")
                return page.pdf(
                    format="A4", print_background=True, prefer_css_page_size=True,
                    display_header_footer=True, header_template="<span></span>",
                    footer_template=_footer(report, lang),
                )
            finally:
                browser.close()
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PdfError(f"Chromium ({chromium}) could not print the report: {first}") from exc
