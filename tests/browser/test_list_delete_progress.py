"""In Chromium: an owner deletes a list of more than one batch; the list is gone at once and the admin shows
"Deleting… n of m" with its progress (on the lists page, the list's page and the job's live page) until the
background job has ended every subscription; axe-core on every page on the way (issue 13)."""

from playwright.sync_api import expect

from mailer.bulk import operations as bulk
from mailer.core.extensions import db
from mailer.subscriptions import lists as list_service
from mailer.subscriptions.lists import create_list
from tests.browser.conftest import assert_accessible, keyboard_login
from tests.public.recipients import subscribed_contact


def test_deleting_a_big_list_shows_its_progress_until_done(
    app, app_ctx, page, live_server, staff_user, monkeypatch
):
    monkeypatch.setattr(list_service, "DELETE_BATCH", 5)
    news = create_list("Weekly recipes")
    db.session.commit()
    for n in range(12):
        subscribed_contact(f"r{n}@example.com", [news])
    keyboard_login(page)
    page.goto(f"/admin/lists/{news.public_id}/delete")
    page.locator("#confirm_name").fill("Weekly recipes")
    page.get_by_role("button", name="Delete the list").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete the list “Weekly recipes”")
    expect(page.get_by_text("0 of 12 contacts")).to_be_visible()
    assert_accessible(page)

    page.goto("/admin/lists")
    expect(page.get_by_role("status").filter(has_text="Deleting… 0 of 12")).to_be_visible()
    assert_accessible(page)
    job = bulk.unfinished_list_deletions()[0]
    assert bulk.run_batch(job.id) is True  # the worker ends the first batch
    page.reload()
    expect(
        page.get_by_role("status").filter(has_text="Deleting… 5 of 12 subscriptions ended.")
    ).to_be_visible()
    page.get_by_role("link", name="Weekly recipes").click()
    expect(page.get_by_role("status")).to_contain_text("Deleting… 5 of 12 subscriptions ended.")
    assert_accessible(page)
    page.get_by_role("link", name="Follow the progress").click()
    expect(page.get_by_text("5 of 12 contacts")).to_be_visible()
    bulk.run_job(job.id)  # the rest: the live page follows by itself
    expect(page.get_by_text("Status: done")).to_be_visible(timeout=15000)
    expect(page.get_by_text("12 of 12 contacts")).to_be_visible()
    assert_accessible(page)
    page.goto("/admin/lists")
    expect(page.get_by_text("Deleting…")).to_have_count(0)
