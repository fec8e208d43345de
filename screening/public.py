"""Which endpoints anyone may reach, declared by the blueprint that owns them.

Deny by default: the staff gate (:func:`screening.staff.access.init_app`) asks for a
staff sign-in on every endpoint that nothing here opens. Each blueprint declares its own,
where its views are:

- :func:`public` on a view opens that one endpoint (the staff sign-in page, the API's
  descriptions of itself);
- :func:`public_blueprint` opens every endpoint of a blueprint whose pages are all for
  the public (the patient's questionnaire);
- :func:`own_authentication` marks a blueprint that authenticates its requests itself
  (the record systems' API and its bearer tokens): the staff gate leaves its requests to
  it, and it denies by default too, letting through only its :func:`public` views
  (:func:`is_public`).

The app's own static files (the ``static`` endpoint) are open as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask
from flask.sansio.blueprints import Blueprint as SansioBlueprint

F = TypeVar("F", bound=Callable[..., Any])
B = TypeVar("B", bound=Blueprint)

#: Attribute a view carries when :func:`public` opened it.
VIEW_ATTRIBUTE = "public_endpoint"
#: Attribute of a blueprint that :func:`public_blueprint` opened.
BLUEPRINT_ATTRIBUTE = "public_blueprint"
#: Attribute of a blueprint that checks its own credentials (:func:`own_authentication`).
OWN_AUTHENTICATION = "own_authentication"
#: The app's static files.
STATIC = "static"


def public(view: F) -> F:
    """Open this view to anyone: no staff sign-in, no bearer token."""
    setattr(view, VIEW_ATTRIBUTE, True)
    return view


def public_blueprint(bp: B) -> B:
    """Open every endpoint of ``bp`` to anyone, those added later included."""
    setattr(bp, BLUEPRINT_ATTRIBUTE, True)
    return bp


def own_authentication(bp: B) -> B:
    """``bp`` authenticates every request itself; the staff gate does not look at them."""
    setattr(bp, OWN_AUTHENTICATION, True)
    return bp


def _blueprint_of(app: Flask, endpoint: str) -> SansioBlueprint | None:
    name = endpoint.rpartition(".")[0]
    return app.blueprints.get(name) if name else None


def is_public(app: Flask, endpoint: str | None) -> bool:
    """Whether ``endpoint`` was declared open to anyone (fails closed: False if unsure)."""
    if not endpoint:
        return False
    if endpoint == STATIC:
        return True
    if getattr(app.view_functions.get(endpoint), VIEW_ATTRIBUTE, False) is True:
        return True
    return getattr(_blueprint_of(app, endpoint), BLUEPRINT_ATTRIBUTE, False) is True


def authenticates_itself(app: Flask, endpoint: str | None) -> bool:
    """Whether ``endpoint`` belongs to a blueprint that checks its own credentials."""
    if not endpoint:
        return False
    return getattr(_blueprint_of(app, endpoint), OWN_AUTHENTICATION, False) is True
