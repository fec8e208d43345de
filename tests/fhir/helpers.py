"""Submissions, tokens and a record system's client for the API tests."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from screening import demo
from screening.extensions import db
from screening.fhir import tokens
from screening.models import Submission, readable_code
from screening.scoring import questionnaire, score
from screening.staff import accounts
from screening.submissions import apply_result
from tests.factories import CONTACT, answers, send_directly

#: A moment well in the past of the tests' clock: the feed lists it at once.
LONG_AGO = datetime(2026, 3, 2, 15, 4, 5, 123456, tzinfo=UTC)


def fhir_model(resource: Mapping[str, Any] | bytes | str) -> Any:
    """Parse a resource with the R4B model of its type (``fhir.resources``): the library's
    validation, not ours. Raises pydantic's ValidationError when it is not valid FHIR."""
    text = resource if isinstance(resource, bytes | str) else json.dumps(resource)
    kind = json.loads(text)["resourceType"]
    return get_fhir_model_class(kind).model_validate_json(text)


def as_json(model: Any) -> dict[str, Any]:
    """A parsed model back to FHIR JSON (what a record system's library would give)."""
    return json.loads(model.model_dump_json())


def clinic_id(app, name: str) -> int:
    with app.app_context():
        clinic = accounts.clinic_by_name(name) or accounts.create_clinic(name)
        db.session.commit()
        return clinic.id


def store(
    app,
    clinic: str,
    at: datetime = LONG_AGO,
    count: int = 1,
    seed: int = 1,
    answers: Iterable[dict[str, Any]] | None = None,
) -> list[str]:
    """Store ``count`` scored submissions of ``clinic``, all sent at ``at``; their public ids.

    Answers come from the demo generator unless given.
    """
    rng = random.Random(seed)
    given = list(answers) if answers is not None else None
    cid = clinic_id(app, clinic)
    ids = []
    with app.app_context():
        for number in range(count if given is None else len(given)):
            chosen = given[number] if given is not None else demo.generate_answers(rng)
            personal = demo.generate_personal(rng, at, age=chosen["age"])
            item = Submission(
                reference=readable_code(),
                submit_key=f"fhir-test-{seed}-{number}-{rng.random()}",
                answers=chosen,
                personal=personal,
                language=rng.choice(["en", "es"]),
                clinic_id=cid,
                questionnaire_version=questionnaire.VERSION,
                started_at=at - timedelta(minutes=20),
                submitted_at=at,
            )
            apply_result(item, score(chosen))
            db.session.add(item)
            db.session.flush()
            ids.append(item.public_id)
        db.session.commit()
    return ids


def send_form(app, clinic: str, **overrides: Any) -> str:
    """A patient fills in and sends the form (choosing ``clinic``); its public id."""
    return send_directly(app, answers(**overrides), CONTACT, clinic=clinic).public_id


def make_token(app, name: str, clinics: Iterable[str], write: bool = False) -> str:
    """A token for ``clinics``; returns the secret."""
    with app.app_context():
        chosen = [accounts.clinic_by_name(c) or accounts.create_clinic(c) for c in clinics]
        _, secret = tokens.create(name, chosen, write=write)
        db.session.commit()
        return secret


def submission(app, public_id: str) -> Submission:
    with app.app_context():
        item = db.session.scalar(select(Submission).where(Submission.public_id == public_id))
        db.session.expunge(item)
        return item


class RecordSystem:
    """A record system's HTTP client: a bearer token, no cookies kept."""

    def __init__(self, app, secret: str | None) -> None:
        self.client = app.test_client(use_cookies=False)
        self.secret = secret

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"} if self.secret else {}

    def get(self, url: str, headers: dict[str, str] | None = None, **kwargs: Any):
        return self.client.get(url, headers={**self.headers(), **(headers or {})}, **kwargs)

    def post(self, url: str, **kwargs: Any):
        return self.client.post(url, headers=self.headers(), **kwargs)

    def pull(self, first: str) -> list[dict[str, Any]]:
        """Every entry of a search, following its next links; each page is validated."""
        entries: list[dict[str, Any]] = []
        url: str | None = first
        while url:
            response = self.get(url)
            assert response.status_code == 200, response.get_data(as_text=True)
            fhir_model(response.data)  # valid FHIR
            page = json.loads(response.data)
            entries += page.get("entry", [])
            url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        return entries
