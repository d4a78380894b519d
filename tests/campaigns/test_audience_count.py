"""The compliance preview at scale: the stored count is kept only while nothing it counts has changed, and the
background count (id ranges, progress) gives the same numbers as the one-query count."""

import pytest
from sqlalchemy import select

from mailer.campaigns import audience_count, eligibility, lifecycle
from mailer.campaigns.models import Campaign
from mailer.consent.ledger import record_consent
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.suppression import SuppressionReason
from mailer.contacts.suppression import suppress
from mailer.core.extensions import db
from mailer.privacy.erasure import anonymise_contact
from mailer.privacy.restriction import restrict
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.preferences import unsubscribe_all
from tests.campaigns.test_eligibility import _one_contact_in_every_state
from tests.support.campaigns import CTX, subscriber


def _contact(email: str) -> Contact:
    return db.session.execute(select(Contact).where(Contact.email == email)).scalar_one()


def _withdraw(email: str, campaign: Campaign) -> None:
    contact = _contact(email)
    record_consent(contact, campaign.lists[0].purpose, "withdrawn", CTX)


def _unsubscribe(email: str, campaign: Campaign) -> None:
    unsubscribe_all(_contact(email), CTX)


def _suppress(email: str, campaign: Campaign) -> None:
    suppress(_contact(email).email_hash, SuppressionReason.MANUAL)


def _restrict(email: str, campaign: Campaign) -> None:
    restrict(_contact(email), CTX)


def _erase(email: str, campaign: Campaign) -> None:
    anonymise_contact(_contact(email))


def _sign_up_another(email: str, campaign: Campaign) -> None:
    subscriber(campaign.lists[0], "newcomer@example.net")


def _exclude_a_list(email: str, campaign: Campaign) -> None:
    campaign.exclusion_lists = [*campaign.exclusion_lists, create_list("Staff")]


@pytest.mark.parametrize(
    "change",
    [_withdraw, _unsubscribe, _suppress, _restrict, _erase, _sign_up_another, _exclude_a_list],
)
def test_the_stored_preview_holds_until_what_it_counts_changes(app_ctx, change):
    campaign, _news, _ids = _one_contact_in_every_state()
    first = lifecycle.compliance_preview(campaign)
    db.session.commit()
    assert audience_count.is_fresh(campaign)
    assert lifecycle.compliance_preview(campaign) == first  # nothing changed: the stored count is shown

    change("ok@example.net", campaign)
    db.session.commit()
    assert not audience_count.is_fresh(campaign)
    again = lifecycle.compliance_preview(campaign)
    db.session.commit()
    assert {k: again[k] for k in ("recipients", "excluded")} == eligibility.exclusion_counts(campaign.id)
    assert again != first


@pytest.mark.config(COMPLIANCE_INLINE_CONTACTS=0)
def test_a_large_audience_is_counted_in_the_background_with_the_same_numbers(app_ctx, worker):
    campaign, _news, ids = _one_contact_in_every_state()
    live = eligibility.exclusion_counts(campaign.id)
    # the id ranges of the background count add up to the one-query count
    low, high = min(ids.values()) - 1, max(ids.values())
    parts = [eligibility.exclusion_counts(campaign.id, after, after + 1) for after in range(low, high)]
    assert sum(part["recipients"] for part in parts) == live["recipients"]
    for reason in live["excluded"]:
        assert sum(part["excluded"][reason] for part in parts) == live["excluded"][reason]

    shown = lifecycle.compliance_preview(campaign, for_page=True)
    db.session.commit()
    assert "recipients" not in shown and shown["counting"]["done"] == 0
    worker.drain()
    db.session.expire_all()
    stored = db.session.get_one(Campaign, campaign.id).compliance
    assert {k: stored[k] for k in ("recipients", "excluded")} == live
    assert audience_count.is_fresh(db.session.get_one(Campaign, campaign.id))


@pytest.mark.config(COMPLIANCE_INLINE_CONTACTS=0)
def test_a_background_count_stops_when_the_draft_changes(app_ctx):
    campaign, _news, _ids = _one_contact_in_every_state()
    lifecycle.compliance_preview(campaign, for_page=True)
    db.session.commit()
    token = campaign.compliance["counting"]["token"]
    campaign.compliance = {}  # what saving the draft does: the audience or content changed
    db.session.commit()
    audience_count.run_count(campaign.id, token)
    db.session.expire_all()
    assert db.session.get_one(Campaign, campaign.id).compliance == {}
