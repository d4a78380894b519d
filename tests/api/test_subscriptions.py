"""POST /subscriptions: the forms' double opt-in through the API, bad input, and no enumeration."""

import pytest
from sqlalchemy import func, select

from mailer.consent.models import ConsentEvent, Notice
from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import email_hash
from mailer.contacts.suppression import suppress
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import MailingList, Subscription
from mailer.subscriptions.signup import confirmation_token
from tests.api.helpers import signup_body
from tests.support.http import confirm_link
from tests.support.signup import contact_by_email, path_of, row_counts


def test_api_signup_sends_the_confirmation_email_and_the_link_confirms(
    app, client, api, write_key, demo_form, worker, smtp_server
):
    response = api.post("/subscriptions", json=signup_body())
    assert response.status_code == 202
    assert response.get_json()["status"] == "accepted"
    worker.drain()

    [received] = smtp_server.to("ann@example.com")
    assert received.message["Subject"] == "Please confirm your subscription to Mailer Demo"
    assert "List-Unsubscribe" not in received.message
    sub = db.session.execute(select(Subscription)).scalar_one()
    assert (sub.status, sub.source) == ("pending", f"api:{write_key[3:11]}")

    path = path_of(confirm_link(received.data, app.config["MAILER_BASE_URL"]), app.config["MAILER_BASE_URL"])
    assert client.get(path).status_code == 200  # a scanner's GET changes nothing
    done = client.post(path, headers={"User-Agent": "MailApp/2.0"})
    assert done.status_code == 200 and "you're subscribed" in done.text
    db.session.expire_all()
    assert db.session.execute(select(Subscription)).scalar_one().status == "confirmed"

    events = db.session.execute(select(ConsentEvent).order_by(ConsentEvent.id)).scalars().all()
    assert [e.action for e in events] == ["requested", "confirmation_sent", "confirmed"]
    requested = events[0]
    assert requested.source == f"api:{write_key[3:11]}"
    assert (requested.ip, requested.user_agent) == ("203.0.113.7", "ShopBrowser/1.0")  # the person's, as sent
    assert requested.details == {
        "api_key": write_key[3:11],
        "source_url": "https://shop.example.com/checkout",
    }
    assert requested.notice.content["intro"] == signup_body()["consent"]["text"]
    assert requested.notice.content["source_url"] == "https://shop.example.com/checkout"
    assert events[2].user_agent == "MailApp/2.0"


def test_changed_wording_makes_a_new_notice_version(api, demo_form):
    api.post("/subscriptions", json=signup_body("a@example.com"))
    api.post("/subscriptions", json=signup_body("b@example.com"))
    changed = signup_body("c@example.com")
    changed["consent"]["text"] = "Yes, send me the weekly newsletter and offers."
    api.post("/subscriptions", json=changed)
    versions = db.session.execute(
        select(Notice.version).where(Notice.key.like("api:%")).order_by(Notice.id)
    ).scalars()
    assert list(versions) == [1, 2]
    notices = [
        e.notice.version
        for e in db.session.execute(
            select(ConsentEvent).where(ConsentEvent.action == "requested").order_by(ConsentEvent.id)
        ).scalars()
    ]
    assert notices == [1, 1, 2]


def test_several_lists_each_get_a_requested_event(api, demo_form):
    from mailer.subscriptions.lists import create_list

    second = create_list("Offers")
    db.session.commit()
    body = signup_body(lists=[demo_form.lists[0].public_id, second.public_id])
    assert api.post("/subscriptions", json=body).status_code == 202
    assert db.session.execute(select(func.count()).select_from(Subscription)).scalar_one() == 2
    assert (
        db.session.execute(select(func.count()).where(ConsentEvent.action == "requested")).scalar_one() == 2
    )


def _error(response, status):
    assert response.status_code == status, response.text
    body = response.get_json()
    assert set(body) == {"error", "detail"}
    return body


@pytest.mark.parametrize(
    "change, field_name",
    [
        ({"email": "not an address"}, "email"),
        ({"email": "ann@"}, "email"),
        ({"email": 42}, "email"),
        ({"email": None}, "email"),
        ({"lists": "abc"}, "lists"),
        ({"lists": [1, 2]}, "lists"),
        ({"lists": []}, "lists"),
        ({"lists": ["no-such-list"]}, "lists"),
        ({"name": ["Ann"]}, "name"),
        ({"name": "A" * 201}, "name"),
        ({"name": "Ann\x00"}, "name"),
        ({"name": "Ann\x1b[31m\x07"}, "name"),
        ({"lists": ["abc\x00"]}, "lists"),
        (
            {"consent": {"text": "I agree to the newsletter.\x1b", "source_url": "https://x.example/"}},
            "consent.text",
        ),
        (
            {
                "consent": {
                    "text": "I agree to the newsletter.",
                    "source_url": "https://x.example/",
                    "user_agent": "Browser\r\nX: y",
                }
            },
            "consent.user_agent",
        ),
        ({"consent": "yes"}, "consent"),
        ({"consent": {"source_url": "https://shop.example.com/"}}, "consent.text"),
        ({"consent": {"text": "short", "source_url": "https://shop.example.com/"}}, "consent.text"),
        (
            {"consent": {"text": "I agree to the newsletter.", "source_url": "javascript:alert(1)"}},
            "consent.source_url",
        ),
        (
            {
                "consent": {
                    "text": "I agree to the newsletter.",
                    "source_url": "https://x.example/",
                    "ip": "999.1.1.1",
                }
            },
            "consent.ip",
        ),
        (
            {
                "consent": {
                    "text": "I agree to the newsletter.",
                    "source_url": "https://x.example/",
                    "extra": 1,
                }
            },
            "consent.extra",
        ),
        ({"surprise": True}, "surprise"),
    ],
)
def test_invalid_values_are_422_naming_the_field(app, api, demo_form, change, field_name):
    before = row_counts()
    body = _error(api.post("/subscriptions", json={**signup_body(), **change}), 422)
    assert field_name in body["detail"], body
    assert row_counts() == before  # nothing half-written


def test_missing_consent_is_refused(api, demo_form):
    body = signup_body()
    del body["consent"]
    assert _error(api.post("/subscriptions", json=body), 422)["detail"] == {
        "consent": "this field is required"
    }


def test_invalid_address_message_is_for_people(api, demo_form):
    body = _error(api.post("/subscriptions", json=signup_body("ann.example.com")), 422)
    assert (
        body["detail"]["email"] == "That doesn't look like an email address. Please check it and try again."
    )


def test_malformed_json_is_400(api, demo_form):
    response = api.post(
        "/subscriptions", data='{"email": "ann@example.com",', content_type="application/json"
    )
    assert "not valid JSON" in _error(response, 400)["error"]
    deep = "[" * 5000 + "]" * 5000
    assert _error(api.post("/subscriptions", data=deep, content_type="application/json"), 400)


def test_body_must_be_a_json_object(api, demo_form):
    assert _error(api.post("/subscriptions", json=["ann@example.com"]), 422)["detail"] == {
        "body": "expected an object"
    }


def test_form_encoded_body_is_415(api, demo_form):
    response = api.post("/subscriptions", data={"email": "ann@example.com"})
    assert "application/json" in _error(response, 415)["error"]


def test_oversized_body_is_413(app, api, demo_form):
    body = signup_body()
    body["consent"]["text"] = "x" * (app.config["API_MAX_BODY_BYTES"] + 1)
    response = api.post("/subscriptions", json=body)
    assert _error(response, 413)["detail"] == {"max_bytes": app.config["API_MAX_BODY_BYTES"]}


def test_text_longer_than_a_notice_allows_is_422(api, demo_form):
    body = signup_body()
    body["consent"]["text"] = "y" * 10_001
    assert "consent.text" in _error(api.post("/subscriptions", json=body), 422)["detail"]


VARYING_HEADERS = {"Date", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Limit", "Retry-After"}


def _answer(response) -> tuple:
    headers = tuple(sorted((k, v) for k, v in response.headers.items() if k not in VARYING_HEADERS))
    return response.status_code, headers, response.data


def test_same_answer_whatever_the_address(app, client, api, demo_form):
    api.post("/subscriptions", json=signup_body("pending@example.com"))
    api.post("/subscriptions", json=signup_body("confirmed@example.com"))
    assert (
        client.post(f"/confirm/{confirmation_token(contact_by_email('confirmed@example.com'))}").status_code
        == 200
    )
    suppress(email_hash("gone@example.com"), "erased")
    api.post("/subscriptions", json=signup_body("restricted@example.com"))
    contact_by_email("restricted@example.com").status = "restricted"
    db.session.commit()

    answers = {
        email: _answer(api.post("/subscriptions", json=signup_body(email)))
        for email in (
            "new@example.com",
            "pending@example.com",
            "confirmed@example.com",
            "gone@example.com",
            "restricted@example.com",
        )
    }
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values()))[0] == 202


def test_confirmed_subscriber_is_not_asked_again_but_a_suppressed_one_is(app, client, api, demo_form, worker):
    api.post("/subscriptions", json=signup_body("ann@example.com"))
    client.post(f"/confirm/{confirmation_token(contact_by_email('ann@example.com'))}")
    worker.drain()
    requested = select(func.count()).where(ConsentEvent.action == "requested")
    assert db.session.execute(requested).scalar_one() == 1
    api.post("/subscriptions", json=signup_body("ann@example.com"))
    assert db.session.execute(requested).scalar_one() == 1  # nothing to confirm: no event, no email

    suppress(email_hash("ann@example.com"), "unsubscribed")
    db.session.commit()
    api.post("/subscriptions", json=signup_body("ann@example.com"))
    db.session.expire_all()
    assert db.session.execute(requested).scalar_one() == 2  # J4: back only through a fresh double opt-in
    assert db.session.execute(select(Subscription.status)).scalar_one() == "pending"


def test_restricted_contact_is_not_processed(api, demo_form):
    api.post("/subscriptions", json=signup_body("ann@example.com"))
    contact_by_email("ann@example.com").status = "restricted"
    db.session.commit()
    before = row_counts()
    assert (
        api.post("/subscriptions", json=signup_body("ann@example.com", name="Someone Else")).status_code
        == 202
    )
    assert row_counts() == before
    assert db.session.execute(select(Contact.name)).scalar_one() == "Ann"


def test_private_list_accepts_api_signups(api, demo_form):
    from mailer.subscriptions.lists import create_list

    private = create_list("Staff picks", visibility="private")
    db.session.commit()
    assert api.post("/subscriptions", json=signup_body(lists=[private.public_id])).status_code == 202
    sub = db.session.execute(
        select(Subscription).join(MailingList).where(MailingList.id == private.id)
    ).scalar_one()
    assert sub.status == "pending"


def test_an_archived_list_takes_no_api_signups(api, demo_form):
    from mailer.subscriptions.lists import archive_list

    demo = demo_form.lists[0]
    archive_list(demo)
    db.session.commit()
    before = row_counts()
    body = _error(api.post("/subscriptions", json=signup_body(lists=[demo.public_id])), 422)
    assert body["detail"]["lists"] == f"Archived lists take no sign-ups: {demo.public_id}."
    assert row_counts() == before
