"""Visual layouts in Chromium: a new layout opens in the block editor in the brand's colour with the content
slot and the footer locked (Delete leaves them where they are) and the brand font first in the Style panel;
it is saved and previewed with sample content. A copy of a written layout switched to Visual warns first, and
switching back without a change brings its HTML back as it was. axe runs on the editor (only the canvas, the
layout being designed, left out) and on the saved layout."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.campaigns.models import Layout
from mailer.core.extensions import db
from mailer.organisation import brand
from tests.browser.conftest import assert_accessible, keyboard_login, shoot
from tests.browser.test_visual_editor import _watch, assert_accessible_outside_the_canvas


def _layout(name: str) -> Layout:
    db.session.rollback()
    return db.session.execute(select(Layout).where(Layout.name == name)).scalar_one()


def test_a_visual_layout_in_the_brand_keeps_its_footer_and_is_saved(app, page, live_server, staff_user):
    brand.save(brand.BrandInput(colour="#7a1f5c", text_colour="#ffffff", font="serif"))
    db.session.commit()
    problems = _watch(page)
    keyboard_login(page)
    page.goto("/admin/layouts")
    page.get_by_role("link", name="New visual layout").click()
    expect(page.get_by_role("heading", name="New layout")).to_be_visible()
    expect(page.get_by_role("region", name="Visual layout editor")).to_be_visible()
    expect(page.get_by_label("HTML", exact=True)).to_be_hidden()
    canvas = page.frame_locator("#visual-canvas iframe.gjs-frame")
    footer = canvas.locator("[data-mailer-lock=footer]")
    expect(footer.get_by_text("Unsubscribe")).to_be_visible()
    expect(canvas.locator("[data-mailer-lock=content]")).to_have_text("{{ content }}")
    header = canvas.locator("[data-mailer-block=header]")
    expect(header).to_have_css("background-color", "rgb(122, 31, 92)")  # the brand colour
    preview = page.frame_locator('iframe[title="Layout preview"]')
    expect(preview.get_by_text("A headline for your news")).to_be_visible()  # the slot, with sample content
    expect(page.locator('[data-preview="status"]')).to_contain_text("ready to save")

    # The footer's paragraphs and the footer itself refuse Delete; the editor's "clear" button is not offered.
    footer.locator("p").last.click()
    page.keyboard.press("Delete")
    canvas.locator("[data-mailer-lock=footer]").click(position={"x": 5, "y": 5})
    page.keyboard.press("Delete")
    expect(footer.locator("p")).to_have_count(3)
    expect(footer.get_by_text("{{ postal_address }}", exact=False)).to_be_visible()
    expect(page.get_by_role("button", name="Clear the email")).to_have_count(0)
    expect(page.locator("#visual-canvas .gjs-toolbar .gjs-toolbar-item")).to_have_count(
        1
    )  # select parent only
    assert_accessible_outside_the_canvas(page)
    shoot(page, "visual-layout-new")

    # The Style panel offers the brand's font first.
    header.click()
    page.locator(".gjs-sm-sector-title", has_text="Typography").click()
    font = page.locator(".gjs-sm-property__font-family select")
    expect(font.locator("option").first).to_have_text("Brand font")
    assert "Georgia" in font.locator("option").first.get_attribute("value")

    page.get_by_label("Name", exact=True).fill("Brand layout")
    page.get_by_role("button", name="Save layout").click()
    expect(page.get_by_role("heading", name="Brand layout")).to_be_visible()
    expect(page.get_by_text("footer complete")).to_be_visible()
    shown = page.frame_locator('iframe[title="Layout preview at desktop width"]')
    expect(shown.get_by_text("A headline for your news")).to_be_visible()
    expect(shown.get_by_role("link", name="Unsubscribe")).to_be_visible()
    assert_accessible(page)
    saved = _layout("Brand layout")
    assert saved.html_format == "visual" and saved.project and "{{ unsubscribe_url }}" in saved.html
    assert "#7a1f5c" in saved.html

    page.get_by_role("link", name="Edit").click()  # the design opens again in the editor
    expect(canvas.locator("[data-mailer-lock=footer]").get_by_text("Unsubscribe")).to_be_visible()
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems


def test_switching_a_written_layout_to_visual_warns_and_keeps_its_html(app, page, live_server, staff_user):
    problems = _watch(page)
    keyboard_login(page)
    page.goto("/admin/layouts")
    page.get_by_role("link", name="Classic card").click()
    page.get_by_role("button", name="Make a copy to edit").click()
    expect(page.get_by_role("heading", name=re.compile("Copy of Classic card"))).to_be_visible()
    html_box = page.get_by_label("HTML", exact=True)
    original = html_box.input_value()
    assert original.startswith("<!doctype html>")

    dialogs: list[str] = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.wait_for_load_state("load")  # the switch asks only once the editor's script has loaded
    page.get_by_text("Visual editor", exact=True).click()
    expect(page.get_by_role("region", name="Visual layout editor")).to_be_visible()
    assert dialogs and "comes back as it was" in dialogs[0]
    canvas = page.frame_locator("#visual-canvas iframe.gjs-frame")
    expect(canvas.get_by_text("Unsubscribe")).to_be_visible()

    page.get_by_text("HTML code", exact=True).click()  # back without a change: nothing lost
    expect(html_box).to_be_visible()
    expect(html_box).to_have_value(original)
    page.get_by_role("button", name="Save layout").click()
    expect(page.get_by_text("footer complete")).to_be_visible()
    copy = _layout("Copy of Classic card")
    assert copy.html == original.replace("\r\n", "\n") and copy.html_format == "html" and not copy.project
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
