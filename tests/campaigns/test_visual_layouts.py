"""Visual layouts: a layout made in the block editor starts in the brand (logo, colour, font) with a locked
content slot and a locked footer holding every required part; it is saved only with those parts (the same
checks as a written layout), its design is kept beside the HTML, and a campaign in it arrives through the
real worker and aiosmtpd with the brand, the body in the slot and footer links that work."""

import json
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from mailer.campaigns import layouts, lifecycle
from mailer.campaigns.models import Layout
from mailer.core.extensions import db
from mailer.organisation import brand
from tests.support.campaigns import campaign_status, make_campaign, subscriber
from tests.support.http import csrf_token
from tests.support.signup import page

WORDS = layouts.StartWords(
    why="You receive this email because you subscribed to news from {{ organisation }}.",
    preferences="Manage your preferences",
    unsubscribe="Unsubscribe",
    privacy="Privacy notice",
)


def _brand(app) -> str:
    logo = f"{app.config['MAILER_BASE_URL']}/media/logo-1234.png"
    brand.save(brand.BrandInput(colour="#7a1f5c", text_colour="#ffffff", font="serif", logo_url=logo))
    db.session.commit()
    return logo


def exported(html: str) -> str:
    """What the block editor hands over for a design: its <style> block and <body> wrapper, quotes escaped."""
    body = html.replace('<td data-mailer-lock="content"', '<td id="ix1" data-mailer-lock="content"')
    return "<style>\n#ix1{border-top:3px solid #7a1f5c;}\n</style>\n<body>" + body + "</body>"


def project_for(html: str) -> str:
    return json.dumps({"pages": [{"frames": []}], "styles": [], "mailer": {"exported": html}})


def slot_cell(html: str) -> str:
    """The content slot's opening tag, without spaces."""
    return re.search(r'<td[^>]*data-mailer-lock="content"[^>]*>', html).group(0).replace(" ", "")


def test_a_new_visual_layout_starts_in_the_brand_with_the_locked_slot_and_footer(app, app_ctx):
    logo = _brand(app)
    html = layouts.visual_start_html(brand.current(), WORDS)
    assert f'src="{logo}"' in html and "background-color:#7a1f5c" in html and "Georgia" in html
    assert 'data-mailer-lock="content"' in html and "{{ content }}" in html
    footer = html.split('data-mailer-lock="footer"')[1]
    for part in (
        "{{ unsubscribe_url }}",
        "{{ preferences_url }}",
        "{{ organisation }}",
        "{{ postal_address }}",
    ):
        assert part in footer
    assert layouts.check_layout("Brand", html)[2] == []  # it passes the layout checks as it is


def test_brand_text_cannot_become_template_code(app, app_ctx):
    brand.save(brand.BrandInput(footer_text="Thanks {{ contact.email }} <b>friend</b>"))
    db.session.commit()
    html = layouts.visual_start_html(brand.current(), WORDS)
    assert "&#123;&#123; contact.email &#125;&#125; &lt;b&gt;friend&lt;/b&gt;" in html
    assert layouts.check_layout("Brand", html)[2] == []


def test_a_campaign_in_a_visual_layout_arrives_with_the_brand_body_and_working_footer_links(
    app, app_ctx, client, worker, smtp_server
):
    logo = _brand(app)
    design = exported(layouts.visual_start_html(brand.current(), WORDS))
    layout = layouts.save_layout("Brand layout", design, html_format="visual", project=project_for(design))
    db.session.commit()
    assert layout.html_format == "visual" and "<body" not in layout.html
    assert json.loads(layout.project)["mailer"]["exported"] == design

    from mailer.subscriptions.lists import create_list, ensure_tracking_purposes

    ensure_tracking_purposes()
    news = create_list("News")
    subscriber(news, "ann@example.net", "Ann Lee")
    campaign = make_campaign([news], layout=layout, from_email="news@example.com")
    db.session.commit()
    lifecycle.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent"

    message = smtp_server.to("ann@example.net")[0].message
    html = message.get_body(("html",)).get_content()
    assert f'src="{logo}"' in html and 'alt="Mailer Demo"' in html  # the brand's logo
    assert "background-color:#7a1f5c" in html.replace(" ", "")  # the brand's colour
    assert "Georgia" in html  # the brand's font
    slot = html.split('data-mailer-lock="content"')[1].split('data-mailer-lock="footer"')[0]
    assert "Hello Ann" in slot and "Our spring news is here." in slot  # the body sits in the slot
    assert "border-top:3pxsolid#7a1f5c" in slot_cell(html)  # the editor's CSS, inlined on its block
    text = message.get_body(("plain",)).get_content()
    assert "Hello Ann" in text and "1 Test Street" in text

    footer = html.split('data-mailer-lock="footer"')[1]
    assert "Mailer Demo Ltd" in footer and "1 Test Street" in footer
    hrefs = {
        label: href.replace("&amp;", "&")
        for href, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', footer)
    }
    base = app.config["MAILER_BASE_URL"]
    assert set(hrefs) == {"Manage your preferences", "Unsubscribe", "Privacy notice"}
    for label, url in hrefs.items():
        assert url.startswith(base), label
        answer = client.get(urlsplit(url).path + ("?" + urlsplit(url).query if urlsplit(url).query else ""))
        assert answer.status_code == 200, label
    assert "Unsubscribe" in page(client.get(urlsplit(hrefs["Unsubscribe"]).path))


def test_a_visual_layout_without_its_footer_parts_is_refused_and_nothing_is_written(app_ctx):
    html = layouts.visual_start_html(brand.current(), WORDS)
    no_footer = exported(html.split('<tr><td data-mailer-lock="footer"')[0] + "</table></td></tr></table>")
    with pytest.raises(layouts.LayoutError) as refused:
        layouts.save_layout("Broken", no_footer, html_format="visual", project=project_for(no_footer))
    assert any("unsubscribe link" in p for p in refused.value.problems)
    assert any("postal address" in p for p in refused.value.problems)
    db.session.rollback()
    assert db.session.execute(select(Layout).where(Layout.name == "Broken")).first() is None
    with pytest.raises(layouts.LayoutError, match="could not be read"):
        layouts.save_layout("Bad design", exported(html), html_format="visual", project="not json")
    with pytest.raises(layouts.LayoutError, match="Unknown layout format"):
        layouts.save_layout("Odd", html, html_format="mjml")


def test_html_edited_outside_the_editor_drops_the_stale_design_and_switching_to_html_keeps_the_html(app_ctx):
    design = exported(layouts.visual_start_html(brand.current(), WORDS))
    layout = layouts.save_layout("Mine", design, html_format="visual", project=project_for(design))
    changed = design.replace("Manage your preferences", "Your settings")
    layouts.save_layout("Mine", changed, layout, html_format="visual", project=project_for(design))
    assert "Your settings" in layout.html and layout.project == ""  # the editor re-imports the HTML next time
    kept = layout.html
    layouts.save_layout("Mine", kept, layout, html_format="html", project=project_for(design))
    assert layout.html == kept and layout.html_format == "html" and layout.project == ""
    copy = layouts.copy_layout(layout)
    assert copy.html == kept and copy.html_format == "html"


def test_the_layout_pages_offer_a_visual_layout_in_the_brand_and_save_it(app, auth, demo_form):
    _brand(app)
    index = page(auth.get("/admin/layouts"))
    assert "New visual layout" in index
    new = auth.get("/admin/layouts/new?format=visual")
    assert new.status_code == 200
    text = page(new)
    assert 'checked class="btn-check" id="html_format-0"' in new.text and "background-color:#7a1f5c" in text
    assert 'data-mailer-lock="footer"' in text and "Visual layout editor" in text
    start = re.search(r'<textarea[^>]*name="html"[^>]*>(.*?)</textarea>', text, re.S).group(1).strip()
    token = csrf_token(new.text)
    design = exported(start)

    live = auth.post(
        "/admin/layouts/preview.json",
        data={"csrf_token": token, "name": "X", "html": design, "html_format": "visual"},
    ).get_json()
    assert live["ok"] and live["problems"] == [] and "A headline for your news" in live["html"]

    footerless = design.split('<tr><td data-mailer-lock="footer"')[0] + "</table></td></tr></table></body>"
    fields = {"csrf_token": token, "name": "Branded", "html_format": "visual"}
    refused = auth.post(
        "/admin/layouts/new", data=fields | {"html": footerless, "project": project_for(footerless)}
    )
    assert refused.status_code == 400 and "The layout must contain the unsubscribe link" in page(refused)
    assert db.session.execute(select(Layout).where(Layout.name == "Branded")).first() is None

    saved = auth.post("/admin/layouts/new", data=fields | {"html": design, "project": project_for(design)})
    assert saved.status_code == 302
    mine = db.session.execute(select(Layout).where(Layout.name == "Branded")).scalar_one()
    assert mine.verified and mine.html_format == "visual" and mine.project
    edit = auth.get(f"/admin/layouts/{mine.public_id}/edit")
    assert (
        'checked class="btn-check" id="html_format-0"' in edit.text
        and "mailer" in page(edit).split('name="project"')[1][:200]
    )
    document = auth.get(f"/admin/layouts/{mine.public_id}/preview.html")
    assert "A headline for your news" in document.text and "#7a1f5c" in document.text
