"""axe-core, the accessibility scanner every page of a journey goes through.

Every WCAG 2.0, 2.1 and 2.2 level A and AA rule, no exclusions. Pages are scanned as copies
in a page of the scanner's own (see :class:`Scanner`), so a page with JavaScript off is
scanned too, and each distinct page once per viewport.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

#: axe-core: every WCAG 2.0, 2.1 and 2.2 level A and AA rule.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": WCAG_TAGS},
    "resultTypes": ["violations"],
    "iframes": False,  # the app has no frames
}


def _axe_script() -> str:
    from axe_playwright_python.sync_playwright import Axe

    return Axe().axe_script


_SCANNED: dict[str, list] = {}
#: What differs between two renders of the same page: CSRF tokens (in forms, and the staff
#: pages' data-csrf) and resume links.
_CSRF_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]*"|data-csrf="[^"]*"|/r/[A-Za-z0-9_\-]+')


SCANNER = "http://axe-scanner.test"


class Scanner:
    """A scripted page, kept for the whole session, that runs axe-core on copies of pages.

    axe-core is a 600 kB script: injecting it into every page would double the suite's run
    time, and it cannot run at all in a context with JavaScript off (it needs script timers,
    which never fire there). So each page's live DOM, as the person sees it at that moment
    (after the app's scripts ran, or without them), is copied into this page, which has the
    same viewport and pixel ratio. The app's scripts are blocked here so the copy stays as it
    was; its stylesheets are fetched from the app so the layout and colours are the same.
    """

    _open: dict[tuple, Scanner] = {}

    def __init__(self, browser, viewport: dict, scale: float) -> None:
        self.origin = ""
        context = browser.new_context(viewport=viewport, device_scale_factor=scale)
        self.page = context.new_page()
        self.page.route("**/*", self._serve)
        self.page.goto(SCANNER + "/scan")
        self.page.evaluate(_axe_script())

    @classmethod
    def for_page(cls, page) -> Scanner:
        scale = page.evaluate("window.devicePixelRatio")
        key = (id(page.context.browser), str(page.viewport_size), scale)
        if key not in cls._open:
            cls._open[key] = cls(page.context.browser, page.viewport_size, scale)
        return cls._open[key]

    def _serve(self, route) -> None:
        path = route.request.url[len(SCANNER) :]
        if path == "/scan":
            route.fulfill(body="<!doctype html><title>scan</title>", content_type="text/html")
        elif path.startswith("/static/") and not path.startswith("/static/js/"):
            route.fulfill(response=route.fetch(url=self.origin + path))
        else:
            route.abort()  # the app's scripts, and anything else

    def violations(self, page, html: str) -> list[dict]:
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
        self.page.set_content(html)
        result = self.page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
        return [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]],
            }
            for v in result["violations"]
        ]


def axe_violations(page) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1/2.2 A and AA) on the page as it is now.

    Scans of a DOM already scanned at the same viewport are reused: the same markup gives
    the same result, and it keeps the suite fast.
    """
    html = page.content()
    key = hashlib.sha256(f"{page.viewport_size}|{_CSRF_RE.sub('', html)}".encode()).hexdigest()
    if key not in _SCANNED:
        _SCANNED[key] = Scanner.for_page(page).violations(page, html)
    return _SCANNED[key]


def axe_violations_live(page) -> list[dict]:
    """axe-core injected into the page itself (JavaScript on): to confirm the copies match."""
    page.evaluate(_axe_script())
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]
    ]
