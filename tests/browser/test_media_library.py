"""The media library in Chromium: upload an image, put it in a campaign, send a test, and the image in the
mail (as the outbox shows it) loads from its public URL with a year's immutable caching."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, keyboard_login, shoot
from tests.support.media import photo


@pytest.mark.config(SEED_DEMO=True)
def test_upload_use_in_a_campaign_and_the_sent_image_loads(
    app, page, live_server, demo_form, staff_user, worker, media_dir
):
    keyboard_login(page)
    nav = page.get_by_role("navigation", name="Main")
    nav.locator("summary", has_text="Settings").click()  # the Settings menu
    nav.get_by_role("link", name="Media library").click()
    expect(page.get_by_role("heading", name="Media", exact=True)).to_be_visible()
    expect(page.get_by_text("No images yet.")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Image (JPEG, PNG, GIF or WebP)").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"just some text, named .png"}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("[data-media-problem]")).to_contain_text("This file is not an image we accept")

    page.get_by_label("Image (JPEG, PNG, GIF or WebP)").set_input_files(
        files=[{"name": "market.jpg", "mimeType": "image/jpeg", "buffer": photo()}]
    )
    page.get_by_label("Alt text: what the image shows").fill("Our stall at the market")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_contain_text("Image uploaded (1600×900 px)")
    card = page.get_by_role("listitem").filter(has_text="market.jpg")
    expect(card.get_by_role("img", name="Our stall at the market")).to_be_visible()
    assert card.get_by_role("img").evaluate("img => img.naturalWidth") == 600
    assert_accessible(page)
    shoot(page, "media-library")
    markdown = card.get_by_label("Markdown").input_value()
    assert markdown.startswith("![Our stall at the market](http://127.0.0.1:")

    nav.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="Demo: first newsletter").click()
    page.get_by_role("link", name="Edit").click()
    body = page.get_by_label("Body", exact=True)
    body.press("Control+Home")
    body.type(markdown + "\n\n")
    preview = page.frame_locator('iframe[title="Email preview"]')
    try:
        expect(preview.get_by_role("img", name="Our stall at the market")).to_be_visible()
    except AssertionError as failure:  # failed twice in full CI runs, never here: say what the preview held
        frame = page.locator('iframe[title="Email preview"]')
        shown = frame.evaluate(
            "f => [f.getAttribute('src'), (f.getAttribute('srcdoc') || '').includes('Our stall'),"
            " f.contentDocument && f.contentDocument.URL,"
            " f.contentDocument && f.contentDocument.documentElement.outerHTML.includes('Our stall')]"
        )
        raise AssertionError(
            f"{failure}\nthe Body held the image: {'Our stall' in body.input_value()}; the iframe's src, its "
            f"srcdoc holds the image, its document's URL, its document holds the image: {shown}"
        ) from None
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()

    page.get_by_label("Addresses").fill("me@example.com")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("[data-test-sent]")).to_contain_text("sent to me@example.com")
    worker.drain()

    nav.locator("summary", has_text="Settings").click()
    page.goto("/admin/outbox")  # Outbox sits under the Settings menu now
    page.get_by_role("row").filter(has_text="me@example.com").get_by_role("link").click()
    image = page.frame_locator('iframe[title="HTML part"]').get_by_role("img", name="Our stall at the market")
    expect(image).to_be_visible()
    src = image.get_attribute("src")
    assert src in markdown
    answer = page.request.get(src)
    assert answer.status == 200 and answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.body()[:2] == b"\xff\xd8"
