"""No patient data or secrets in application logs.

A distinctive canary is typed into every free-text and contact field, the questionnaire is
sent, a staff member works it, and a database failure is forced on submit (the error path
is where data usually leaks: SQLAlchemy puts statement parameters in its messages).
"""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from screening.extensions import db
from screening.scoring import questionnaire
from tests.factories import CONTACT, answers
from tests.patient_client import Patient, clinic_today
from tests.staff.helpers import StaffClient, make_staff

CANARY = "ZQXJ-canary-7741"


def canary_answers() -> dict:
    texts = {
        q.id: f"{CANARY} {q.id}"[: q.max_length]
        for q in questionnaire.QUESTIONS.values()
        if q.type == "text"
    }
    return answers(
        **texts,
        triggers=["trig_posture", "trig_other"],
        bt=["bt_other"],
        allergy=["alg_other", "alg_lidocaine"],
        la_reaction="other",
        tx=["tx_pt", "tx_otc", "tx_tpi"],
        tpi_last="m3_12",
        tpi_sessions_12m="s1",
        tpi_relief="ge_half",
        tpi_duration="gt_6w",
        tpi_problems=["other"],
    )


def test_the_canary_never_reaches_the_logs(app, caplog):
    caplog.set_level(logging.DEBUG)
    contact = {**CONTACT, "full_name": f"{CANARY} Name", "email": "zqxj-canary-7741@example.com"}
    account = make_staff(app, "lou", "admin")

    # A failed submit first: the database refuses the insert.
    patient = Patient(app.test_client())
    patient.complete(canary_answers(), clinic_today(app), contact)
    patient.get("/review")

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO SUBMISSION"):
            raise OperationalError(statement, parameters, Exception("disk I/O error"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", refuse)
    try:
        failed = patient.post("/submit", {"consent": "y"})
    finally:
        event.remove(engine, "before_cursor_execute", refuse)
    assert failed.status_code == 503
    assert "submit failed" in caplog.text  # the failure itself is logged ...

    # ... then it goes through, and staff work it.
    assert patient.post("/submit", {"consent": "y"}).status_code == 303
    staff = StaffClient(app.test_client())
    staff.sign_in(account)
    queue = staff.get("/staff/").get_data(as_text=True)
    link = queue.split('href="/staff/submissions/', 1)[1].split('"', 1)[0]
    assert CANARY in staff.get(f"/staff/submissions/{link}").get_data(as_text=True)

    assert CANARY not in caplog.text  # ... without the patient's words
    assert CANARY.lower() not in caplog.text.lower()
    assert account.password not in caplog.text
