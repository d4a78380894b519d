"""The campaign editor in visual mode passes axe-core (WCAG 2.2 AA) with the block editor's own panels
checked too: toolbar, blocks, layers, style manager (a sector open), settings and the image picker. Only the
canvas iframe is left out: it is the email being designed, whose HTML is the marketer's (the gallery's
starters are checked for email-safe markup and alt texts in tests/campaigns/test_gallery.py)."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import keyboard_login, shoot
from tests.support.accessibility import accessibility_violations

OUTSIDE_THE_EMAIL = {"exclude": [["#visual-canvas iframe.gjs-frame"]]}


def _open(page, name: str) -> None:
    """Show one of the editor's panels with its toolbar button (a second press would close it)."""
    button = page.get_by_role("button", name=name, exact=True)
    if button.get_attribute("aria-pressed") != "true":
        button.focus()
        page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-pressed", "true")


@pytest.mark.config(SEED_DEMO=True)
def test_the_visual_editor_and_its_panels_pass_axe(app, page, live_server, demo_form, staff_user, media_dir):
    keyboard_login(page)
    page.goto("/admin/campaigns/gallery")
    page.get_by_role("link", name="Use Newsletter in the Visual editor").click()
    canvas = page.frame_locator("#visual-canvas iframe.gjs-frame")
    expect(canvas.locator("h1").first).to_be_visible()
    found = {"editor": accessibility_violations(page, context=OUTSIDE_THE_EMAIL)}
    canvas.locator("p").first.click()
    for name in ("Style", "Settings", "Layers", "Blocks"):
        _open(page, name)
        if name == "Style":
            page.locator(".gjs-sm-sector-title").first.click()
            expect(page.locator(".gjs-sm-property").first).to_be_visible()
        found[name] = accessibility_violations(page, context=OUTSIDE_THE_EMAIL)
        shoot(page, f"visual-editor-{name.lower()}-panel")
    canvas.locator("img").first.dblclick()
    expect(page.locator(".gjs-mdl-dialog")).to_be_visible()
    found["image picker"] = accessibility_violations(page, context=OUTSIDE_THE_EMAIL)
    assert not any(found.values()), "\n".join(f"{state}: {v}" for state, vs in found.items() for v in vs)
