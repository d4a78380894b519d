"""The editor's autosave endpoint and version buttons without a browser: JSON answers naming the problem,
drafts only, CSRF required."""

from sqlalchemy import select

from mailer.campaigns.models import Campaign, CampaignStatus, DraftVersion
from mailer.core.extensions import db
from tests.admin.test_campaign_pages import draft, editor_fields, form_token


def test_autosave_saves_reports_problems_and_keeps_versions(auth, demo_form):
    campaign = draft(auth)
    edit = f"/admin/campaigns/{campaign.public_id}/edit"
    autosave = f"/admin/campaigns/{campaign.public_id}/autosave"
    saved = auth.post(autosave, data=editor_fields(auth, edit, subject="Autosaved subject"))
    assert saved.status_code == 200 and saved.json["ok"] is True and saved.json["versions"] == 1
    db.session.expire_all()
    assert campaign.subject == "Autosaved subject"

    refused = auth.post(autosave, data=editor_fields(auth, edit, subject=""))
    assert refused.status_code == 400 and refused.json["error"] == "Not saved yet: Enter a subject line."
    assert auth.post(autosave, data={"subject": "no token"}).status_code == 400

    undo = auth.post(
        f"/admin/campaigns/{campaign.public_id}/undo", data={"csrf_token": form_token(auth, edit)}
    )
    assert undo.status_code == 302
    db.session.expire_all()
    assert campaign.subject != "Autosaved subject"
    assert len(db.session.execute(select(DraftVersion)).scalars().all()) == 2

    db.session.execute(db.update(Campaign).values(status=CampaignStatus.SENT))
    db.session.commit()
    late = auth.post(autosave, data={"csrf_token": form_token(auth, "/admin/campaigns/new"), "subject": "x"})
    assert late.status_code == 409 and "only drafts can be edited" in late.json["error"]


def test_a_new_campaigns_first_autosave_creates_the_draft(auth, demo_form):
    fields = editor_fields(
        auth, "/admin/campaigns/new", name="Half typed", subject="", from_email="not an address"
    )
    fields.pop("lists", None)
    started = auth.post("/admin/campaigns/autosave", data=fields)
    assert started.status_code == 200 and started.json["ok"] is True
    campaign = db.session.execute(select(Campaign).where(Campaign.name == "Half typed")).scalar_one()
    assert campaign.status == CampaignStatus.DRAFT and campaign.lists == [] and campaign.from_email == ""
    assert started.json["edit_url"] == f"/admin/campaigns/{campaign.public_id}/edit"
    assert started.json["autosave_url"] == f"/admin/campaigns/{campaign.public_id}/autosave"
    show = auth.get(f"/admin/campaigns/{campaign.public_id}")
    assert show.status_code == 200 and "Half typed" in show.text
    assert auth.post("/admin/campaigns/autosave", data={"name": "no token"}).status_code == 400
