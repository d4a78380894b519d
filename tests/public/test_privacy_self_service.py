"""A person exercises each right from the preference centre:
verified by a link to their address, then done."""

import io
import json
import re
import zipfile

from sqlalchemy import select

from mailer.consent.models import ConsentEvent
from mailer.contacts import fields as field_service
from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.privacy.models.requests import PrivacyRequest
from mailer.tracking.models import TrackingEvent
from tests.public.recipients import sent_campaign
from tests.support.privacy import (
    define_fields,
    fill_fields,
    links_in_mail,
    preference_path,
    sign_up_and_confirm,
)

EMAIL = "ann.example@example.org"


def _ann(app, client, worker) -> Contact:
    return sign_up_and_confirm(
        app,
        client,
        worker,
        EMAIL,
        "Ann Example",
        ip="203.0.113.5",
        user_agent="AnnBrowser/1.0",
        confirm_ip="203.0.113.6",
        confirm_user_agent="AnnPhone/2.0",
    )


def _request_and_verify(app, client, worker, contact, kind, data=None, address=EMAIL):
    """Submit the self-service form, then follow the verification link that arrived by mail."""
    response = client.post(preference_path(contact, kind), data=data or {})
    assert response.status_code == 200 and "Check your inbox" in response.text, response.text
    worker.drain()
    verify = links_in_mail(app, address, "/privacy/verify/")[-1]
    return client.post(verify)


def test_access_download_holds_everything_with_the_words_they_agreed_to(app, client, demo_form, worker):
    ann = _ann(app, client, worker)
    fields = define_fields()
    fill_fields(
        ann, fields, {"health": "Coeliac disease", "national_id": "DE-4417-2290-1133", "postcode": "24937"}
    )
    sent = sent_campaign(ann.subscriptions[0].mailing_list, [ann])
    db.session.add(TrackingEvent(campaign_id=sent.campaign.id, contact_id=ann.id, kind="open"))
    db.session.commit()

    page = client.get(preference_path(ann, "access"))
    assert page.status_code == 200 and "ZIP file" in page.text
    done = _request_and_verify(app, client, worker, ann, "access")
    assert done.status_code == 200 and "Your data is ready" in done.text
    download = re.search(r'href="(/privacy/download/[^"]+)"', done.text).group(1)
    response = client.get(download)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"

    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(archive.namelist())
    assert {
        "data.json",
        "notices.json",
        "README.html",
        "README.txt",
        "csv/profile.csv",
        "csv/consent_history.csv",
        "csv/deliveries.csv",
        "csv/tracking.csv",
        "csv/fields.csv",
        "csv/privacy_requests.csv",
    } <= names
    data = json.loads(archive.read("data.json"))
    assert data["profile"][0]["email"] == EMAIL and data["profile"][0]["name"] == "Ann Example"
    history = data["consent_history"]
    requested = next(row for row in history if row["action"] == "requested")
    assert requested["ip"] == "203.0.113.5" and requested["user_agent"] == "AnnBrowser/1.0"
    labels = [box["label"] for box in requested["notice_text"]["checkboxes"]]
    assert any("Demo newsletter" in label for label in labels)  # the exact words shown on the form
    assert any(row["action"] == "confirmed" and row["ip"] == "203.0.113.6" for row in history)
    assert [(d["campaign"], d["status"]) for d in data["deliveries"]] == [("Spring news", "sent")]
    assert [t["kind"] for t in data["tracking"]] == ["open"]
    assert {row["type"] for row in data["privacy_requests"]} == {"access"}
    # The person themself sees their sensitive values in clear.
    assert {f["field"]: f["value"] for f in data["fields"]}["national_id"] == "DE-4417-2290-1133"
    readme = archive.read("README.txt").decode()
    for heading in (
        "Who receives it",
        "How long we keep it",
        "Where it comes from",
        "YOUR RIGHTS",
        "COMPLAINTS",
        "AUTOMATED DECISIONS",
    ):
        assert heading in readme, heading
    assert "Demo newsletter" in archive.read("notices.json").decode()

    db.session.expire_all()
    req = db.session.execute(select(PrivacyRequest)).scalar_one()
    assert (req.type, req.status, req.channel) == ("access", "completed", "preference-centre")
    assert req.identity_verified_at is not None and req.details["downloads"] == 1
    assert client.get(download.replace("/download/", "/download/x")).status_code == 404


def test_a_verification_link_changes_nothing_until_the_button_is_pressed(app, client, demo_form, worker):
    ann = _ann(app, client, worker)
    client.post(preference_path(ann, "erasure"), data={"confirm": "yes"})
    worker.drain()
    [verify] = links_in_mail(app, EMAIL, "/privacy/verify/")
    message = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.subject.like("%erasure%"))
    ).scalar_one()
    assert message.rcpt_to == EMAIL  # the link goes to the address on file, nowhere else
    for _ in range(2):  # link scanners prefetch
        assert client.get(verify).status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, ann.id).status == "active"
    assert db.session.execute(select(PrivacyRequest)).scalar_one().status == "awaiting_verification"
    assert client.get("/privacy/verify/not-a-token").status_code == 404


def test_erasure_needs_the_box_ticked(app, client, demo_form, worker):
    ann = _ann(app, client, worker)
    response = client.post(preference_path(ann, "erasure"), data={})
    assert response.status_code == 400 and "Tick the box" in response.text
    assert db.session.execute(select(PrivacyRequest)).first() is None


def test_restriction_from_the_preference_centre(app, client, demo_form, worker):
    ann = _ann(app, client, worker)
    done = _request_and_verify(app, client, worker, ann, "restriction")
    assert "restricted" in done.text
    db.session.expire_all()
    assert db.session.get(Contact, ann.id).status == "restricted"
    assert "already restricted" in client.get(preference_path(ann, "restriction")).text


def test_rectification_of_name_field_and_address_with_double_opt_in_for_the_new_address(
    app, client, demo_form, worker
):
    ann = _ann(app, client, worker)
    fields = define_fields()
    db.session.commit()
    form = {
        "name": "Ann Corrected",
        "email": "ann.new@example.org",
        "field_postcode": "24103",
        "field_health": "Lactose intolerance",
        "consent_field": "health",
    }
    done = _request_and_verify(app, client, worker, ann, "rectification", form)
    assert "new email address" in done.text
    db.session.expire_all()
    ann = db.session.get(Contact, ann.id)
    assert (
        ann.name == "Ann Corrected" and ann.email == EMAIL
    )  # the old address stays until the new one confirms
    assert field_service.read_value(ann, fields["postcode"]) == "24103"
    assert field_service.read_value(ann, fields["health"]) == "Lactose intolerance"
    consent = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.purpose_id == fields["health"].purpose_id)
    ).scalar_one()
    assert consent.action == "granted" and "explicitly agree" in consent.notice.content["checkbox"]

    worker.drain()
    [confirm] = links_in_mail(app, "ann.new@example.org", "/privacy/address/")
    assert client.get(confirm).status_code == 200
    assert db.session.get(Contact, ann.id).email == EMAIL  # a GET changes nothing
    assert client.post(confirm).status_code == 200
    db.session.expire_all()
    ann = db.session.get(Contact, ann.id)
    assert ann.email == "ann.new@example.org"
    last = db.session.execute(
        select(ConsentEvent)
        .where(ConsentEvent.contact_id == ann.id)
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    ).scalar_one()
    assert (last.action, last.email, last.details["change"]) == (
        "confirmed",
        "ann.new@example.org",
        "address",
    )
    req = db.session.execute(select(PrivacyRequest)).scalar_one()
    assert req.status == "completed" and "new_email" not in req.details


def test_sensitive_value_without_the_consent_tick_is_refused(app, client, demo_form, worker):
    ann = _ann(app, client, worker)
    define_fields()
    db.session.commit()
    response = client.post(
        preference_path(ann, "rectification"),
        data={"name": "Ann Example", "email": EMAIL, "field_health": "Asthma"},
    )
    assert response.status_code == 400 and "explicit consent" in response.text


def test_bad_or_foreign_tokens_get_a_clear_page(app, client, demo_form, worker):
    assert client.get("/p/garbage/privacy/access").status_code == 404
    ann = _ann(app, client, worker)
    assert client.get(preference_path(ann, "teleport")).status_code == 404
    assert client.post(preference_path(ann, "objection"), data={"purpose": "list:nope"}).status_code == 400


def test_the_privacy_notice_is_public_versioned_and_complete(app, client, demo_form):
    page = client.get("/privacy")
    assert page.status_code == 200
    for heading in (
        "Who we are",
        "Emails you subscribe to",
        "Direct marketing",
        "Uses for which we do not ask",
        "Who we share data with",
        "Transfers outside",
        "How long we keep your data",
        "Your rights",
        "Complaints",
        "If you do not give us your data",
        "Automated decisions",
    ):
        assert heading in page.text, heading
    assert "Version 1" in page.text
    from mailer.subscriptions.lists import create_list

    create_list("Offers", "Special offers")
    db.session.commit()
    newer = client.get("/privacy")
    assert "Version 2" in newer.text and "Offers" in newer.text
    older = client.get("/privacy?version=1")
    assert "Offers" not in older.text and "earlier version" in older.text
    assert client.get("/privacy?version=99").status_code == 404


def test_the_privacy_notice_speaks_the_visitors_language_each_with_its_own_versions(app, client, demo_form):
    from mailer.consent.models import Notice
    from mailer.subscriptions.lists import create_list

    italian = {"Accept-Language": "it-IT, it;q=0.9"}
    page = client.get("/privacy", headers=italian)
    assert page.status_code == 200 and '<html lang="it"' in page.text
    for words in (
        "Informativa privacy di",
        "Chi siamo e come contattarci",
        "Email a cui si iscrive",
        "Base giuridica: il Suo consenso (art. 6, par. 1, lett. a).",
        "Far cancellare i Suoi dati (cancellazione, art. 17).",
        "Per quanto tempo conserviamo i Suoi dati",
    ):
        assert words in page.text, words
    assert "Who we are" not in page.text and "Version 1" not in page.text
    english = client.get("/privacy")
    assert "Privacy notice of" in english.text and "Who we are and how to reach us" in english.text

    # Each language is its own series of versions, each with its hash; a change publishes both again.
    create_list("Offers", "Special offers")
    db.session.commit()
    assert "Offers" in client.get("/privacy", headers=italian).text
    assert "Offers" in client.get("/privacy").text
    db.session.expire_all()
    versions = db.session.execute(
        select(Notice.key, Notice.version).where(Notice.key.like("privacy-notice%")).order_by(Notice.id)
    ).all()
    expected = [
        ("privacy-notice", 1),
        ("privacy-notice", 2),
        ("privacy-notice:it", 1),
        ("privacy-notice:it", 2),
    ]
    assert sorted(versions) == expected
    first_italian = db.session.execute(
        select(Notice).where(Notice.key == "privacy-notice:it", Notice.version == 1)
    ).scalar_one()
    assert first_italian.content["title"].startswith("Informativa privacy di") and first_italian.content_hash
    older = client.get("/privacy?version=1", headers=italian)
    assert "Offers" not in older.text and "Chi siamo e come contattarci" in older.text
