"""In Chromium: a marketer who types a template over the
limits sees why in the live preview, never a broken page."""

import pytest
from playwright.sync_api import expect

from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from tests.browser.conftest import keyboard_login

MARKETER = "marketer@example.com"
PASSWORD = "correct horse battery"
RECURSIVE_MACRO = "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}"
NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


@pytest.mark.config(TEMPLATE_RENDER_SECONDS=0.5)
def test_the_editors_explain_template_limits(app, page, live_server, demo_form):
    create_staff(MARKETER, PASSWORD, "marketer")
    db.session.commit()
    keyboard_login(page, MARKETER, PASSWORD)

    page.goto("/admin/campaigns/new")
    body = page.get_by_label("Body", exact=True)
    error = page.locator('[data-preview="error"]')
    body.fill(RECURSIVE_MACRO)
    expect(error).to_contain_text("more than 40 levels deep")
    body.fill("{{ 'a' * 30000000 }}")
    expect(error).to_contain_text("The template produces more than 1 MB")
    body.fill(NESTED_LOOPS)
    expect(error).to_contain_text("The template takes too long to render")
    body.fill("# Hello {{ contact.first_name }}")
    expect(error).to_be_hidden()
    preview = page.frame_locator('iframe[title="Email preview"]')
    expect(preview.get_by_role("heading", name="Hello Jane")).to_be_visible()

    page.goto("/admin/layouts/new")
    html = page.get_by_label("HTML", exact=True)
    html.press("Control+Home")
    html.type(NESTED_LOOPS)
    expect(page.locator('[data-layout="problem-list"]')).to_contain_text(
        "The template takes too long to render"
    )
