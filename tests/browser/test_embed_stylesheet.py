"""The snippet's own small stylesheet on another website, on a phone: 16px inputs, 44px targets, help texts
shown, answers told apart by an icon, a word and a role as well as colour; the host page is untouched, the
opt-out attribute leaves the form to the host's styles, and the plain form still works without JavaScript."""

from playwright.sync_api import expect

from mailer.core.extensions import db
from tests.browser.conftest import admin_snippet, shoot
from tests.browser.test_embed_cross_origin import LIST_BOX, partner_page
from tests.support.accessibility import accessibility_violations
from tests.support.privacy import ask_on_form, define_fields

HOST_CSS = "<style>body { font: 13px Georgia, serif; margin: 8px; } p { color: #333; }</style>"


def _box(locator) -> dict:
    return locator.evaluate(
        "e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);"
        " return {w: r.width, h: r.height, font: parseFloat(s.fontSize)}; }"
    )


def _phone(browser, live_server, **options):
    context = browser.new_context(viewport={"width": 390, "height": 844}, **options)
    return context, context.new_page()


def test_the_snippet_on_a_phone(app, browser, live_server, other_site, demo_form, staff_user):
    fields = define_fields()
    ask_on_form(demo_form, fields["postcode"], label="Postcode")
    fields["postcode"].help_text = "Only to tell you about events near you."
    db.session.commit()
    snippet = admin_snippet(app, demo_form.public_id)
    assert 'class="mailer-form"' in snippet and "/static/embed.css" in snippet
    url = partner_page(other_site, HOST_CSS + snippet)
    context, page = _phone(browser, live_server)
    page.goto(url)

    email = page.get_by_label("Email address")
    assert _box(email)["font"] >= 16 and _box(email)["h"] >= 44
    assert _box(email)["w"] <= 390
    consent = page.locator("label.mailer-check").filter(has_text=LIST_BOX)
    assert _box(consent)["h"] >= 44 and _box(page.get_by_label(LIST_BOX))["w"] >= 24
    button = page.get_by_role("button", name="Subscribe")
    assert _box(button)["h"] >= 44
    help_text = page.get_by_text("Only to tell you about events near you.")
    expect(help_text).to_be_visible()
    expect(page.get_by_label("Postcode (optional)")).to_have_accessible_description(
        "Only to tell you about events near you."
    )
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert page.locator("body").evaluate("b => getComputedStyle(b).fontSize") == "13px"  # the host's own
    assert accessibility_violations(page, "form.mailer-form") == []

    email.fill("ann@example.com")
    button.click()  # no list ticked: refused, with an icon and role=alert
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    icon = alert.evaluate("e => getComputedStyle(e, '::before').content")
    assert "!" in icon
    error_border = alert.evaluate("e => getComputedStyle(e).borderTopStyle")
    shoot(page, "embed-phone-error", full_page=False)

    page.get_by_label(LIST_BOX).check()
    button.click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Please check your inbox")
    assert "✓" in status.evaluate("e => getComputedStyle(e, '::before').content")
    assert status.evaluate("e => getComputedStyle(e).borderTopStyle") != error_border  # not by colour alone
    assert accessibility_violations(page, "form.mailer-form") == []
    shoot(page, "embed-phone-success", full_page=False)
    context.close()


def test_opt_out_and_without_javascript(app, browser, live_server, other_site, demo_form, staff_user):
    snippet = admin_snippet(app, demo_form.public_id)
    snippet = snippet.replace("data-mailer-form", "data-mailer-form data-mailer-unstyled")  # the opt-out
    url = partner_page(other_site, HOST_CSS + snippet)
    context, page = _phone(browser, live_server, java_script_enabled=False)
    page.goto(url)
    email = page.get_by_label("Email address")
    assert _box(email)["font"] < 16  # left to the host page's styles
    email.fill("bob@example.com")
    page.get_by_label(LIST_BOX).check()
    page.get_by_role("button", name="Subscribe").click()  # a plain POST to the hosted page
    expect(page.get_by_role("button", name="Subscribe")).to_be_visible()
    assert page.url.startswith(live_server)
    context.close()
