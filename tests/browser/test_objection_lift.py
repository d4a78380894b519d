"""A person who objected to direct marketing changes their mind in the preference centre, in Chromium."""

from playwright.sync_api import expect

from mailer.consent.ledger import RequestContext
from mailer.core.extensions import db
from mailer.privacy.objection import ensure_direct_marketing_purpose, has_objected_to_marketing, object_to
from tests.browser.conftest import shoot
from tests.public.recipients import news_list, preferences_path, subscribed_contact
from tests.support.signup import contact_by_email


def test_i_want_marketing_again_then_subscribe(app, page, live_server):
    with app.app_context():
        news = news_list("News")
        olga = subscribed_contact("olga@example.com", [news], name="Olga")
        object_to(olga, [ensure_direct_marketing_purpose()], RequestContext("test"))
        db.session.commit()
        path = preferences_path(app, olga)

    page.goto(path)
    expect(page.get_by_role("heading", name="You objected to direct marketing")).to_be_visible()
    expect(page.get_by_label("Yes, send me “News” by email.")).not_to_be_checked()
    shoot(page, "preferences-objected")
    page.get_by_role("button", name="I want your marketing emails again").click()
    expect(page.get_by_role("status").first).to_contain_text("your objection to direct marketing is lifted")
    expect(page.get_by_role("button", name="I want your marketing emails again")).to_have_count(0)

    page.get_by_label("Yes, send me “News” by email.").check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status").first).to_contain_text("You're now subscribed to or agreed to: News")
    with app.app_context():
        olga = contact_by_email("olga@example.com")
        assert not has_objected_to_marketing(olga)
        assert [s.status for s in olga.subscriptions] == ["confirmed"]
