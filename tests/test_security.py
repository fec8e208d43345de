"""Baseline security rows: headers, methods, banners, error pages."""

from __future__ import annotations

import pytest

from screening.public import public

CSP_PARTS = [
    "default-src 'none'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
]


def check_headers(response):
    csp = response.headers["Content-Security-Policy"]
    for part in CSP_PARTS:
        assert part in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Access-Control-Allow-Origin" not in response.headers
    for name, value in response.headers.items():
        assert "werkzeug" not in value.lower() and "python" not in value.lower(), name


@pytest.mark.parametrize(
    "url",
    ["/", "/step/about-you", "/resume", "/adults-only", "/no-such-page", "/static/css/app.css"],
)
def test_security_headers_everywhere(client, url):
    response = client.get(url)
    response.close()
    check_headers(response)
    if not url.startswith("/static"):
        assert response.headers["Cache-Control"] == "no-store"
        assert (
            response.mimetype == "text/html" and response.mimetype_params.get("charset") == "utf-8"
        )


def test_unused_methods_are_refused(app, client):
    for rule in app.url_map.iter_rules():
        url = (
            rule.rule.replace("<step_id>", "about-you")
            .replace("<token>", "x")
            .replace("<path:filename>", "css/app.css")
        )
        for method in ("TRACE", "PUT", "DELETE", "PATCH"):
            response = client.open(url, method=method)
            assert response.status_code in (404, 405), (url, method)
            check_headers(response)


def test_error_pages_reveal_nothing(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret stack detail")

    # Deny by default: a new route is gated unless made public on purpose.
    assert client.get("/boom").status_code == 302
    public(boom)  # what ``@public`` under the route does

    response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, something went wrong" in body
    assert "Traceback" not in body and "secret stack detail" not in body and "Flask" not in body
    check_headers(response)
    assert client.get("/?__debugger__=yes&cmd=resource&f=debugger.js").status_code in (200, 404)
    assert "debugger" not in client.get("/?__debugger__=yes&cmd=resource&f=debugger.js").get_data(
        as_text=True
    )


def test_templates_have_no_inline_script_or_handlers():
    import pathlib
    import re

    for path in pathlib.Path("templates").rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert not re.search(r"\son[a-z]+=", text), path
        assert "|safe" not in text and "Markup(" not in text, path
        assert 'style="' not in text, path


def test_no_third_party_urls_in_pages_or_assets():
    import pathlib
    import re

    for path in [*pathlib.Path("templates").rglob("*.html"), *pathlib.Path("static").rglob("*.*")]:
        text = path.read_text(errors="ignore")
        urls = re.findall(r"(?:src|href)=[\"'](?:https?:)?//", text) + re.findall(
            r"url\((?:https?:)?//", text
        )
        assert not urls, path
