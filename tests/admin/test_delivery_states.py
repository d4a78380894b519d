"""The campaign page, its progress JSON and the uncertain list show every delivery state: how many and why."""

import html
import re

import pytest

from mailer.core.extensions import db
from mailer.staff.accounts import create_staff
from tests.support.campaigns import newsletter
from tests.support.deliveries import seed
from tests.support.http import login
from tests.support.signup import page


def state_row(text: str, status: str) -> str:
    match = re.search(rf'<tr data-state="{status}".*?</tr>', text, re.S)
    assert match, f"no row for {status}"
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0))))


def test_campaign_page_has_a_row_per_state_with_counts_and_grouped_reasons(auth):
    campaign, _ = seed()
    text = auth.get(f"/admin/campaigns/{campaign.public_id}").text
    assert "Deliveries by state" in text
    expected = {"queued": 6, "sending": 2, "sent": 5, "skipped": 3, "failed": 3, "bounced": 1, "uncertain": 4}
    for status, count in expected.items():
        assert re.search(rf"\b{count}\b", state_row(text, status).split("Deliveries")[0]), status
    queued = state_row(text, "queued")
    assert "Queued" in queued and " 6 " in queued
    assert (
        "will retry at … UTC: 451 4.3.0 Mailbox temporarily unavailable ×3" in queued
    )  # two times, one reason
    failed = state_row(text, "failed")
    assert "550 5.1.1 <address>: Recipient address rejected: User unknown ×2" in failed
    assert "gave up after 5 attempts: 421 4.7.0 Try again later ×1" in failed
    assert "@example.net" not in failed  # grouped without the recipients' addresses
    assert "unsubscribed before sending ×2" in state_row(text, "skipped")
    assert "In flight" in state_row(text, "sending") and "Accepted by the relay" in state_row(text, "sent")
    uncertain = state_row(text, "uncertain")
    assert "resending may deliver twice" in uncertain and "List the uncertain deliveries" in uncertain
    assert f'href="/admin/campaigns/{campaign.public_id}/uncertain"' in text


def test_progress_json_carries_the_states_for_the_live_page(auth):
    campaign, _ = seed()
    data = auth.get(f"/admin/campaigns/{campaign.public_id}/progress.json").get_json()
    states = data["states"]
    assert set(states) == {"queued", "sending", "sent", "skipped", "failed", "bounced", "uncertain"}
    assert states["uncertain"]["count"] == 4 and states["sent"] == {
        "count": 5,
        "reasons": [],
        "other_reasons": 0,
    }
    assert states["queued"]["reasons"] == [
        {"reason": "will retry at … UTC: 451 4.3.0 Mailbox temporarily unavailable", "count": 3}
    ]
    # the numbers the progress panel already showed still agree with the table
    assert data["uncertain"] == 4 and data["sent"] == 5 and data["failed"] == 3


def test_a_draft_has_no_state_table(auth):
    campaign, _ = newsletter(1)
    assert "Deliveries by state" not in page(auth.get(f"/admin/campaigns/{campaign.public_id}"))


def test_uncertain_list_explains_pages_by_keyset_and_never_shows_addresses(auth):
    campaign, _contacts = seed(n_extra=60)  # 64 uncertain: two pages of 50
    first = auth.get(f"/admin/campaigns/{campaign.public_id}/uncertain")
    assert first.status_code == 200
    text = page(first)
    assert "The relay may or may not have received them: resending may deliver\n    twice." not in text
    assert "The relay may or may not have received them: resending may deliver twice." in " ".join(
        text.split()
    )
    assert "64 uncertain deliveries" in re.sub(r"<[^>]+>", "", text)
    assert text.count("contact ") >= 50 and "@example.net" not in text
    assert "the worker stopped during the SMTP transaction" in text
    next_link = re.search(r'href="([^"]+uncertain\?after=(\d+))"', text)
    assert next_link, "no next page link"
    second = page(auth.get(html.unescape(next_link.group(1))))
    ids_first = set(re.findall(r"<td>#(\d+)</td>", text))
    ids_second = set(re.findall(r"<td>#(\d+)</td>", second))
    assert len(ids_first) == 50 and len(ids_second) == 14 and not ids_first & ids_second
    assert "Next page" not in second and "First page" in second


@pytest.mark.parametrize("after", ["abc", "-5", "99999999999999999999999"])
def test_uncertain_list_survives_a_bad_cursor(auth, after):
    campaign, _ = seed()
    response = auth.get(f"/admin/campaigns/{campaign.public_id}/uncertain?after={after}")
    assert response.status_code == 200 and "4 uncertain deliveries" in re.sub(r"<[^>]+>", "", page(response))


def test_every_staff_role_may_look_at_the_uncertain_list(client, app_ctx):
    campaign, _ = seed()
    create_staff("viewer@example.com", "correct horse battery", "viewer")
    db.session.commit()
    login(client, "viewer@example.com", "correct horse battery")
    assert client.get(f"/admin/campaigns/{campaign.public_id}/uncertain").status_code == 200
    assert client.get("/admin/campaigns/nope/uncertain").status_code == 404
