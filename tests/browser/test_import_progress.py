"""A marketer watches a large import run: the page shows rows done of the total, the rate since the worker
started and about how long is left, updated in place while it runs, then the final summary."""

import io
import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.contacts.models.imports import ContactImport
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions import imports
from mailer.subscriptions.models.lists import MailingList
from tests.browser.conftest import assert_accessible, keyboard_login, shoot


def _move(public_id: str, **values) -> None:
    """What the worker writes as it commits each batch."""
    job = db.session.execute(select(ContactImport).where(ContactImport.public_id == public_id)).scalar_one()
    for key, value in values.items():
        setattr(job, key, value)
    db.session.commit()


def test_the_import_page_shows_rows_done_the_rate_and_the_time_left_while_it_runs(
    app, page, live_server, demo_form, staff_user
):
    mailing_list = db.session.execute(select(MailingList)).scalar_one()
    job = imports.create_import(
        imports.ImportRequest(
            "big.csv", io.BytesIO(b"email\nann@example.com\n"), mailing_list, "double_opt_in"
        ),
        staff_user.id,
    )
    imports.confirm_mapping(job, ["email"], queue=False)
    # A running import of 300,000 rows, half done after 10,000 s: 15 rows a second, 10,000 s to go.
    job.status, job.total_rows, job.processed_rows, job.invited = "running", 300_000, 150_000, 149_000
    job.started_at = utcnow() - timedelta(seconds=10_000)
    db.session.commit()
    public_id = job.public_id

    keyboard_login(page)
    page.goto(f"/admin/imports/{public_id}")
    status = page.locator("#import-progress")
    expect(status).to_contain_text("Status: running · 150,000 of 300,000 rows done · 15 rows a second")
    expect(status).to_contain_text("about 2 h 47 min left")
    expect(page.get_by_role("progressbar", name="Import progress")).to_have_attribute("aria-valuenow", "50")
    assert_accessible(page)
    shoot(page, "import-progress")

    _move(public_id, processed_rows=240_000, invited=239_000)  # the next batches committed
    expect(status).to_contain_text("240,000 of 300,000 rows done · 24 rows a second")  # polled, no reload
    expect(status).to_contain_text(re.compile(r"about \d+ min left"))
    expect(page.get_by_role("progressbar", name="Import progress")).to_have_attribute("aria-valuenow", "80")

    _move(public_id, status="done", processed_rows=300_000, invited=299_000, finished_at=utcnow())
    expect(status).to_contain_text("Status: done · 300,000 of 300,000 rows done")  # the page reloaded
    expect(status).not_to_contain_text("left")
    assert_accessible(page)
