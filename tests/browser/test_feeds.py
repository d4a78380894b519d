"""In Chromium: a marketer creates a feed campaign (RSS-to-email) against a feed the test serves on loopback
(let through by MAILER_OUTBOUND_ALLOW_HOSTS, as in tests/feeds), runs it now, sees the run and the campaign it
made listed (and the email arrives), then resumes and pauses it, with the outcome of each action next to the
buttons; axe finds nothing in any state of the pages."""

import pytest
from playwright.sync_api import Page, expect

from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from tests.browser.conftest import assert_accessible, keyboard_login, shoot
from tests.feeds.test_feeds import FIRST, rss
from tests.support.campaigns import make_layout, subscriber, wait_for
from tests.support.receiver import Answer, Receiver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.config(MAILER_OUTBOUND_ALLOW_HOSTS=["127.0.0.1"], SEND_RATE_PER_SECOND=0),
]


@pytest.fixture
def feed_server():
    receiver = Receiver().start()
    receiver.answers = [Answer(body=rss(FIRST), headers={"Content-Type": "application/rss+xml"})]
    yield receiver
    receiver.stop()


def _buttons(page: Page) -> list[str]:
    return page.locator("#actions button").all_inner_texts()


def test_create_run_pause_and_resume_a_feed(
    app, app_ctx, page: Page, live_server, staff_user, worker, smtp_server, feed_server
):
    news = create_list("Garden news")
    subscriber(news, "ann@example.com", "Ann")
    make_layout()
    db.session.commit()

    keyboard_login(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Feeds").click()
    expect(page.get_by_text("No feed campaigns yet.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="New feed campaign").click()
    page.get_by_label("Name").fill("Garden digest")
    page.get_by_label("Feed address (RSS or Atom)").fill(feed_server.url("/feed.xml"))
    page.get_by_label("List the campaigns are sent to").select_option(label="Garden news")
    expect(page.get_by_label("Send through")).to_contain_text("The default relay (SMTP_URL)")
    assert_accessible(page)
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Garden digest")
    expect(page.locator("[data-feed-status]")).to_have_text("Paused")
    expect(page.get_by_text("Sent through the default relay")).to_be_visible()
    expect(page.get_by_text("No runs yet.")).to_be_visible()
    assert _buttons(page) == ["Resume", "Run now"]
    assert_accessible(page)

    page.get_by_role("button", name="Run now").click()
    feedback = page.get_by_role("status")
    expect(feedback).to_have_text("New items were sent as a campaign.")
    run = page.get_by_role("row", name="(run now)")
    expect(run).to_contain_text("Campaign Garden digest ·")
    expect(run.get_by_role("cell").nth(1)).to_have_text("1")  # items found
    assert _buttons(page) == ["Resume", "Run now"]  # still paused: a run now does not resume it
    assert_accessible(page)
    shoot(page, "admin-feed-after-run")
    wait_for(lambda: smtp_server.to("ann@example.com"), timeout=600, what="the feed's campaign to arrive")
    assert smtp_server.to("ann@example.com")[0].message["Subject"] == "Garden blog: Spring planting"

    page.get_by_role("button", name="Resume").click()
    expect(feedback).to_have_text("Resumed: it runs on its schedule.")
    expect(page.locator("[data-feed-status]")).to_have_text("Running")
    expect(page.get_by_text("next run")).to_be_visible()
    assert _buttons(page) == ["Pause", "Run now"]
    assert_accessible(page)

    page.get_by_role("button", name="Run now").click()
    expect(feedback).to_have_text("Nothing new in the feed: no email was sent.")
    expect(page.get_by_role("row").filter(has_text="Nothing new")).to_have_count(1)
    assert_accessible(page)

    page.get_by_role("button", name="Pause").click()
    expect(feedback).to_have_text("Paused: no scheduled run until you resume it.")
    expect(page.locator("[data-feed-status]")).to_have_text("Paused")
    assert _buttons(page) == ["Resume", "Run now"]
    assert_accessible(page)

    page.get_by_role("link", name="Garden digest ·").click()  # the campaign the run made
    expect(page.get_by_role("heading", level=1)).to_contain_text("Garden digest ·")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Feeds").click()
    expect(page.get_by_role("row", name="Garden digest")).to_contain_text("Paused")
    assert_accessible(page)
