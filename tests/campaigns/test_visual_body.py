"""The visual body format: the block editor's exported HTML is checked, compiled (CSS inlined once) and sent
like an HTML body; its project JSON is kept beside it, dropped when the HTML was changed outside the editor,
and refused when it is not a design at all."""

import json
import re
from dataclasses import replace

import pytest

from mailer.campaigns import drafts, lifecycle, rendering, versions
from mailer.core.extensions import db
from tests.support.campaigns import campaign_status, newsletter

# What GrapesJS hands over: its <body> wrapper, a <style> block, and a merge field whose quotes it escaped.
EXPORTED = (
    "<style>\n#i3k{color:#123456;padding:12px;}\n</style>\n"
    '<body><table id="i3k" width="100%"><tr><td>'
    "Hello {{ contact.first_name | default(&quot;there&quot;) }}, "
    '<img src="https://cdn.example.org/a.png" alt="A lighthouse"></td></tr></table></body>'
)


def _project(exported: str = EXPORTED) -> str:
    return json.dumps({"pages": [{"frames": []}], "styles": [], "mailer": {"exported": exported}})


def _visual(campaign, **changes):
    visual = {"body_format": "visual", "body": EXPORTED, "body_project": _project()} | changes
    return replace(drafts.draft_from_campaign(campaign), **visual)


def test_a_visual_campaign_is_stored_checked_and_sent_like_an_html_one(app_ctx, worker, smtp_server):
    campaign, _ = newsletter(2, from_email="news@example.com")
    versions.save(campaign, _visual(campaign))
    db.session.commit()
    assert campaign.body_format == "visual"
    assert 'default("there")' in campaign.body and "<body" not in campaign.body
    assert json.loads(campaign.body_project)["mailer"]["exported"] == EXPORTED

    lifecycle.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent"
    message = smtp_server.to("person0@example.net")[0].message
    html = message.get_body(("html",)).get_content()
    assert "Hello Person0," in html
    assert "color:#123456" in html.split("<table")[1].split(">")[0].replace(" ", "")  # inlined on the table
    assert 'alt="A lighthouse"' in html
    assert "Hello Person0," in message.get_body(("plain",)).get_content()  # the text part, generated


def test_html_changed_without_the_editor_drops_the_stale_design(app_ctx):
    campaign, _ = newsletter(1, from_email="news@example.com")
    edited = EXPORTED.replace("Hello", "Good morning")
    versions.save(campaign, _visual(campaign, body=edited))
    db.session.commit()
    assert "Good morning" in campaign.body
    assert campaign.body_project == ""  # the editor re-imports the HTML next time instead


def test_switching_to_html_keeps_the_exported_html_and_forgets_the_design(app_ctx):
    campaign, _ = newsletter(1, from_email="news@example.com")
    versions.save(campaign, _visual(campaign))
    db.session.commit()
    body = campaign.body
    versions.save(campaign, replace(drafts.draft_from_campaign(campaign), body_format="html"))
    db.session.commit()
    assert campaign.body == body and campaign.body_format == "html" and campaign.body_project == ""
    versions.undo_last_save(campaign)  # the design comes back with the version that had it
    db.session.commit()
    assert campaign.body_format == "visual" and campaign.body_project


@pytest.mark.parametrize(
    ("project", "message"),
    [
        ("not json", "could not be read"),
        ("[1, 2]", "could not be read"),
        (json.dumps({"mailer": {"exported": EXPORTED}, "pad": "x" * 130_000}), "too large"),
    ],
)
def test_a_broken_design_is_refused_with_a_reason(app_ctx, project, message):
    campaign, _ = newsletter(1, from_email="news@example.com")
    with pytest.raises(drafts.DraftError) as refused:
        versions.save(campaign, _visual(campaign, body_project=project))
    db.session.rollback()
    assert message in refused.value.errors["body"]


def test_the_editor_page_offers_the_visual_format_and_the_markdown_conversion(app, auth, client, app_ctx):
    campaign, _ = newsletter(1, from_email="news@example.com")
    versions.save(campaign, _visual(campaign))
    db.session.commit()
    page = client.get(f"/admin/campaigns/{campaign.public_id}/edit")
    assert page.status_code == 200
    visual_choice = re.search(r'<input[^>]*value="visual"[^>]*>', page.text)
    assert visual_choice and "checked" in visual_choice.group(0), visual_choice
    assert "vendor/grapesjs-0.23.6/grapes.min.js" in page.text
    assert 'enctype="multipart/form-data"' in page.text
    token = page.text.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    converted = client.post(
        "/admin/campaigns/body-html.json",
        data={"csrf_token": token, "body": '# Hi {{ contact.first_name | default("you") }}\n\n**Bold**'},
    )
    assert converted.status_code == 200
    assert converted.json["html"] == (
        '<h1>Hi {{ contact.first_name | default("you") }}</h1>\n<p><strong>Bold</strong></p>'
    )


def test_a_visual_campaign_inlines_its_css_once_for_all_recipients(app_ctx, worker, smtp_server, monkeypatch):
    """premailer is the costly step of a design's <style> block: once per campaign, never per recipient (the
    send rate of a visual campaign stays that of an HTML one; bench/send.py --body compare measures it)."""
    campaign, _ = newsletter(6, from_email="news@example.com")
    versions.save(campaign, _visual(campaign))
    db.session.commit()
    calls = []
    inline = rendering.inline_css
    monkeypatch.setattr(rendering, "inline_css", lambda html: calls.append(len(html)) or inline(html))
    lifecycle.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent"
    for i in range(6):
        html = smtp_server.to(f"person{i}@example.net")[0].message.get_body(("html",)).get_content()
        assert f"Hello Person{i}," in html and "color:#123456" in html.replace(" ", "")
    assert len(calls) == 1
