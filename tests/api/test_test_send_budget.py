"""One budget of test sends for each staff member whatever the door (core/test_sends.py): campaign,
transactional-template and journey tests, from the admin and through API keys, spend the same
TEST_SEND_RATE_LIMIT; an API key spends the budget of the staff member who created it; a refused test spends
nothing; once it is spent the admin says so on the page of what was tested (429, Retry-After, what was typed
kept), the API answers 429 with Retry-After, and nothing more arrives at the SMTP server."""

import re

import pytest

from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from mailer.staff.api_keys import create_key
from tests.admin.test_campaign_pages import draft, form_token
from tests.api.helpers import ApiClient
from tests.api.test_journey_runs import _series
from tests.journeys.test_engine import _list
from tests.support.campaigns import make_layout
from tests.support.http import csrf_token
from tests.transactional.helpers import SETTINGS, reset_template


def _received(smtp_server) -> list[str]:
    return sorted(address for mail in smtp_server.messages for address in mail.rcpt_tos)


@pytest.mark.config(**SETTINGS, TEST_SEND_RATE_LIMIT="3 per hour")
def test_every_kind_of_test_from_every_door_spends_one_budget(auth, api, demo_form, worker, smtp_server):
    campaign = draft(auth)
    template = reset_template()
    db.session.commit()
    show = f"/admin/campaigns/{campaign.public_id}"
    admin_test = auth.post(
        f"{show}/test", data={"csrf_token": form_token(auth, show), "addresses": "a@example.org"}
    )
    assert admin_test.status_code == 302
    tx_test = f"/tx-templates/{template.public_id}/test"
    assert api.post(tx_test, json={"email": "b@example.org"}).status_code == 202
    refused = api.post(tx_test, json={"email": "not-an-address"})
    assert refused.status_code == 422  # refused, so not counted
    assert (
        api.post(f"/campaigns/{campaign.public_id}/test", json={"addresses": ["c@example.org"]}).status_code
        == 202
    )

    spent = api.post(f"/campaigns/{campaign.public_id}/test", json={"addresses": ["d@example.org"]})
    assert spent.status_code == 429
    assert "Test sends are limited to 3 per hour for each staff member" in spent.json["error"]
    assert 0 < int(spent.headers["Retry-After"]) <= 3600 and spent.json["detail"]["retry_after"] > 0
    assert api.post(tx_test, json={"email": "e@example.org"}).status_code == 429
    # an unknown campaign is still a 404, as an unknown template or journey is
    unknown = api.post("/campaigns/no-such-campaign/test", json={"addresses": ["x@example.org"]})
    assert unknown.status_code == 404
    path = f"/admin/transactional/{template.public_id}"
    page = auth.post(
        f"{path}/test", data={"csrf_token": csrf_token(auth.get(path).text), "address": "f@example.org"}
    )
    assert page.status_code == 429
    assert "Test sends are limited to 3 per hour for each staff member" in page.text
    assert page.headers["Retry-After"].isdigit()
    assert 'id="test-problem"' in page.text and template.name in page.text  # the template's own page
    # the campaign's page says it beside its Send test button, the addresses kept in their box
    again = auth.post(
        f"{show}/test", data={"csrf_token": form_token(auth, show), "addresses": "g@example.org"}
    )
    assert again.status_code == 429 and again.headers["Retry-After"].isdigit()
    problem = re.search(r"<div[^>]*data-test-problem>([^<]*)</div>", again.text)
    assert problem and "Test sends are limited to 3 per hour for each staff member" in problem.group(1)
    assert "g@example.org</textarea>" in again.text

    worker.drain()
    assert _received(smtp_server) == ["a@example.org", "b@example.org", "c@example.org"]


@pytest.mark.config(TEST_SEND_RATE_LIMIT="1 per hour")
def test_a_key_spends_its_creators_budget_and_each_staff_member_has_their_own(
    app_ctx, client, auth, api, worker, smtp_server
):
    news = _list("News")
    layout = make_layout()
    db.session.commit()
    jid = _series(api, news, layout)  # two emails: a test run sends both
    builder = f"/admin/journeys/{jid}"
    tested = auth.post(
        f"{builder}/test",
        data={"csrf_token": csrf_token(auth.get(builder).text), "address": "me@example.org"},
    )
    assert tested.status_code == 303
    # the owner's key: the owner's budget, spent in the admin a moment ago
    assert api.post(f"/journeys/{jid}/test", json={"address": "key@example.org"}).status_code == 429
    # and the admin's builder says so under its test form, the address kept
    again = auth.post(
        f"{builder}/test",
        data={"csrf_token": csrf_token(auth.get(builder).text), "address": "twice@example.org"},
    )
    assert again.status_code == 429 and again.headers["Retry-After"].isdigit()
    problem = re.search(r"<div[^>]*data-test-problem>([^<]*)</div>", again.text)
    assert problem and "Test sends are limited to 1 per hour for each staff member" in problem.group(1)
    assert 'value="twice@example.org"' in again.text

    marketer = create_staff("marketer@example.com", "correct horse battery", "marketer")
    _, secret = create_key("Marketing integration", "read_write", marketer)
    db.session.commit()
    theirs = ApiClient(client, secret)
    assert theirs.post(f"/journeys/{jid}/test", json={"address": "marketer@example.org"}).status_code == 202
    assert theirs.post(f"/journeys/{jid}/test", json={"address": "again@example.org"}).status_code == 429

    worker.drain()
    assert _received(smtp_server) == ["marketer@example.org"] * 2 + ["me@example.org"] * 2
