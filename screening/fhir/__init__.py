"""Record systems: the questionnaire and each submission as HL7 FHIR R4 resources, and a
bearer-token API at ``/fhir`` that a clinic's record system polls.

- :mod:`screening.fhir.resources` turns the questionnaire data and stored submissions into
  FHIR resources (plain dicts, no FHIR library at run time) and a response back into the
  scorer's answers;
- :mod:`screening.fhir.feed` is the search: a clinic's submissions in the order they were
  offered, with a cursor that breaks ties by id;
- :mod:`screening.fhir.views` is the API (``application/fhir+json``): no cookies, no
  session, no CSRF (a cross-site page cannot set the ``Authorization`` header), bearer
  tokens only, every read audited under the token's name, a rate limit per token;
- :mod:`screening.fhir.tokens` makes, lists and revokes tokens (``flask --app screening
  api-token ...``); the administrators' pages are in :mod:`screening.staff.api_tokens`.

This module stays small: :mod:`screening.staff.workflow` imports the models from here.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSession, SessionInterface

#: Where the API lives.
PREFIX = "/fhir"


def is_api_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class NoSessionForApi(SessionInterface):
    """The app's session interface, except that API requests have no session at all.

    A cookie sent with an API request is not read, and nothing an API request does can set
    one: its session is a fresh, empty one that is never saved.
    """

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        # Anything else is the wrapped interface's (its signing serializer, for one).
        return getattr(self.inner, name)

    def open_session(self, app: Flask, request: Any) -> Any:
        if is_api_path(request.path):
            return SecureCookieSession()
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if is_api_path(request.path):
            return None
        return self.inner.save_session(app, session, response)

    def make_null_session(self, app: Flask) -> Any:
        return self.inner.make_null_session(app)

    def is_null_session(self, obj: object) -> bool:
        return self.inner.is_null_session(obj)


def init_app(app: Flask) -> None:
    """Register the API, its error pages, the session rule and the ``api-token`` commands."""
    from screening import errors
    from screening.extensions import csrf
    from screening.fhir import tokens, views

    app.register_blueprint(views.bp)
    # Bearer tokens only: a browser never sends one on its own, so there is nothing to forge.
    csrf.exempt(views.bp)
    app.session_interface = NoSessionForApi(app.session_interface)
    errors.register_section_page(app, PREFIX + "/", views.error_page)
    app.cli.add_command(tokens.tokens_cli)
