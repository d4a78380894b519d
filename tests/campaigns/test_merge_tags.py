"""Merge tags: the picker offers built-in and non-sensitive custom fields with a fallback; a sensitive field
is refused on save and never given a value by the renderer; a template error names the marketer's own line
and column, never the compiled email's (which counts the layout's lines)."""

from dataclasses import replace

import pytest

from mailer.campaigns import drafts, merge_tags
from mailer.campaigns.rendering import CampaignError, render_campaign
from mailer.core.extensions import db
from tests.support.campaigns import newsletter
from tests.support.privacy import define_fields


def test_the_picker_offers_every_field_but_sensitive_ones(app_ctx):
    define_fields()
    offered = {tag.label: tag for tag in merge_tags.picker_tags()}
    assert {"First name", "Last name", "Full name", "Email address", "Postcode", "Company"} <= set(offered)
    assert "Health condition" not in offered and "National id number" not in offered
    assert offered["Postcode"].tag("none") == '{{ contact.fields.postcode | default("none") }}'
    assert offered["First name"].tag() == '{{ contact.first_name | default("there") }}'
    assert offered["Email address"].tag("") == "{{ contact.email }}"
    assert offered["Company"].tag('say "hi"') == '{{ contact.fields.company | default("say \\"hi\\"") }}'


def test_an_error_is_reported_on_the_marketers_own_line_and_column(app_ctx):
    campaign, _ = newsletter(1, from_email="news@example.com")
    body = 'Hello,\n\nDear {{ contact.first_name | defualt("friend") }}, welcome.\n'
    with pytest.raises(drafts.DraftError) as refused:
        drafts.update_draft(campaign, replace(drafts.draft_from_campaign(campaign), body=body))
    db.session.rollback()
    message = refused.value.errors["body"]
    assert "line 3, column 30" in message and "defualt" in message, message

    # The live preview of an unsaved draft: the same line, although the layout comes before the body.
    preview = drafts.preview_campaign(replace(drafts.draft_from_campaign(campaign), body=body))
    with pytest.raises(CampaignError) as failed:
        render_campaign(preview)
    assert "The body has a template error on line 3, column 30" in str(failed.value)

    subject = replace(drafts.draft_from_campaign(campaign), subject="Hi {{ contact.first_name ")
    with pytest.raises(CampaignError) as failed:
        render_campaign(drafts.preview_campaign(subject))
    assert "The subject has a template error on line 1, column 4" in str(failed.value)


def test_a_sensitive_field_is_refused_on_save_and_never_rendered(app_ctx):
    define_fields()
    campaign, _ = newsletter(1, from_email="news@example.com")
    body = "Your condition: {{ contact.fields['health'] | default('-') }}"
    with pytest.raises(drafts.DraftError) as refused:
        drafts.update_draft(campaign, replace(drafts.draft_from_campaign(campaign), body=body))
    db.session.rollback()
    assert "sensitive field “Health condition”" in refused.value.errors["body"]

    campaign.body = body  # a draft saved before the rule: it renders, and the value is never there
    assert "Your condition: -" in render_campaign(campaign).text
    db.session.rollback()
