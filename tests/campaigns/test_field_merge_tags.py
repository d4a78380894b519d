"""Custom fields as merge tags: `{{ contact.fields.<key> }}` with a fallback, in the preview and in sent mail;
sensitive values never."""

from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.rendering import render_campaign
from mailer.contacts import fields as field_service
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.support.campaigns import campaign_status, make_campaign, subscriber
from tests.support.privacy import define_fields, fill_fields

BODY = (
    "Plan: {{ contact.fields.plan | default('none') }}. "
    "Health: {{ contact.fields.health | default('not given') }}."
)


def test_field_values_fill_merge_tags_in_preview_and_sent_mail(app_ctx, worker, smtp_server):
    ensure_tracking_purposes()
    news = create_list("News")
    ann, bob = subscriber(news, "ann@example.com", "Ann"), subscriber(news, "bob@example.com", "Bob")
    fields = define_fields()
    fields["plan"] = field_service.define_field("plan", "Plan", "ordinary")
    fill_fields(ann, fields, {"plan": "Pro", "health": "Asthma"})
    campaign = make_campaign(
        [news], body=BODY, subject="Your {{ contact.fields.plan | default('free') }} plan"
    )
    db.session.commit()
    preview = render_campaign(campaign, ann)
    assert "Plan: Pro." in preview.text and "Health: not given." in preview.text
    assert preview.subject == "Your Pro plan"
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert campaign_status(campaign) == "sent"
    to_ann = smtp_server.to("ann@example.com")[0].message
    to_bob = smtp_server.to(bob.email)[0].message
    assert to_ann["Subject"] == "Your Pro plan" and to_bob["Subject"] == "Your free plan"
    text_ann = to_ann.get_body(("plain",)).get_content()
    assert "Plan: Pro." in text_ann and "Asthma" not in to_ann.as_string()
    assert "Plan: none." in to_bob.get_body(("plain",)).get_content()
