"""The Art. 12(3) clock: one calendar month to answer, month ends and leap years, one extension within the
first month."""

from datetime import date, datetime, time, timedelta

import pytest

from mailer.core.clock import utcnow
from mailer.core.errors import PrivacyError
from mailer.core.extensions import db
from mailer.privacy.models.requests import PrivacyRequest
from mailer.privacy.requests import (
    add_months,
    deadline_after,
    extend,
    list_requests,
    open_request,
    register_counts,
)

END_OF_DAY = time(23, 59, 59, 999999)


@pytest.mark.parametrize(
    "received, due",
    [
        (date(2024, 1, 15), date(2024, 2, 15)),
        (date(2024, 1, 31), date(2024, 2, 29)),  # leap year: the last day of February
        (date(2023, 1, 31), date(2023, 2, 28)),  # ordinary year
        (date(2024, 1, 29), date(2024, 2, 29)),
        (date(2023, 1, 29), date(2023, 2, 28)),
        (date(2024, 2, 29), date(2024, 3, 29)),  # from a leap day
        (date(2024, 3, 31), date(2024, 4, 30)),  # 31 → a 30-day month
        (date(2024, 8, 31), date(2024, 9, 30)),
        (date(2024, 12, 15), date(2025, 1, 15)),  # across the year end
        (date(2024, 12, 31), date(2025, 1, 31)),
    ],
)
def test_one_calendar_month_after_receipt(received, due):
    assert add_months(received, 1) == due
    # The period ends at the end of that day (Regulation 1182/71), whatever time the request arrived.
    assert deadline_after(datetime.combine(received, time(9, 30)), 1) == datetime.combine(due, END_OF_DAY)
    assert deadline_after(datetime.combine(received, time(23, 59)), 1) == datetime.combine(due, END_OF_DAY)


@pytest.mark.parametrize(
    "received, extended",
    [
        (date(2024, 1, 31), date(2024, 4, 30)),  # three months from receipt, not two from a clamped 29 Feb
        (date(2023, 11, 30), date(2024, 2, 29)),
        (date(2022, 11, 30), date(2023, 2, 28)),
        (date(2024, 5, 15), date(2024, 8, 15)),
    ],
)
def test_extension_adds_two_further_months(received, extended):
    req = PrivacyRequest(
        type="access",
        channel="email",
        status="open",
        received_at=datetime.combine(received, time(10)),
        due_at=deadline_after(datetime.combine(received, time(10)), 1),
    )
    extend(
        req,
        "Many requests at once",
        person_told_at=datetime.combine(received, time(12)) + timedelta(days=3),
        now=datetime.combine(received, time(12)) + timedelta(days=3),
    )
    assert req.extended_until == datetime.combine(extended, END_OF_DAY)
    assert req.deadline == req.extended_until


def _open(received: datetime) -> PrivacyRequest:
    return PrivacyRequest(
        type="erasure",
        channel="letter",
        status="open",
        received_at=received,
        due_at=deadline_after(received, 1),
    )


def test_extension_only_within_the_first_month_with_reason_and_the_person_told():
    received = datetime(2024, 1, 31, 10)
    last_moment = datetime(2024, 2, 29, 23, 59)
    with pytest.raises(PrivacyError, match="reason"):
        extend(_open(received), "  ", person_told_at=received, now=received)
    with pytest.raises(PrivacyError, match="told"):
        extend(_open(received), "Complex request", person_told_at=None, now=received)
    with pytest.raises(PrivacyError, match="within the first month"):
        extend(_open(received), "Complex request", person_told_at=datetime(2024, 3, 1, 9), now=last_moment)
    with pytest.raises(PrivacyError, match="first month has passed"):
        extend(
            _open(received),
            "Complex request",
            person_told_at=datetime(2024, 2, 20),
            now=datetime(2024, 3, 1, 0, 1),
        )
    req = _open(received)
    extend(req, "Complex request", person_told_at=datetime(2024, 2, 29, 18), now=last_moment)
    with pytest.raises(PrivacyError, match="already extended"):
        extend(req, "Once more", person_told_at=datetime(2024, 2, 29, 18), now=last_moment)
    # told the day it arrived, the request having come in after noon (the form records a day, kept as noon)
    afternoon = _open(datetime(2024, 1, 31, 16, 45))
    extend(
        afternoon, "Complex request", person_told_at=datetime(2024, 1, 31, 12), now=datetime(2024, 1, 31, 17)
    )
    assert afternoon.extended_until is not None
    with pytest.raises(PrivacyError, match="within the first month"):
        extend(_open(received), "Complex request", person_told_at=datetime(2024, 1, 30, 23), now=received)
    closed = _open(received)
    closed.status = "completed"
    with pytest.raises(PrivacyError, match="open request"):
        extend(closed, "Late", person_told_at=received, now=received)


def test_register_counts_open_due_soon_and_overdue(app_ctx):
    now = utcnow().replace(microsecond=0)
    overdue = open_request("access", "email", email="late@example.com", received_at=now - timedelta(days=40))
    soon = open_request("erasure", "phone", email="soon@example.com", received_at=now - timedelta(days=27))
    fresh = open_request(
        "objection", "letter", email="fresh@example.com", received_at=now - timedelta(days=1)
    )
    done = open_request("access", "email", email="done@example.com", received_at=now - timedelta(days=60))
    done.status = "completed"
    db.session.commit()
    counts = register_counts()
    assert (counts.open, counts.due_soon, counts.overdue, counts.awaiting_verification) == (3, 1, 1, 3)
    rows, total = list_requests("open")
    assert [r.id for r in rows] == [overdue.id, soon.id, fresh.id] and total == 3  # soonest deadline first
    assert [r.id for r in list_requests(when="overdue")[0]] == [overdue.id]
    with pytest.raises(PrivacyError, match="future"):
        open_request("access", "email", email="x@example.com", received_at=now + timedelta(days=2))
