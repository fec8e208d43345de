"""The order of the questionnaire's pages: the only place that knows it.

Pages follow the question sections (screening/scoring/README.md §2.2), with these changes for
people filling the form on a phone while in pain:

- "Where it hurts" is split: the body map first, then "which one place bothers you most"
  offering only the places picked (skipped when only one was picked).
- "Warning signs" comes right after "Where it hurts" instead of near the end, so a person
  with a possible emergency is told to get help within the first few pages. It needs the
  body regions (two headache questions depend on them), so it cannot come earlier.
- "Treatments you have tried" is split: what was tried, then how each one worked, so the
  follow-up questions are exactly those that apply, with or without JavaScript.
- Infection, needles and recent injury (S11-S13, seven short questions) share a page.
- Consent (S15) sits on the "check your answers" page, next to the submit button.
- Contact details come last, so a person sees everything we ask before giving a name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from screening.i18n import N_
from screening.scoring import conditions, questionnaire

#: Fields of the "About you" and "Contact" pages that are not questions of questionnaire.toml.
DOB_FIELDS = ("dob_day", "dob_month", "dob_year")
CONTACT_FIELDS = ("full_name", "phone", "email", "best_time")


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    #: Question ids (questionnaire.toml) asked on this page, in order.
    questions: tuple[str, ...] = ()
    #: Personal (not scored) fields on this page.
    personal: tuple[str, ...] = ()
    #: Short page heading shown above the questions (defaults to the title).
    heading: str | None = None

    def shown_questions(self, answers: Mapping[str, Any]) -> list[str]:
        return [qid for qid in self.questions if questionnaire.is_shown(qid, answers)]

    def applies(self, answers: Mapping[str, Any]) -> bool:
        """Return whether this page is asked at all, given the answers so far."""
        if self.personal:
            return True
        if self.id == "where-most":
            return len(answers.get("regions") or ()) > 1
        return bool(self.shown_questions(answers))


def _section(*sections: str) -> tuple[str, ...]:
    return tuple(q.id for q in questionnaire.QUESTIONS.values() if q.section in sections)


_S7 = _section("S7")

STEPS: tuple[Step, ...] = (
    Step("about-you", N_("About you"), ("preg", "breastfeed"), personal=DOB_FIELDS),
    Step("how-long", N_("How long and how it started"), _section("S2")),
    Step("how-bad", N_("How bad the pain is"), _section("S3")),
    Step("where", N_("Where it hurts"), ("regions", "other_location")),
    Step("where-most", N_("Where it hurts most"), ("primary_region",)),
    Step("warning-signs", N_("Warning signs"), _section("S14")),
    Step("feels-like", N_("What the pain is like"), _section("S5")),
    Step("triggers", N_("What brings it on"), _section("S6")),
    Step("treatments", N_("Treatments you have tried"), ("tx", "steroid_inj_3m")),
    Step(
        "treatment-results",
        N_("How the treatments worked"),
        tuple(q for q in _S7 if q not in ("tx", "steroid_inj_3m")),
    ),
    Step("medicines", N_("Medicines"), _section("S8")),
    Step("allergies", N_("Allergies"), _section("S9")),
    Step("health-history", N_("Bleeding and health history"), _section("S10")),
    Step(
        "infection-needles-injury",
        N_("Infection, needles and injuries"),
        _section("S11", "S12", "S13"),
    ),
    Step("goals", N_("Your goals"), ("goals", "questions_free")),
    Step("contact", N_("How we can reach you"), personal=CONTACT_FIELDS),
)

BY_ID = {step.id: step for step in STEPS}
FIRST = STEPS[0]

#: The progress indicator names parts, not pages: "Part 2 of 6: Your pain". Which pages
#: are asked depends on the answers (a second "where" page, the treatment follow-ups), so
#: a page count would grow or shrink during a journey; every part always has a page that
#: is always asked, so "of 6" never changes and the number never goes back.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (N_("About you"), ("about-you",)),
    (N_("Your pain"), ("how-long", "how-bad", "where", "where-most", "warning-signs")),
    (N_("What the pain is like"), ("feels-like", "triggers")),
    (N_("Treatments and medicines"), ("treatments", "treatment-results", "medicines")),
    (N_("Your health"), ("allergies", "health-history", "infection-needles-injury")),
    (N_("Goals and contact"), ("goals", "contact")),
)
PART_OF = {step_id: number for number, (_, ids) in enumerate(PARTS, 1) for step_id in ids}
assert list(PART_OF) == [step.id for step in STEPS], "every page in one part, in page order"

#: Every question except consent and age (computed from the date of birth) is on exactly one page.
assert sorted(q for s in STEPS for q in s.questions) == sorted(
    q for q in questionnaire.QUESTIONS if q not in ("consent", "age")
), "a question is missing from the pages or asked twice"


def applicable(answers: Mapping[str, Any]) -> list[Step]:
    """Return the pages asked for these answers, in order."""
    return [step for step in STEPS if step.applies(answers)]


def always_asked(step: Step) -> bool:
    """Whether a page is asked whatever the answers (it has an unconditional question)."""
    return bool(step.personal) or any(
        questionnaire.QUESTIONS[qid].shown_when is None for qid in step.questions
    )


assert all(any(always_asked(BY_ID[i]) for i in ids) for _, ids in PARTS), "a part can vanish"


def position(step: Step) -> tuple[int, int, str]:
    """Return ``(number, total, name)`` of the part a page belongs to ("Part 2 of 6")."""
    number = PART_OF[step.id]
    return number, len(PARTS), PARTS[number - 1][0]


def page_questions(step: Step, live: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """Return the questions to put on a page, each with the page question it depends on.

    Decided on the server from every answer known (``live``: the saved answers and what
    this page holds), so a page without JavaScript asks only what can apply:

    - a question whose condition reads earlier pages is there only when it is met;
    - a question whose condition reads only this page (a follow-up such as "what other
      allergy?") is always in the page, with that condition in plain words, so it can be
      answered without JavaScript; the script hides it until it applies. But it is left
      out when the question it depends on is not on the page itself (the follow-up of a
      treatment that was not picked).

    :return: ``(question id, id of the question on this page it follows, or None)``.
    """
    on_page = set(step.questions)
    shown: list[tuple[str, str | None]] = []
    present: set[str] = set()
    for qid in step.questions:
        condition = questionnaire.QUESTIONS[qid].shown_when
        used = conditions.facts_used(condition) if condition is not None else set()
        if condition is not None and used and used <= on_page:
            if not used <= present:
                continue
            parent = conditions.leaves(condition)[0]["q"]
            shown.append((qid, parent))
        elif questionnaire.is_shown(qid, live):
            shown.append((qid, None))
        else:
            continue
        present.add(qid)
    return shown


def next_step(step: Step, answers: Mapping[str, Any]) -> Step | None:
    later = STEPS[STEPS.index(step) + 1 :]
    return next((s for s in later if s.applies(answers)), None)


def previous_step(step: Step, answers: Mapping[str, Any]) -> Step | None:
    earlier = STEPS[: STEPS.index(step)]
    return next((s for s in reversed(earlier) if s.applies(answers)), None)


def missing_on(
    step: Step, answers: Mapping[str, Any], personal: Mapping[str, Any], needs_clinic: bool = False
) -> bool:
    """Return whether a page still lacks a required answer.

    :param needs_clinic: the clinic must be chosen on the first page (more than one exists).
    """
    for qid in step.shown_questions(answers):
        question = questionnaire.QUESTIONS[qid]
        if question.required and questionnaire.is_missing(question, answers.get(qid)):
            return True
    if step.personal == DOB_FIELDS:
        return not personal.get("dob") or (needs_clinic and not personal.get("clinic_id"))
    if step.personal == CONTACT_FIELDS:
        return not (
            personal.get("full_name") and personal.get("phone") and personal.get("best_time")
        )
    return False


def first_incomplete(
    answers: Mapping[str, Any],
    personal: Mapping[str, Any],
    done: list[str],
    needs_clinic: bool = False,
) -> Step | None:
    """Return the first page not yet submitted or still lacking an answer, or None."""
    for step in applicable(answers):
        if step.id not in done or missing_on(step, answers, personal, needs_clinic):
            return step
    return None
