"""A patient driving the questionnaire through the Flask test client, CSRF included."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from screening.patient import steps
from screening.scoring import questionnaire
from tests.factories import CONTACT

TOKEN_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def clinic_today(app) -> date:
    from datetime import datetime

    return datetime.now(ZoneInfo(app.config["CLINIC_TIMEZONE"])).date()


class Patient:
    """Reads CSRF tokens from the pages it gets, like a browser would."""

    def __init__(self, client) -> None:
        self.client = client
        self.token: str | None = None
        self.last = None

    def get(self, url: str, **kwargs: Any):
        response = self.client.get(url, **kwargs)
        self._remember_token(response)
        self.last = response
        return response

    def _remember_token(self, response) -> None:
        if response.mimetype != "text/html":
            return  # a PDF or CSV has no form to post back
        match = TOKEN_RE.search(response.get_data(as_text=True))
        if match:
            self.token = match.group(1) or match.group(2)

    def post(self, url: str, data: dict[str, Any] | list[tuple[str, str]], **kwargs: Any):
        if self.token is None:
            self.get(url)
        if isinstance(data, dict):
            data = {**data, "csrf_token": self.token}
        else:
            data = MultiDict([*data, ("csrf_token", self.token or "")])
        response = self.client.post(url, data=data, **kwargs)
        self._remember_token(response)
        self.last = response
        return response

    def answer(self, step_id: str, data: dict[str, Any], **kwargs: Any):
        """Open a page, then send ``data`` on it."""
        url = f"/step/{step_id}"
        self.get(url)
        return self.post(url, data, **kwargs)

    def complete(self, answers: dict[str, Any], today: date, contact: dict | None = None) -> None:
        """Walk every page that applies, answering from ``answers``; asserts each saves."""
        for step in steps.STEPS:
            if not step.applies(answers):
                continue
            response = self.answer(step.id, page_data(step, answers, today, contact or CONTACT))
            assert response.status_code == 303, (step.id, response.get_data(as_text=True)[:3000])


def page_data(
    step: steps.Step, answers: dict[str, Any], today: date, contact: dict
) -> dict[str, Any]:
    """Turn coded answers into the form fields of one page."""
    data: dict[str, Any] = {"action": "continue"}
    for qid in step.questions:
        if qid not in answers or not questionnaire.is_shown(qid, answers):
            continue
        value = answers[qid]
        if isinstance(value, bool):
            data[qid] = "y" if value else ""
        elif isinstance(value, list):
            data[qid] = list(value)
        else:
            data[qid] = str(value)
    if "dob_day" in step.personal:
        born = date(today.year - answers["age"], today.month, min(today.day, 28))
        data.update(dob_day=str(born.day), dob_month=str(born.month), dob_year=str(born.year))
    if "full_name" in step.personal:
        data.update(contact)
    return data
