"""Visual layouts follow the brand: saving a new brand puts its colour, text colour, font, logo and footer
line wherever a visual layout still shows the old ones (its HTML and its editor design), values changed by
hand stay, a draft on the layout is test-sent in the new brand through the real worker and aiosmtpd, and a
campaign that has gone out keeps the HTML it was sent with."""

import json
import re

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns import brand_layouts, layouts, lifecycle, rendering
from mailer.campaigns.models import Campaign, Layout
from mailer.core.extensions import db
from mailer.organisation import brand
from tests.support.campaigns import campaign_status, make_campaign, newsletter
from tests.support.http import csrf_token
from tests.support.signup import page

WORDS = layouts.StartWords(
    why="You receive this email because you subscribed to news from {{ organisation }}.",
    preferences="Manage your preferences",
    unsubscribe="Unsubscribe",
    privacy="Privacy notice",
)
_STYLED = re.compile(r'(<(\w+)\b[^>]*?) style="([^"]*)"')


def editor_export(html: str) -> tuple[str, str]:
    """(HTML, design) as the block editor exports a design: each element's styles moved into a `#id` rule of
    one <style> block (GrapesJS keeps styles out of the elements), and the design with the same rules."""
    rules: list[tuple[str, str]] = []

    def move(match: re.Match) -> str:
        ident = f"i{len(rules)}"
        rules.append((ident, match.group(3).replace("&#x27;", "'")))
        return f'{match.group(1)} id="{ident}"'

    body = _STYLED.sub(move, html)
    css = "".join(f"#{ident}{{{style}}}" for ident, style in rules)
    exported = f"<style>\n{css}\n</style>\n{body}"
    styles = [
        {"selectors": [f"#{ident}"], "style": dict(d.split(":", 1) for d in style.split(";") if d)}
        for ident, style in rules
    ]
    logo = re.search(r'<img src="([^"]+)"', html)
    image = [{"type": "image", "src": logo.group(1), "attributes": {"src": logo.group(1)}}] if logo else []
    design = {"styles": styles, "pages": [{"frames": [{"component": {"components": image}}]}]}
    return exported, json.dumps(design | {"mailer": {"exported": exported}})


def rule(html: str, ident: str) -> str:
    return re.search(rf"#{ident}\{{([^}}]*)\}}", html).group(1)


def ident_of(html: str, marker: str) -> str:
    return re.search(rf'<td {marker} id="(i\d+)"', html).group(1)


def _logo(app, name: str) -> str:
    return f"{app.config['MAILER_BASE_URL']}/media/{name}.png"


def _visual_layout(name: str = "Brand layout") -> Layout:
    html, design = editor_export(layouts.visual_start_html(brand.current(), WORDS))
    layout = layouts.save_layout(name, html, html_format="visual", project=design)
    db.session.commit()
    return layout


def test_a_new_brand_reaches_the_layout_where_it_still_shows_the_old_one(app, app_ctx):
    logo = _logo(app, "logo-1")
    brand.save(brand.BrandInput(colour="#7a1f5c", text_colour="#ffffff", font="serif", logo_url=logo))
    db.session.commit()
    layout = _visual_layout()
    header = ident_of(layout.html, 'data-mailer-block="header"')
    footer = ident_of(layout.html, 'data-mailer-lock="footer"')
    # The marketer restyled one footer link by hand, and the card stays white (#ffffff, as the text colour).
    link_ids = re.findall(r'<a href="[^"]+" id="(i\d+)"', layout.html)
    layout.html = layout.html.replace(f"#{link_ids[0]}{{color:#7a1f5c", f"#{link_ids[0]}{{color:#333333")
    design = json.loads(layout.project)
    for item in design["styles"]:
        if item["selectors"] == [f"#{link_ids[0]}"]:
            item["style"]["color"] = "#333333"
    design["mailer"]["exported"] = layout.html
    layout.project = json.dumps(design)
    db.session.commit()
    assert [item.id for item in brand_layouts.following()] == [layout.id]

    new_logo = _logo(app, "logo-2")
    changed, updated = brand_layouts.save_brand(
        brand.BrandInput(colour="#0b5d3b", text_colour="#fffbe6", font="wide", logo_url=new_logo)
    )
    db.session.commit()
    assert set(changed) == {"colour", "text_colour", "font", "logo_url"} and updated == [layout]

    html = layout.html
    assert "#7a1f5c" not in rule(html, header) and "background-color:#0b5d3b" in rule(html, header)
    assert "color:#fffbe6" in rule(html, header)  # the text colour on the brand colour
    assert "Verdana" in rule(html, header) and "Georgia" not in html  # the brand font everywhere
    assert f'src="{new_logo}"' in html and logo not in html
    assert rule(html, link_ids[0]).startswith("color:#333333")  # changed by hand: left alone
    assert all(rule(html, i).startswith("color:#0b5d3b") for i in link_ids[1:])
    assert "background-color:#ffffff" in html and "color:#fffbe6" not in rule(html, footer)
    assert layouts.check_layout(layout.name, html)[2] == []

    design = json.loads(layout.project)  # the editor opens the same values again
    assert design["mailer"]["exported"] == html
    assert "#7a1f5c" not in json.dumps(design["styles"]) and "Georgia" not in json.dumps(design["styles"])
    assert new_logo in json.dumps(design["pages"]) and logo not in json.dumps(design["pages"])
    events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "layout.rebranded")).scalars()
    assert [(e.target_id, e.details["brand"]) for e in events] == [
        (layout.public_id, ["colour", "font", "logo", "text_colour"])
    ]

    # Saving the same brand again changes nothing more.
    assert brand_layouts.save_brand(
        brand.BrandInput(colour="#0b5d3b", text_colour="#fffbe6", font="wide", logo_url=new_logo)
    ) == ([], [])


def test_the_footer_line_follows_and_the_design_is_read_again_from_the_html(app_ctx):
    brand.save(brand.BrandInput(footer_text="Acme News, made with care."))
    db.session.commit()
    layout = _visual_layout()
    assert "Acme News, made with care." in layout.html
    brand_layouts.save_brand(brand.BrandInput(footer_text="Acme & Co — news with care <3"))
    db.session.commit()
    assert "Acme &amp; Co — news with care &lt;3" in layout.html and "made with care." not in layout.html
    assert layout.project == ""  # the editor re-imports the HTML next time it opens


def test_built_in_written_and_hand_styled_layouts_are_left_alone(app_ctx):
    written = layouts.save_layout("Written", layouts.visual_start_html(brand.current(), WORDS))
    mine = _visual_layout("Mine")
    mine.html = mine.html.replace(brand.DEFAULT_COLOUR, "#222222").replace("-apple-system", "Arial")
    mine.project = ""
    db.session.commit()
    before = {layout.id: layout.html for layout in db.session.execute(select(Layout)).scalars()}
    assert brand_layouts.following() == []
    _, updated = brand_layouts.save_brand(brand.BrandInput(colour="#0b5d3b", font="serif"))
    db.session.commit()
    assert updated == []
    assert {layout.id: layout.html for layout in db.session.execute(select(Layout)).scalars()} == before
    assert written.html_format == "html"


def test_a_draft_is_tested_in_the_new_brand_and_a_sent_campaign_keeps_its_html(
    app, app_ctx, worker, smtp_server
):
    brand.save(brand.BrandInput(colour="#7a1f5c", text_colour="#ffffff", font="serif"))
    db.session.commit()
    layout = _visual_layout()
    sent, _ = newsletter(1, layout=layout, from_email="news@example.com")
    lifecycle.start_campaign(sent)
    db.session.commit()
    worker.drain()
    assert campaign_status(sent) == "sent"
    sent_html = db.session.get(Campaign, sent.id).compiled_html
    assert "background-color:#7a1f5c" in sent_html.replace(" ", "")
    draft = make_campaign(sent.lists, layout=layout, from_email="news@example.com")
    db.session.commit()

    brand_layouts.save_brand(brand.BrandInput(colour="#0b5d3b", text_colour="#ffffff", font="serif"))
    db.session.commit()
    lifecycle.send_test(draft, ["tester@example.org"])
    db.session.commit()
    worker.drain()

    message = smtp_server.to("tester@example.org")[0].message
    html = message.get_body(("html",)).get_content().replace(" ", "")
    assert "background-color:#0b5d3b" in html and "#7a1f5c" not in html  # the new brand colour
    db.session.expire_all()
    assert db.session.get(Campaign, sent.id).compiled_html == sent_html  # what went out is kept
    # Its preview shows what went out; the draft's shows the layout as it is now.
    assert "background-color:#7a1f5c" in rendering.render_campaign(sent).html.replace(" ", "")
    assert "background-color:#0b5d3b" in rendering.render_campaign(draft).html.replace(" ", "")


def test_the_brand_page_says_how_many_layouts_follow_and_saving_updates_them(app, auth, demo_form):
    brand.save(brand.BrandInput(colour="#7a1f5c", text_colour="#ffffff", font="serif"))
    db.session.commit()
    empty = page(auth.get("/admin/organisation"))
    assert "No visual layout follows the brand yet" in empty
    layout = _visual_layout()
    _visual_layout("Second")
    settings = auth.get("/admin/organisation")
    assert "2 visual layouts follow the brand" in page(settings)
    fields = {
        "colour": "#0b5d3b",
        "text_colour": "#ffffff",
        "font": "serif",
        "logo_url": "",
        "footer_text": "",
    }
    saved = auth.post(
        "/admin/organisation/brand",
        data=fields | {"csrf_token": csrf_token(settings.text)},
        follow_redirects=True,
    )
    assert saved.status_code == 200
    assert "Brand saved. 2 visual layouts now show the new brand." in page(saved)
    db.session.expire_all()
    assert "#0b5d3b" in db.session.get(Layout, layout.id).html
    refused = auth.post(
        "/admin/organisation/brand",
        data=fields | {"colour": "#ffcc00", "csrf_token": csrf_token(settings.text)},
    )
    assert refused.status_code == 400
    db.session.expire_all()
    assert "#ffcc00" not in db.session.get(Layout, layout.id).html  # nothing half-written
