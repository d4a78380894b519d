"""A/B variant of a visual campaign in Chromium: from the A/B test page, variant B's content opens in the
block editor on the campaign's design, a heading is rewritten with a merge field, saved, and previewed as a
chosen contact with the merge field filled; axe runs on the editor (the canvas left out), the A/B page and
the preview."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.campaigns.models import AbVariant
from mailer.core.extensions import db
from tests.browser.conftest import assert_accessible, keyboard_login, shoot
from tests.browser.test_visual_editor import _watch
from tests.campaigns.test_ab_visual_variants import visual_ab_campaign
from tests.support.accessibility import accessibility_violations


def test_a_variant_made_in_the_visual_editor_is_saved_and_previewed_as_a_contact(
    app, page, live_server, staff_user
):
    campaign = visual_ab_campaign(2)
    problems = _watch(page)
    keyboard_login(page)
    page.goto(f"/admin/campaigns/{campaign.public_id}/ab-test")
    assert_accessible(page)
    page.get_by_role("link", name="Edit the content of variant B in the visual editor").click()
    expect(page.get_by_role("heading", name="Content of Variant B")).to_be_visible()
    expect(page.get_by_role("region", name="Visual editor of Variant B")).to_be_visible()
    canvas = page.frame_locator("#visual-canvas iframe.gjs-frame")
    heading = canvas.get_by_role("heading", name="Spring news")  # the campaign's design to start from
    expect(heading).to_be_visible()

    heading.dblclick()
    expect(heading).to_have_attribute("contenteditable", "true")  # editing: typing goes in
    page.keyboard.press("Control+a")
    page.keyboard.type('Pears for {{ contact.first_name | default("you") }}')
    canvas.get_by_text("Apples are in.").click()  # leave the text: the editor commits it
    expect(page.locator("textarea[name=body]")).to_have_value(re.compile(r"Pears for \{\{ contact"))
    violations = accessibility_violations(page, context={"exclude": [["#visual-canvas iframe.gjs-frame"]]})
    assert not violations, "\n".join(violations)
    shoot(page, "ab-variant-visual-editor")

    page.get_by_role("button", name="Save the content of Variant B").click()
    expect(page.get_by_text("The content of Variant B was saved.")).to_be_visible()
    own = page.locator("#variant-B [data-variant-content]")
    expect(own).to_contain_text("Its own content (Visual editor).")
    db.session.rollback()
    variant = db.session.execute(
        select(AbVariant).where(AbVariant.campaign_id == campaign.id, AbVariant.position == 1)
    ).scalar_one()
    assert variant.body_format == "visual" and variant.body_project and 'default("you")' in variant.body

    page.get_by_role("link", name="Preview variant B").click()
    page.get_by_role("textbox", name=re.compile("^Preview as")).fill("p1@example.net")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Showing the email as p1@example.net would receive it.")).to_be_visible()
    preview = page.frame_locator('iframe[title="Email preview at desktop width"]')
    expect(preview.get_by_role("heading", name="Pears for P1")).to_be_visible()
    expect(page.get_by_text("Subject B")).to_be_visible()
    assert_accessible(page)
    shoot(page, "ab-variant-preview")
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
