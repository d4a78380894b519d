"""Uncertain deliveries are resent only after an owner's or
admin's explicit confirmation, and the decision is audited."""

import re

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.delivery.models import Delivery
from mailer.staff.accounts import create_staff
from tests.support.deliveries import seed
from tests.support.http import csrf_token, login
from tests.support.signup import page


def uncertain_ids(campaign) -> list[int]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(Delivery.id)
            .where(Delivery.campaign_id == campaign.id, Delivery.status == "uncertain")
            .order_by(Delivery.id)
        ).scalars()
    )


def test_resend_all_after_the_confirm_step(auth):
    campaign, _ = seed()
    listing = page(auth.get(f"/admin/campaigns/{campaign.public_id}/uncertain"))
    assert "Resend all 4…" in listing and 'name="delivery"' in listing
    confirm = auth.get(f"/admin/campaigns/{campaign.public_id}/uncertain/resend?all=1")
    text = page(confirm)
    assert confirm.status_code == 200 and "Resend 4 uncertain deliveries?" in text
    assert "The relay may or may not have received them: resending may deliver twice." in text
    assert (
        uncertain_ids(campaign) and len(uncertain_ids(campaign)) == 4
    )  # looking at the question changes nothing

    done = auth.post(
        f"/admin/campaigns/{campaign.public_id}/uncertain/resend",
        data={"csrf_token": csrf_token(confirm.text), "all": "1"},
        follow_redirects=True,
    )
    assert "4 uncertain deliveries queued to be sent again." in page(done)
    assert uncertain_ids(campaign) == []
    requeued = (
        db.session.execute(
            select(Delivery).where(Delivery.campaign_id == campaign.id, Delivery.reason.contains("operator"))
        )
        .scalars()
        .all()
    )
    assert len(requeued) == 4 and {d.status for d in requeued} == {"queued"}
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "campaign.resend_uncertain")
    ).scalar_one()
    assert event.target_id == campaign.public_id and event.actor.email == "owner@example.com"
    assert event.details == {"count": 4, "chosen": "all", "via": "admin"}


def test_resend_only_the_chosen_ones(auth):
    campaign, _ = seed()
    first, second, *rest = uncertain_ids(campaign)
    confirm = auth.get(
        f"/admin/campaigns/{campaign.public_id}/uncertain/resend?delivery={first}&delivery={second}"
    )
    assert "Resend 2 uncertain deliveries?" in page(confirm)
    hidden = re.findall(r'name="delivery" value="(\d+)"', confirm.text)
    assert sorted(map(int, hidden)) == [first, second]
    auth.post(
        f"/admin/campaigns/{campaign.public_id}/uncertain/resend",
        data={"csrf_token": csrf_token(confirm.text), "delivery": hidden},
    )
    assert uncertain_ids(campaign) == rest


@pytest.mark.parametrize(
    "query, message",
    [
        ("", "Choose at least one uncertain delivery, or resend them all."),
        ("?delivery=abc", "That is not a delivery of this list."),
        ("?delivery=99999999999999999999", "That is not a delivery of this list."),
    ],
)
def test_a_bad_choice_is_a_400_with_a_message(auth, query, message):
    campaign, _ = seed()
    response = auth.get(f"/admin/campaigns/{campaign.public_id}/uncertain/resend{query}")
    assert response.status_code == 400 and message in page(response)


def test_resend_needs_the_csrf_token(auth):
    campaign, _ = seed()
    response = auth.post(f"/admin/campaigns/{campaign.public_id}/uncertain/resend", data={"all": "1"})
    assert response.status_code == 400 and len(uncertain_ids(campaign)) == 4


def test_a_cancelled_campaign_resends_nothing_and_says_why(auth):
    campaign, _ = seed()
    confirm = auth.get(f"/admin/campaigns/{campaign.public_id}/uncertain/resend?all=1")
    db.session.get(Campaign, campaign.id).status = "cancelled"
    db.session.commit()
    done = auth.post(
        f"/admin/campaigns/{campaign.public_id}/uncertain/resend",
        data={"csrf_token": csrf_token(confirm.text), "all": "1"},
        follow_redirects=True,
    )
    assert "This campaign is cancelled; its uncertain deliveries can't be sent again." in page(done)
    assert len(uncertain_ids(campaign)) == 4


@pytest.mark.parametrize("role", ["marketer", "viewer", "privacy"])
def test_only_owners_and_admins_may_resend(client, app_ctx, role):
    campaign, _ = seed()
    create_staff(f"{role}@example.com", "correct horse battery", role)
    db.session.commit()
    login(client, f"{role}@example.com", "correct horse battery")
    listing = client.get(f"/admin/campaigns/{campaign.public_id}/uncertain")
    assert (
        listing.status_code == 200
        and "Resend all" not in page(listing)
        and 'name="delivery"' not in listing.text
    )
    assert client.get(f"/admin/campaigns/{campaign.public_id}/uncertain/resend?all=1").status_code == 403
    response = client.post(
        f"/admin/campaigns/{campaign.public_id}/uncertain/resend",
        data={"csrf_token": csrf_token(listing.text), "all": "1"},
    )
    assert response.status_code == 403 and len(uncertain_ids(campaign)) == 4


def test_an_admin_may_resend(client, app_ctx):
    campaign, _ = seed()
    create_staff("admin@example.com", "correct horse battery", "admin")
    db.session.commit()
    login(client, "admin@example.com", "correct horse battery")
    confirm = client.get(f"/admin/campaigns/{campaign.public_id}/uncertain/resend?all=1")
    assert confirm.status_code == 200
    client.post(
        f"/admin/campaigns/{campaign.public_id}/uncertain/resend",
        data={"csrf_token": csrf_token(confirm.text), "all": "1"},
    )
    assert uncertain_ids(campaign) == []
