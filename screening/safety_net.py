"""The outermost WSGI layer: every response has the security headers and a request id.

The app's ``after_request`` functions add them to every response Flask makes, error pages
included. This layer covers what escapes Flask: an error in a teardown function (raised
after the response was made) or in an ``after_request`` function would otherwise reach
gunicorn, whose bare "Internal Server Error" carries neither. Missing headers are filled
in, and such a failure is answered with a plain page that shows its reference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from screening.observability import HEADER as REQUEST_ID_HEADER
from screening.observability import request_id_of

log = logging.getLogger(__name__)

#: What a person sees when a request failed after Flask had finished with it: no template
#: can be trusted then, so the page is plain text, in both languages (a test checks the
#: Spanish against the catalogue's translation of the usual 500 page).
FAILED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sorry, something went wrong</title></head>
<body><main>
<h1>Sorry, something went wrong</h1>
<p>Your saved answers are safe. Please try again in a few minutes.</p>
<div lang="es"><h2>{title_es}</h2>
<p>{text_es}</p></div>
<p>Reference: {request_id}</p>
</main></body></html>
"""
FAILED_TITLE_ES = "Lo sentimos, algo salió mal"
FAILED_TEXT_ES = (
    "Sus respuestas guardadas están seguras. Por favor, intente de nuevo en unos minutos."
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class HeadersEverywhere:
    def __init__(self, wsgi_app: WSGIApp, headers: dict[str, str]) -> None:
        self.wsgi_app = wsgi_app
        self.headers = headers

    def complete(self, headers: list[tuple[str, str]], request_id: str) -> list[tuple[str, str]]:
        """Return ``headers`` with every missing security header and the request id."""
        present = {name.lower() for name, _ in headers}
        wanted = {**self.headers, REQUEST_ID_HEADER: request_id}
        return headers + [(k, v) for k, v in wanted.items() if k.lower() not in present]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request_id = request_id_of(environ)
        # start_response is held back until the app returns, so that a failure after the
        # app chose its status (in a teardown) can still be answered with a page of ours.
        held: list[tuple[str, list[tuple[str, str]], Any]] = []
        returned = False

        def send_held() -> Callable[[bytes], Any]:
            status, headers, exc_info = held.pop()
            return start_response(status, headers, exc_info)

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], Any]:
            held[:] = [(status, self.complete(list(headers), request_id), exc_info)]
            if returned:  # called during the first iteration: pass it on at once
                return send_held()
            # The old write() interface: the headers go out before the first write.
            return lambda data: send_held()(data)

        try:
            body = self.wsgi_app(environ, capture)
        except Exception:
            log.exception("A request failed outside the error pages, reference %s", request_id)
            page = FAILED_PAGE.format(
                title_es=FAILED_TITLE_ES, text_es=FAILED_TEXT_ES, request_id=request_id
            )
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
            start_response("500 INTERNAL SERVER ERROR", self.complete(headers, request_id))
            return [page.encode()]
        returned = True
        if held:
            send_held()
        return body


def init_app(app: Flask, headers: dict[str, str]) -> None:
    """Wrap ``app`` last, so this layer is outside every other (ProxyFix included)."""
    app.wsgi_app = HeadersEverywhere(app.wsgi_app, headers)
