"""Render our own HTML pages to PDF with WeasyPrint, fetching nothing at all."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher


class NoFetching(URLFetcher):
    """A PDF of patient data must not make any request, local or remote."""

    def fetch(self, url, headers=None):
        raise ValueError(f"refusing to fetch {url!r} while making a PDF")


def render_pdf(html: str, stylesheets: tuple[str, ...] = ("css/app.css",)) -> bytes:
    """Return the PDF of a page, styled with files from ``static/`` read from disk."""
    static = Path(current_app.static_folder or "")
    css = [CSS(string=(static / name).read_text(encoding="utf-8")) for name in stylesheets]
    return HTML(string=html, url_fetcher=NoFetching()).write_pdf(stylesheets=css)
