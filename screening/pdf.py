"""Render our own HTML pages to PDF with WeasyPrint, fetching nothing at all.

Two things are kept between calls, because building them again each time only costs time
(tests/benchmarks/bench_summary_pdf.py measures both):

- the parsed stylesheets, one per file of ``static/``, parsed again when the file changes
  (its modification time or size). WeasyPrint's ``CSS`` objects are read-only once built:
  WeasyPrint itself shares its user-agent stylesheet between every document it renders.
  They are parsed without a font configuration, so ``@font-face`` rules are ignored (as
  before: these pages use the system's fonts);
- a font configuration (fontconfig and Pango's font map, with their caches of font look-
  ups), one per thread: Pango's objects must not be used by two threads at once, and a
  batch of summaries renders in a thread of its own (screening/staff/batches.py).

WeasyPrint and pypdf are imported by the first PDF made, not with this module: they take
longer to import than the rest of the app, and a worker that never makes a PDF (or the
``flask`` command) need not wait for them.
"""

from __future__ import annotations

import atexit
import functools
import gc
import io
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:  # pragma: no cover
    from weasyprint import CSS, Document
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher


@functools.cache
def _no_fetching_class() -> type[URLFetcher]:
    from weasyprint.urls import URLFetcher

    class NoFetching(URLFetcher):
        """A PDF of patient data must not make any request, local or remote."""

        def fetch(self, url, headers=None):
            raise ValueError(f"refusing to fetch {url!r} while making a PDF")

    return NoFetching


@functools.cache
def no_fetching() -> URLFetcher:
    """The fetcher every document is made with: it refuses every URL."""
    return _no_fetching_class()()


def __getattr__(name: str) -> Any:
    """``NoFetching``, the fetcher's class, made when first asked for (see above)."""
    if name == "NoFetching":
        return _no_fetching_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Parsed stylesheets by absolute path: ((mtime_ns, size), CSS).
_SHEETS: dict[str, tuple[tuple[int, int], CSS]] = {}
_SHEETS_LOCK = threading.Lock()
_THREAD = threading.local()


def stylesheet(path: Path) -> CSS:
    """The parsed stylesheet at ``path``, parsed once per process and file version."""
    stat = path.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    key = str(path)
    kept = _SHEETS.get(key)
    if kept is not None and kept[0] == version:
        return kept[1]
    with _SHEETS_LOCK:
        kept = _SHEETS.get(key)
        if kept is None or kept[0] != version:
            from weasyprint import CSS

            css = CSS(string=path.read_text(encoding="utf-8"), url_fetcher=no_fetching())
            kept = _SHEETS[key] = (version, css)
    return kept[1]


def font_config() -> FontConfiguration:
    """This thread's font configuration (made on first use)."""
    config = getattr(_THREAD, "font_config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _THREAD.font_config = FontConfiguration()
    return config


@atexit.register
def _forget_fonts() -> None:
    """Free the main thread's font configuration before the interpreter shuts down: left
    to the shutdown's own clean-up, Pango's font map goes after what it needs and the
    process ends in a segmentation fault (seen with WeasyPrint 70 here)."""
    _THREAD.__dict__.pop("font_config", None)
    gc.collect()


def _stylesheets(names: tuple[str, ...]) -> list[CSS]:
    static = Path(current_app.static_folder or "")
    return [stylesheet(static / name) for name in names]


def render_document(html: str, stylesheets: tuple[str, ...] = ("css/app.css",)) -> Document:
    """Lay out a page (not yet written as PDF), styled with files from ``static/``."""
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=no_fetching()).render(
        stylesheets=_stylesheets(stylesheets), font_config=font_config()
    )


def render_pdf(html: str, stylesheets: tuple[str, ...] = ("css/app.css",)) -> bytes:
    """Return the PDF of a page, styled with files from ``static/`` read from disk."""
    return render_document(html, stylesheets).write_pdf()


#: Documents laid out before their pages are written to PDF and let go (see below).
CHUNK = 25


def render_pdfs_as_one(
    pages: Iterable[str],
    stylesheets: tuple[str, ...] = ("css/app.css",),
    progress: Callable[[int], object] | None = None,
    title: str | None = None,
) -> bytes:
    """One PDF of several HTML documents, each laid out on its own, one after the other.

    Each keeps its own page numbers ("page 1 of 1") and running strings. A laid-out page
    holds a few megabytes until it is written, so the documents are written to PDF
    :data:`CHUNK` at a time (fonts embedded once per chunk) and the chunks joined with
    pypdf: 200 summaries never hold more than 25 in memory. ``progress(n)`` is called
    after each document is laid out, with the number done so far. ``title`` is the
    PDF's title (the first document's otherwise).
    """
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    chunk: list[Document] = []
    done = 0

    def flush() -> None:
        first = chunk[0]
        pages_of_chunk = [page for document in chunk for page in document.pages]
        writer.append(PdfReader(io.BytesIO(first.copy(pages_of_chunk).write_pdf())))
        if writer.metadata is None or "/Title" not in writer.metadata:
            writer.add_metadata({"/Title": title or first.metadata.title or ""})
        chunk.clear()

    for html in pages:
        chunk.append(render_document(html, stylesheets))
        done += 1
        if progress is not None:
            progress(done)
        if len(chunk) == CHUNK:
            flush()
    if chunk:
        flush()
    if not done:
        raise ValueError("nothing to render")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
