"""The dashboard shows open, due-soon and overdue privacy requests to the people who handle them."""

import re
from datetime import timedelta

from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.privacy.requests import open_request


def _counts(html: str) -> list[str]:
    block = re.search(r"data-privacy-counts>(.*?)</ul>", html, re.S).group(1)
    return re.findall(r"<span>(\d+)</span>", block)


def test_owner_sees_open_due_soon_and_overdue_requests(auth):
    open_request("access", "letter", email="late@example.com", received_at=utcnow() - timedelta(days=40))
    open_request("erasure", "phone", email="soon@example.com", received_at=utcnow() - timedelta(days=27))
    open_request("access", "email", email="fresh@example.com")
    db.session.commit()
    page = auth.get("/admin/")
    assert page.status_code == 200
    assert _counts(page.text) == ["3", "1", "1"]  # open, due soon, overdue


def test_a_marketer_does_not_see_the_privacy_register(client, app_ctx):
    from mailer.staff.accounts import create_staff
    from tests.support.http import login

    create_staff("marketer@example.com", "correct horse battery", "marketer")
    db.session.commit()
    login(client, "marketer@example.com", "correct horse battery")
    page = client.get("/admin/")
    assert page.status_code == 200 and "data-privacy-counts" not in page.text
