"""Layout validation and previews: sandboxed Jinja, Markdown, merge fields, generated text part."""

import re

import pytest
from markupsafe import Markup

from mailer.campaigns import rendering
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import LAYOUT, make_campaign, subscriber


def test_a_complete_layout_has_no_problems():
    assert rendering.validate_layout(LAYOUT) == []


def test_missing_footer_parts_are_named():
    problems = rendering.validate_layout(
        "<html><body>{{ content }}<a href='{{ unsubscribe_url }}'>x</a></body></html>"
    )
    assert problems == [
        "The layout must contain the preference-centre link: add {{ preferences_url }} to the footer.",
        "The layout must contain the postal address: add {{ postal_address }} to the footer.",
        "The layout must contain the sender's name (organisation): add {{ organisation }} to the footer.",
    ]
    hidden = LAYOUT.replace("{{ postal_address }}", "<!-- {{ postal_address }} -->")
    assert rendering.validate_layout(hidden) == [
        "The layout must contain the postal address: add {{ postal_address }} to the footer."
    ]


def test_template_errors_and_sandbox_escapes_are_reported_not_raised():
    assert rendering.validate_layout("<p>{% if %}</p>") == [
        "Template error on line 1: Expected an expression, got 'end of statement block'"
    ]
    escape = LAYOUT.replace("{{ content }}", "{{ content }}{{ ''.__class__.__mro__[1].__subclasses__() }}")
    [problem] = rendering.validate_layout(escape)
    assert problem.startswith("The layout can't be rendered:") and "unsafe" in problem
    assert "body" in rendering.validate_layout(LAYOUT.replace("{{ content }}", ""))[0]


def test_preview_as_a_contact_renders_merge_fields_markdown_and_a_text_part(app_ctx):
    news = create_list("News")
    ann = subscriber(news, "ann@example.net", "Ann <b>Lee</b>")
    campaign = make_campaign([news])
    db.session.commit()

    preview = rendering.render_campaign(campaign, ann)
    assert preview.subject == "Spring news for Ann"
    assert "<h1" in preview.html and "Hello Ann</h1>" in preview.html
    assert "<b>" not in preview.html  # merge values are escaped (autoescape)
    assert re.search(r'<p style="[^"]*color:#333', preview.html)  # CSS inlined
    assert preview.text.startswith("Hello Ann")
    assert "the full story (https://example.org/news?id=7&lang=en)" in preview.text
    assert "Unsubscribe (http://localhost/u/" in preview.text
    assert "Mailer Demo Ltd, 1 Test Street" in preview.text

    sample = rendering.render_campaign(campaign)
    assert sample.subject == "Spring news for Jane" and "Hello Jane" in sample.html


def test_hand_written_text_part_keeps_its_words_and_gets_the_footer(app_ctx):
    news = create_list("News")
    campaign = make_campaign([news], text_body="Hi {{ contact.first_name | default('there') }}, plain news.")
    db.session.commit()
    preview = rendering.render_campaign(campaign)
    assert preview.text.startswith("Hi Jane, plain news.")
    assert "Unsubscribe: http://localhost/u/" in preview.text and "Manage your preferences:" in preview.text


def test_compiled_campaign_turns_links_into_slots_once():
    class Layout:
        html = LAYOUT

    class Campaign:
        layout, body_format, text_body = Layout, "html", ""
        body = '<p><a href="https://a.example/x?y=1&amp;z=2">A</a> <a href="https://b.example/">B</a></p>'
        subject, preheader = "S", ""

    compiled = rendering.compile_campaign(
        Campaign, link_ids=lambda urls: {u: i + 10 for i, u in enumerate(urls)}
    )
    assert compiled.links == {10: "https://a.example/x?y=1&z=2", 11: "https://b.example/"}
    assert "{{ _links[10] }}" in compiled.html_source and "https://a.example" not in compiled.html_source
    assert "{{ unsubscribe_url }}" in compiled.html_source  # footer links stay per recipient, never tracked
    rendered = compiled.render(
        {
            "contact": {},
            "organisation": "O",
            "postal_address": "P",
            "unsubscribe_url": "U",
            "preferences_url": "R",
            "_links": {10: "T1", 11: "T2"},
            "_pixel": Markup(""),
        }
    )
    assert 'href="T1"' in rendered.html and 'href="T2"' in rendered.html


def test_a_campaign_without_layout_or_content_explains_itself(app_ctx):
    news = create_list("News")
    campaign = make_campaign([news], body="   ")
    with pytest.raises(rendering.CampaignError, match="no content"):
        rendering.render_campaign(campaign)
