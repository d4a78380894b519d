"""The send confirmation of a large audience: the count runs in the background with its progress on the page,
then the page shows the numbers, and sending uses them while nothing they count has changed."""

import pytest

from mailer.core.extensions import db
from tests.admin.test_campaign_pages import draft, form_token
from tests.support.audience import subscriber
from tests.support.signup import page


@pytest.mark.config(COMPLIANCE_INLINE_CONTACTS=0)
def test_the_confirmation_counts_a_large_audience_in_the_background(auth, demo_form, worker):
    subscriber(demo_form, "ann@example.com")
    subscriber(demo_form, "bob@example.com")
    subscriber(demo_form, "pending@example.com", confirmed=False)
    db.session.commit()
    show = f"/admin/campaigns/{draft(auth).public_id}"

    waiting = page(auth.get(f"{show}/send"))
    assert "Counting the recipients in the background: 0 % done." in waiting
    assert "Send now</button>" in waiting
    assert "Send to 0 recipients now" not in waiting

    worker.drain()
    counted = page(auth.get(f"{show}/send"))
    assert "Send to 2 recipients now" in counted
    assert "Never confirmed their subscription (double opt-in pending)" in counted
    assert "Counted " in counted and "Counting the recipients" not in counted
    shown = page(auth.get(show))
    assert 'data-testid="recipients">2</span>' in shown and "recipients will receive it" in shown

    response = auth.post(f"{show}/send", data={"csrf_token": form_token(auth, f"{show}/send")})
    assert response.status_code == 302
    worker.drain()
    assert "Audience when it was sent" in page(auth.get(show))


@pytest.mark.config(COMPLIANCE_INLINE_CONTACTS=0)
def test_count_again_starts_a_background_count(auth, demo_form, request):
    subscriber(demo_form, "ann@example.com")
    db.session.commit()
    show = f"/admin/campaigns/{draft(auth).public_id}"
    response = auth.post(f"{show}/compliance", data={"csrf_token": form_token(auth, show)})
    assert response.status_code == 302
    waiting = page(auth.get(show))
    assert "Counting the recipients in the background." in waiting  # the flash
    assert f'<a href="{show}#compliance">Check again</a>' in waiting
    request.getfixturevalue(
        "worker"
    ).drain()  # the worker starts only now, so the page above saw the count waiting
    shown = page(auth.get(show))
    assert 'data-testid="recipients">1</span>' in shown and "recipient will receive it" in shown
