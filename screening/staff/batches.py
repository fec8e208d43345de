"""The queue's batch PDF: up to 200 clinician summaries in one PDF, one after the other.

Measured on a 2-core machine (tests/benchmarks/bench_summary_pdf.py): about a third of a
second per summary, so 200 take more than a minute, longer than a browser, a proxy or
gunicorn (30 s) waits for one request. So:

- up to ``SUMMARY_BATCH_INLINE_MAX`` summaries (a few seconds) are made in the request
  and sent back at once, as before;
- a larger batch is made by a thread of the worker process that took the request. The
  thread keeps its progress, and then the PDF, in the database (:class:`SummaryBatch`),
  so any worker can show the progress page and send the file: app processes stay
  stateless. A batch whose thread stopped (the worker restarted) stops advancing; after
  ``SUMMARY_BATCH_STALE_SECONDS`` without progress its page says so.

The finished PDF is patient data kept a second time, so it is kept briefly
(``SUMMARY_BATCH_KEEP_MINUTES``), given only to the person who asked for it, and deleted
when it expires (the next batch deletes the expired ones; ``purge_expired``). At most
``SUMMARY_BATCH_RUNNING_MAX`` batches are made at a time (each takes a core and about
5 MB of memory per page until it is written).

Every summary is laid out as a document of its own, so its footer's "page 1 of 1" and
running header belong to that patient, and the PDF is written once (fonts embedded once).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from flask import Flask, current_app, render_template
from sqlalchemy import CursorResult, ForeignKey, Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from screening import integrity
from screening.clinics import zone_of
from screening.crypto import EncryptedBytes
from screening.extensions import Model, db
from screening.models import StaffUser, Submission, UTCDateTime, utcnow
from screening.pdf import render_pdfs_as_one
from screening.summaries import STYLESHEETS, ClinicianSummary, build_summary

log = logging.getLogger(__name__)

WAITING, RUNNING, DONE, FAILED = "waiting", "running", "done", "failed"
#: How a batch whose thread stopped (its worker restarted) is shown: no longer advancing.
STOPPED = "stopped"
#: For "this can take up to N minutes": a little more than a summary takes here.
SECONDS_EACH = 0.6
#: At most one progress write a second.
PROGRESS_EVERY = 1.0


class Busy(Exception):
    """Enough batches are being made already; try again in a minute."""


class SummaryBatch(Model):
    """A batch PDF being made in the background, then the PDF until it expires."""

    __tablename__ = "summary_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: In the progress and download links; random, and only its requester may use it.
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: secrets.token_hex(16)
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    #: Submission ids in the order of the pages (checked against the person's clinics
    #: when the batch was asked for, and audited then).
    submission_ids: Mapped[list] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(10), default=WAITING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The last sign of life of the thread making it.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: The clinicians' summaries: patient data, encrypted.
    pdf: Mapped[bytes | None] = mapped_column(EncryptedBytes("summary_batch.pdf"), deferred=True)

    def shown_state(self, now: datetime | None = None) -> str:
        """The state, with a batch that stopped advancing shown as :data:`STOPPED`."""
        if self.state in (WAITING, RUNNING):
            stale = timedelta(seconds=current_app.config["SUMMARY_BATCH_STALE_SECONDS"])
            if (now or utcnow()) - self.updated_at > stale:
                return STOPPED
        return self.state

    def minutes_needed(self) -> int:
        return max(1, math.ceil(self.total * SECONDS_EACH / 60))


# ------------------------------------------------------------------ rendering


def build_summaries(items: Iterable[Submission]) -> list[ClinicianSummary]:
    """The summaries of ``items`` (plain data: rendering them needs no database).

    Each is checked against its digest; one that fails says so at the top of its page.
    """
    return [
        build_summary(
            item,
            timezone=zone_of(item.clinic),
            integrity_warning=integrity.problem(item) or "",
        )
        for item in items
    ]


def _pages(summaries: Sequence[ClinicianSummary]) -> Iterator[str]:
    paper = current_app.config["SUMMARY_PAPER"]
    for summary in summaries:
        yield render_template(
            "print/summary_batch.html", summaries=[summary], paper=paper, pdf=True
        )


def render(
    summaries: Sequence[ClinicianSummary], progress: Callable[[int], object] | None = None
) -> bytes:
    """One PDF of ``summaries``, each on its own page(s)."""
    title = f"Clinician summaries ({len(summaries)})" if len(summaries) > 1 else None
    return render_pdfs_as_one(_pages(summaries), STYLESHEETS, progress=progress, title=title)


# ------------------------------------------------------------------ batches


def purge_expired(now: datetime | None = None) -> int:
    """Delete the batches (and PDFs) past their time; the caller commits."""
    result = db.session.execute(
        delete(SummaryBatch).where(SummaryBatch.expires_at < (now or utcnow()))
    )
    if not isinstance(result, CursorResult):  # a DELETE's always is: it has the count
        return 0
    return result.rowcount or 0


def prepare(items: Sequence[Submission], user: StaffUser) -> SummaryBatch:
    """Add a batch of ``items`` for ``user`` to the session (the caller audits and commits,
    then calls :func:`launch`). Raises :class:`Busy` when enough are being made."""
    config = current_app.config
    now = utcnow()
    alive = now - timedelta(seconds=config["SUMMARY_BATCH_STALE_SECONDS"])
    running = db.session.scalar(
        select(func.count())
        .select_from(SummaryBatch)
        .where(SummaryBatch.state.in_((WAITING, RUNNING)), SummaryBatch.updated_at > alive)
    )
    if running >= config["SUMMARY_BATCH_RUNNING_MAX"]:
        raise Busy
    purge_expired(now)
    batch = SummaryBatch(
        requested_by_id=user.id,
        submission_ids=[item.id for item in items],
        total=len(items),
        expires_at=now + timedelta(minutes=config["SUMMARY_BATCH_KEEP_MINUTES"]),
        created_at=now,
        updated_at=now,
    )
    db.session.add(batch)
    return batch


def launch(batch: SummaryBatch) -> None:
    """Start making a committed batch, in a thread of this process."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    threading.Thread(
        target=_make, args=(app, batch.id), name=f"summary-batch-{batch.id}", daemon=True
    ).start()


def find(public_id: str, user: StaffUser) -> SummaryBatch | None:
    """The batch, if it is ``user``'s and has not expired."""
    return db.session.scalar(
        select(SummaryBatch).where(
            SummaryBatch.public_id == public_id,
            SummaryBatch.requested_by_id == user.id,
            SummaryBatch.expires_at >= utcnow(),
        )
    )


def _set(batch_id: int, **values) -> None:
    db.session.execute(
        update(SummaryBatch)
        .where(SummaryBatch.id == batch_id)
        .values(updated_at=utcnow(), **values)
    )
    db.session.commit()


def _make(app: Flask, batch_id: int) -> None:
    """The thread: lay out every summary, then store the PDF (or the failure)."""
    with app.app_context():
        try:
            batch = db.session.get(SummaryBatch, batch_id)
            if batch is None:
                return
            order = {sid: index for index, sid in enumerate(batch.submission_ids)}
            items = db.session.scalars(select(Submission).where(Submission.id.in_(order)))
            summaries = build_summaries(sorted(items, key=lambda item: order[item.id]))
            _set(batch_id, state=RUNNING)  # also ends the reading transaction
            last = time.monotonic()

            def progress(done: int) -> None:
                nonlocal last
                if time.monotonic() - last >= PROGRESS_EVERY:
                    last = time.monotonic()
                    _set(batch_id, done=done)

            data = render(summaries, progress)
            _set(batch_id, state=DONE, done=len(summaries), pdf=data)
        except Exception:
            log.exception("summary batch %s failed", batch_id)
            db.session.rollback()
            try:
                _set(batch_id, state=FAILED)
            except Exception:
                log.exception("summary batch %s: could not record the failure", batch_id)
        finally:
            db.session.remove()
            _give_back_memory()


def _give_back_memory() -> None:
    """Free the layout now (it is full of reference cycles) and hand the memory back to
    the system: glibc would keep it, and the worker would stay at its peak (about 1.2 GB
    after 200 summaries) for the rest of its life."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)
