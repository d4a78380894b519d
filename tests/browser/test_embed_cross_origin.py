"""The admin's copy-paste snippet on another website, in a real browser: sign up, get the email, confirm."""

from playwright.sync_api import expect
from sqlalchemy import func, select

from mailer.consent.models import ConsentEvent
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.subscriptions.models.lists import Subscription
from tests.browser.conftest import admin_snippet, shoot
from tests.support.http import confirm_link

LIST_BOX = "Yes, send me “Demo newsletter” by email."


def partner_page(other_site, snippet: str) -> str:
    """A page on a different origin with the snippet pasted into it, as a site owner would."""
    return other_site.write(
        "index.html",
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Partner blog</title></head>
<body><h1>The partner blog</h1><p>Read our posts, and sign up below.</p>
{snippet}
</body></html>""",
    )


def count(model) -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_snippet_on_another_origin_signs_up_and_confirms(
    app, page, live_server, other_site, demo_form, staff_user, worker, smtp_server
):
    url = partner_page(other_site, admin_snippet(app, demo_form.public_id))
    assert not url.startswith(live_server)  # really another origin

    page.goto(url)
    page.get_by_label("Email address").fill("ann@example.com")
    page.get_by_label("Name (optional)").fill("Ann")
    page.get_by_label(LIST_BOX).check()
    page.get_by_role("button", name="Subscribe").click()

    message = page.get_by_role("status")
    expect(message).to_contain_text("Please check your inbox")
    expect(page).to_have_url(url)  # answered inline: the visitor stays on the partner site
    expect(page.get_by_label("Email address")).to_have_value("")
    shoot(page, "embed-partner-success")

    worker.drain()
    [received] = smtp_server.to("ann@example.com")
    link = confirm_link(received.data, live_server)

    page.goto(link)  # the page's script presses the button for the person
    expect(page.get_by_role("heading", name="Thank you — you're subscribed")).to_be_visible()
    expect(page.get_by_text("You will receive: Demo newsletter")).to_be_visible()
    shoot(page, "confirmed")

    db.session.expire_all()
    sub = db.session.execute(select(Subscription)).scalar_one()
    assert sub.status == "confirmed" and sub.confirmed_at is not None
    actions = db.session.execute(select(ConsentEvent.action).order_by(ConsentEvent.id)).scalars().all()
    assert actions == ["requested", "confirmation_sent", "confirmed"]
    requested = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.action == "requested")
    ).scalar_one()
    assert "Chrome" in requested.user_agent and requested.ip == "127.0.0.1"


def test_snippet_on_an_origin_not_allowed_is_refused_inline(
    app, page, live_server, other_site, demo_form, staff_user, worker
):
    demo_form.allowed_origins = "https://www.example.com"
    db.session.commit()
    url = partner_page(other_site, admin_snippet(app, demo_form.public_id))

    page.goto(url)
    page.get_by_label("Email address").fill("ann@example.com")
    page.get_by_label(LIST_BOX).check()
    page.get_by_role("button", name="Subscribe").click()

    error = page.get_by_role("alert")
    expect(error).to_contain_text("We couldn't send your sign-up from this page.")
    expect(page.get_by_role("button", name="Subscribe")).to_be_enabled()
    shoot(page, "embed-partner-refused")
    # The visitor is offered the form's own page, which works on the form's own origin.
    page.get_by_role("link", name="Sign up on our page instead.").click()
    expect(page).to_have_url(f"{live_server}/f/demo")
    expect(page.get_by_role("heading", name="Subscribe to the demo newsletter")).to_be_visible()

    worker.drain()
    assert count(Contact) == 0
    assert count(ConsentEvent) == 0
    assert count(OutboxMessage) == 0


def test_snippet_without_javascript_asks_to_press_once_more(
    app, nojs_page, live_server, other_site, demo_form, staff_user, worker
):
    page = nojs_page
    url = partner_page(other_site, admin_snippet(app, demo_form.public_id))

    page.goto(url)
    page.get_by_label("Email address").fill("bea@example.com")
    page.get_by_label(LIST_BOX).check()
    page.get_by_role("button", name="Subscribe").click()

    # Without the script the snippet has no fill timer: the hosted page keeps what was entered and asks again.
    expect(page).to_have_url(f"{live_server}/f/demo")
    expect(page.get_by_role("alert")).to_contain_text("press the button once more")
    expect(page.get_by_label("Email address")).to_have_value("bea@example.com")
    expect(page.get_by_label(LIST_BOX)).to_be_checked()
    assert count(Contact) == 0
    shoot(page, "embed-nojs-once-more")

    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Almost done")).to_be_visible()
    expect(page.get_by_text("Please check your inbox")).to_be_visible()
    shoot(page, "embed-nojs-thanks")

    worker.drain()
    contact = db.session.execute(select(Contact)).scalar_one()
    assert contact.email == "bea@example.com"
    assert [s.status for s in contact.subscriptions] == ["pending"]
    assert count(OutboxMessage) == 1
