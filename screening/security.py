"""Security headers on every response (pages, errors and static files), and the one check
of every ``next`` address the app redirects to (:func:`safe_next`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response

from screening import safety_net

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS posts
    # (WTF_CSRF_SSL_STRICT); other sites still get nothing.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


#: Longest ``next`` followed: a page of this site with its filters is far shorter, and the
#: staff sign-in keeps it in the session cookie meanwhile.
MAX_NEXT_LENGTH = 1000


def safe_next(target: object, default: str) -> str:
    r"""Return ``target`` when it is a path on this site, else ``default`` (no open redirect).

    Every ``next`` goes through here: the staff sign-in, the staff confirmation page and
    the patients' language switch. Accepted is printable ASCII without spaces (links this
    app makes are percent-encoded), starting with one ``/``, with no backslash and no
    scheme or host. Browsers drop tabs and newlines from a URL and read ``\`` as ``/``,
    so ``/\t/evil.example`` or ``/\evil.example`` would take them to another site; a
    newline would also be refused by the response header (a 500). Anything outside
    ``!``..``~`` is refused, so the C0 and C1 controls, DEL and look-alikes from other
    scripts (a full-width solidus) never get near a ``Location`` header.
    """
    if not isinstance(target, str) or not 0 < len(target) <= MAX_NEXT_LENGTH:
        return default
    if any(not "!" <= char <= "~" for char in target) or "\\" in target:
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


HSTS = "max-age=31536000; includeSubDomains"


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Pages carry health information: never store them in any cache. Static files
    # hold none and may be cached briefly.
    if not response.headers.get("Cache-Control"):
        response.headers["Cache-Control"] = "no-store"
        response.vary.add("Cookie")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
    production = app.config["ENVIRONMENT"] != "development"
    # Also outside Flask: a response that escapes its error pages (screening/safety_net.py).
    hsts_header = {"Strict-Transport-Security": HSTS} if production else {}
    safety_net.init_app(app, {**HEADERS, **hsts_header})
    if app.config["ENVIRONMENT"] != "development":
        # Links are built from each request's own scheme (https behind the proxy, with
        # TRUSTED_PROXY_COUNT set), so no PREFERRED_URL_SCHEME is forced here.

        @app.after_request
        def hsts(response: Response) -> Response:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
            return response
