"""The template gallery: every starter, in every format it offers, renders as email-client-safe HTML
(tables for layout, styles inlined, no script, nothing wider than 640 px, alt text on every image); a
campaign saved as a template comes back in the gallery and starts a new campaign with its content."""

import re

import pytest

from mailer.campaigns import drafts, gallery
from mailer.campaigns import layouts as layout_service
from mailer.campaigns.rendering import render_campaign
from mailer.core.extensions import db
from tests.support.campaigns import newsletter
from tests.support.http import csrf_token

CASES = [(item.key, fmt) for item in gallery.STARTERS for fmt in gallery.formats(item)]
_WIDTH_ATTR = re.compile(r'\bwidth="(\d+)"', re.I)
_WIDTH_STYLE = re.compile(r"(?<![-\w])(?:max-)?width\s*:\s*(\d+)px", re.I)


def email_safety_problems(html: str) -> list[str]:
    """What would break or look wrong in mail programs (Outlook, Gmail, Apple Mail) in one HTML part."""
    problems = []
    lowered = html.lower()
    if "<script" in lowered:
        problems.append("a <script>")
    for name in ("display:flex", "display: flex", "display:grid", "display: grid", "float:"):
        if name in lowered:
            problems.append(f"CSS layout that mail programs ignore ({name})")
    if "<table" not in lowered:
        problems.append("no table for the layout")
    widths = [int(w) for w in _WIDTH_ATTR.findall(html) + _WIDTH_STYLE.findall(html)]
    if any(width > 640 for width in widths):
        problems.append(f"something wider than 640 px ({max(widths)} px)")
    for tag in re.findall(r"<img\b[^>]*>", html, re.I):
        alt = re.search(r'\balt="([^"]*)"', tag)
        if alt is None or (not alt.group(1).strip() and 'width="1"' not in tag):
            problems.append(f"an image without alt text: {tag[:80]}")
    body = html.split("<body", 1)[-1]
    # Inlined: the text elements carry their style, and so does every element a <style> rule chose by class.
    for tag in re.findall(r"<(?:p|a|h1|h2|h3|li)\b[^>]*>|<\w+\b[^>]*\bclass=[^>]*>", body, re.I):
        if "style=" not in tag and 'class="preheader"' not in tag:
            problems.append(f"an element without inline style: {tag[:80]}")
    return problems


@pytest.mark.parametrize(("key", "body_format"), CASES)
def test_every_starter_renders_as_email_safe_html(app_ctx, key, body_format):
    layout_service.ensure_builtin_layouts()
    fields = gallery.starter_fields(gallery.starter(key), body_format)
    assert fields.body_format == body_format and fields.layout_id
    campaign = drafts.preview_campaign(fields)
    rendered = render_campaign(campaign)
    assert email_safety_problems(rendered.html) == []
    assert "GALLERY_ASSETS" not in rendered.html
    assert "Jane" in rendered.html or "friend" in rendered.html or key == "announcement"
    assert "unsubscribe" in rendered.text.lower()  # the layout's footer, in the generated text part


def test_starter_images_are_served(app, client, app_ctx):
    fields = gallery.starter_fields(gallery.starter("newsletter"), "html")
    for src in re.findall(r'src="([^"]+)"', fields.body):
        answer = client.get(src.split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
        assert answer.status_code == 200 and answer.mimetype == "image/png", src


def test_gallery_pages_and_saving_a_campaign_as_a_template(app, auth, client, app_ctx):
    campaign, _ = newsletter(1, from_email="news@example.com")
    page = client.get("/admin/campaigns/gallery")
    assert page.status_code == 200
    for item in gallery.STARTERS:
        assert str(item.name) in page.text  # a lazy translation: English here
        thumb = client.get(f"/admin/campaigns/gallery/{item.key}/preview.html")
        assert thumb.status_code == 200 and "sandbox" in thumb.headers["Content-Security-Policy"]
        assert "<table" in thumb.text
    assert "None yet." in page.text
    assert client.get("/admin/campaigns/gallery/nothing/preview.html").status_code == 404

    start = client.get("/admin/campaigns/new?starter=event&format=markdown")
    assert start.status_code == 200
    assert "Spring open evening" in start.text  # event has no Markdown variant: it opens as Visual
    assert "checked" in re.search(r'<input[^>]*value="visual"[^>]*>', start.text).group(0)

    token = csrf_token(start.text)
    refused = client.post(
        f"/admin/campaigns/{campaign.public_id}/save-as-template",
        data={"csrf_token": token, "template_name": " "},
    )
    assert refused.status_code == 302
    assert "Give the template a name." in client.get(refused.headers["Location"]).text
    saved = client.post(
        f"/admin/campaigns/{campaign.public_id}/save-as-template",
        data={"csrf_token": token, "template_name": "Our spring layout"},
        follow_redirects=True,
    )
    assert "Saved as the template “Our spring layout”" in saved.text
    template = gallery.saved_templates()[0]
    assert template.body == campaign.body and template.layout_id == campaign.layout_id

    page = client.get("/admin/campaigns/gallery")
    assert "Our spring layout" in page.text
    assert client.get(f"/admin/campaigns/templates/{template.public_id}/preview.html").status_code == 200
    start = client.get(f"/admin/campaigns/new?template={template.public_id}")
    assert start.status_code == 200 and campaign.subject.replace("'", "&#39;") in start.text

    deleted = client.post(
        f"/admin/campaigns/templates/{template.public_id}/delete",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Template “Our spring layout” deleted." in deleted.text
    db.session.expire_all()
    assert gallery.saved_templates() == []
