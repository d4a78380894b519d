"""The brand in the visual editor, in Chromium: the picker's first swatches are the brand's colours, and
choosing one colours the block; saving a new brand on Settings → Organisation updates the visual layout (the
header and the block coloured from the swatch), the page says how many layouts follow the brand, and the
editor then offers the new colours. axe runs on the brand page and on the editor outside its canvas."""

from playwright.sync_api import expect
from sqlalchemy import select

from mailer.campaigns import layouts
from mailer.campaigns.models import Layout
from mailer.core.extensions import db
from mailer.organisation import brand
from tests.browser.conftest import assert_accessible, keyboard_login, shoot
from tests.browser.test_visual_editor import _watch, assert_accessible_outside_the_canvas

WORDS = layouts.StartWords(
    why="You receive this email because you subscribed to news from {{ organisation }}.",
    preferences="Manage your preferences",
    unsubscribe="Unsubscribe",
    privacy="Privacy notice",
)


def _layout() -> Layout:
    db.session.rollback()
    return db.session.execute(select(Layout).where(Layout.name == "Brand layout")).scalar_one()


def _swatches(page) -> list[str]:
    """The colours of the open colour picker's first row of swatches, as the page shows them."""
    row = page.locator(".sp-container:not(.sp-hidden) .sp-palette-row-0 .sp-thumb-el")
    expect(row.first).to_be_visible()
    return [el.evaluate("e => getComputedStyle(e.firstElementChild).backgroundColor") for el in row.all()]


def _open_text_colour(page) -> None:
    typography = page.locator(".gjs-sm-sector-title", has_text="Typography")
    if page.locator(".gjs-sm-property__color").first.is_hidden():
        typography.click()
    page.locator(".gjs-sm-property__color .gjs-field-color-picker").first.click()


def test_brand_swatches_colour_a_block_and_a_new_brand_reaches_the_layout(app, page, live_server, staff_user):
    brand.save(brand.BrandInput(colour="#7a1f5c", text_colour="#ffffff", font="serif"))
    layout = layouts.save_layout(
        "Brand layout", layouts.visual_start_html(brand.current(), WORDS), html_format="visual"
    )
    db.session.commit()
    problems = _watch(page)
    keyboard_login(page)
    page.goto(f"/admin/layouts/{layout.public_id}/edit")
    canvas = page.frame_locator("#visual-canvas iframe.gjs-frame")
    paragraph = canvas.locator(
        "[data-mailer-lock=footer] p"
    ).last  # "{{ organisation }} · {{ postal_address }}"
    expect(paragraph).to_be_visible()
    paragraph.click()
    _open_text_colour(page)
    assert _swatches(page)[:2] == ["rgb(122, 31, 92)", "rgb(255, 255, 255)"]  # the brand's two colours first
    shoot(page, "brand-swatches")
    page.locator(".sp-container:not(.sp-hidden) .sp-palette-row-0 .sp-thumb-el").first.click()
    page.locator(".sp-container:not(.sp-hidden) .sp-choose").click()
    expect(paragraph).to_have_css("color", "rgb(122, 31, 92)")
    assert_accessible_outside_the_canvas(page)
    page.get_by_role("button", name="Save layout").click()
    expect(page.get_by_role("heading", name="Brand layout")).to_be_visible()
    assert _layout().html.count("#7a1f5c") >= 5  # header, three footer links and the paragraph

    page.goto("/admin/organisation#brand")
    expect(page.locator("#brand-layouts")).to_contain_text("1 visual layout follows the brand")
    assert_accessible(page)
    page.get_by_label("Brand colour", exact=True).fill("#0b5d3b")
    page.get_by_role("button", name="Save brand").click()
    expect(page.get_by_text("Brand saved. 1 visual layout now shows the new brand.")).to_be_visible()
    saved = _layout()
    assert "#7a1f5c" not in saved.html and saved.html.count("#0b5d3b") >= 5

    page.goto(f"/admin/layouts/{layout.public_id}/edit")
    header = canvas.locator("[data-mailer-block=header]")
    expect(header).to_have_css("background-color", "rgb(11, 93, 59)")  # the new brand colour
    expect(paragraph).to_have_css("color", "rgb(11, 93, 59)")  # chosen from the brand swatch: follows too
    paragraph.click()
    _open_text_colour(page)
    assert _swatches(page)[:2] == ["rgb(11, 93, 59)", "rgb(255, 255, 255)"]
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
