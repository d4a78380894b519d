"""Sentences stored in English by workers and refusals raised in English by services are shown in the staff
member's language (issue 16): a feed run's error, a webhook's failure and automatic disabling, a campaign's
status reason, the control-characters refusal. What is stored (and what the API gives) stays English."""

from datetime import datetime

import pytest
from sqlalchemy import select

from mailer.campaigns import lifecycle
from mailer.core.extensions import db
from mailer.feeds import operations as feeds
from mailer.feeds.models import FeedRun
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import MailingList
from tests.support.campaigns import make_campaign, make_layout
from tests.support.http import csrf_token
from tests.support.receiver import Answer, Receiver
from tests.support.signup import page
from tests.webhooks.helpers import deliver, endpoint

ITALIAN = {"Accept-Language": "it-IT, it;q=0.9"}
GERMAN = {"Accept-Language": "de-DE, de;q=0.9"}
FRENCH = {"Accept-Language": "fr-FR, fr;q=0.9"}

pytestmark = pytest.mark.config(MAILER_OUTBOUND_ALLOW_HOSTS=["127.0.0.1"])


@pytest.fixture
def server():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def test_a_feed_runs_errors_are_shown_in_italian(app, auth, server):
    news = create_list("Garden news")
    feed = feeds.save_feed(
        feeds.FeedInput(
            name="Garden digest", url=server.url("/feed.xml"), list_id=news.id, layout_id=make_layout().id
        )
    )
    db.session.commit()
    server.answers = [Answer(status=404, body=b"gone")]
    feeds.run_feed(feed)
    feed.url = "http://10.1.2.3/feed.xml"
    db.session.commit()
    feeds.run_feed(feed)
    stored = list(db.session.execute(select(FeedRun.error).order_by(FeedRun.id)).scalars())
    assert stored[0] == "The feed answered with HTTP status 404."  # the API's English
    assert "leads to a private or reserved address" in stored[1]

    shown = page(auth.get(f"/admin/feeds/{feed.public_id}", headers=ITALIAN))
    assert "Il feed ha risposto con lo stato HTTP 404." in shown
    assert (
        "10.1.2.3 porta a un indirizzo privato o riservato (10.1.2.3); sono ammessi solo indirizzi pubblici."
        in shown
    )
    assert "HTTP status 404" not in shown and "private or reserved" not in shown
    english = page(auth.get(f"/admin/feeds/{feed.public_id}"))
    assert "The feed answered with HTTP status 404." in english


def test_a_webhooks_failure_and_its_disabling_are_shown_in_french(app, auth, server, worker):
    made, _ = endpoint(server, ["subscription.confirmed"])
    made.url = "http://10.9.8.7/hook"
    db.session.commit()
    auth.post(f"/admin/webhooks/{made.public_id}/test", data={"csrf_token": _token(auth, made)})
    deliver(worker)
    # A row disabled before this change, in the English the worker stored.
    made.active, made.disabled_at = False, made.created_at
    made.disabled_reason = (
        "Disabled automatically after 20 or more failed attempts in a row, failing since at least 24 hours."
    )
    db.session.commit()
    shown = page(auth.get(f"/admin/webhooks/{made.public_id}", headers=FRENCH))
    assert "10.9.8.7 mène à une adresse privée ou réservée (10.9.8.7)" in shown
    assert "Désactivé automatiquement après 20 tentatives échouées ou plus d'affilée" in shown
    assert "private or reserved" not in shown and "Disabled automatically" not in shown


def _token(auth, made) -> str:
    return csrf_token(auth.get(f"/admin/webhooks/{made.public_id}").get_data(as_text=True))


def test_a_campaigns_status_reason_is_shown_in_german(app, auth):
    news = create_list("News")
    campaign = make_campaign([news])
    campaign.status = "sending"
    db.session.commit()
    lifecycle.pause_campaign(campaign)
    db.session.commit()
    assert campaign.status_reason == "Paused by a person."
    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}", headers=GERMAN))
    assert "Von einer Person pausiert." in shown and "Paused by a person." not in shown
    progress = auth.get(f"/admin/campaigns/{campaign.public_id}/progress.json", headers=GERMAN)
    assert progress.get_json()["status_reason"] == "Von einer Person pausiert."
    api_english = f"Not sent at the scheduled time: {'The postal address is missing.'}"
    campaign.status, campaign.status_reason = "draft", api_english
    db.session.commit()
    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}", headers=GERMAN))
    assert "Nicht zur geplanten Zeit gesendet: The postal address is missing." in shown


def test_the_control_characters_refusal_is_shown_in_italian(app, auth):
    form = auth.get("/admin/lists/new", headers=ITALIAN)
    answer = auth.post(
        "/admin/lists/new",
        data={
            "csrf_token": csrf_token(form.get_data(as_text=True)),
            "name": "News\x07",
            "visibility": "public",
        },
        headers=ITALIAN,
    )
    assert answer.status_code == 400
    shown = page(answer)
    assert (
        "Quanto ha inviato contiene un carattere NUL o un altro carattere di controllo (come ESC o BEL), "
        "che nessun campo accetta. Torni indietro e lo digiti di nuovo." in shown
    )
    assert "type it again" not in shown
    assert db.session.execute(select(MailingList).where(MailingList.name.like("News%"))).first() is None
    refused = auth.post("/admin/lists/new", data={"name": "x"}, headers=GERMAN)  # no CSRF token
    assert refused.status_code == 400
    assert "Ihre Sitzung ist abgelaufen" in page(refused)


def test_the_services_refusal_names_the_field_in_the_viewers_language(app):
    """The same refusal a service raises for the API (English) reads whole in Italian on a page."""
    from mailer.core.sentences import shown
    from mailer.subscriptions.lists import ListError, create_list

    with app.app_context():
        with pytest.raises(ListError) as refused:
            create_list("News\x1b[31m")
        assert str(refused.value).startswith("The list's name contains characters we can't store")
        with app.test_request_context(headers=ITALIAN):
            assert shown(refused.value) == (
                "Il nome della lista contiene caratteri che non possiamo salvare (codici di controllo "
                "invisibili). La preghiamo di digitarlo di nuovo."
            )


def test_a_refused_move_of_a_cancelled_campaign_is_said_in_italian(app, auth):
    """The service refuses in English (the API's words); the page says it in Italian, status included."""
    campaign = make_campaign([create_list("News")])
    campaign.status = "cancelled"
    db.session.commit()
    shown_page = page(auth.get(f"/admin/campaigns/{campaign.public_id}", headers=ITALIAN))
    answer = auth.post(
        f"/admin/campaigns/{campaign.public_id}/pause",
        data={"csrf_token": csrf_token(shown_page)},
        headers=ITALIAN,
        follow_redirects=True,
    )
    text = page(answer)
    assert "Questa campagna è nello stato «annullata»: ora non può passare a «in pausa»." in text
    assert "it can't be paused now" not in text


def test_a_campaign_services_refusals_are_said_in_the_viewers_language(app, auth):
    """A schedule in the past and a send with nobody chosen: the API's English, the page's German."""
    from flask_babel import refresh

    from mailer.core.sentences import shown

    campaign = make_campaign([])
    db.session.commit()
    with pytest.raises(lifecycle.CampaignError) as nobody:
        lifecycle.compliance_preview(campaign)
    with pytest.raises(lifecycle.CampaignError) as zone:
        lifecycle.schedule_campaign(campaign, datetime(2030, 1, 1, 9, 0), "Mars/Olympus")
    with pytest.raises(lifecycle.CampaignError) as too_many:
        lifecycle.send_test(campaign, [f"t{n}@example.org" for n in range(lifecycle.MAX_TEST_ADDRESSES + 1)])
    db.session.rollback()
    assert str(nobody.value) == "Choose at least one list or segment to send to."
    assert str(zone.value) == "Unknown time zone “Mars/Olympus”."
    with app.test_request_context(headers=GERMAN):
        refresh()  # the locale the test's app context chose before is not the German request's
        assert shown(nobody.value) == "Wählen Sie mindestens eine Liste oder ein Segment als Empfänger."
        assert shown(zone.value) == "Unbekannte Zeitzone „Mars/Olympus“."
        assert shown(too_many.value) == "Senden Sie einen Test an höchstens 10 Adressen auf einmal."


def test_an_automatic_pause_for_a_high_bounce_rate_is_shown_in_german(app, auth):
    """The pause reason the rate rule stores (English, as the API gives it) reads in German on the page."""
    from mailer.deliverability import domains

    campaign = make_campaign([create_list("News")])
    rate = domains.RecentRate("example.com", 100, {"bounces": 9, "complaints": 0})
    campaign.status = "paused"
    campaign.status_reason = domains.RATE_PAUSE(
        why=domains._why(rate, domains.BOUNCE_LIMIT), advice=domains._advice(domains.BOUNCE_LIMIT)
    )
    db.session.commit()
    assert campaign.status_reason.startswith(
        "Paused automatically: 9 bounce report(s) about mail from example.com in the last 24 hours against "
        "100 messages sent — a bounce rate of "
    )
    shown = page(auth.get(f"/admin/campaigns/{campaign.public_id}", headers=GERMAN))
    assert (
        "Automatisch pausiert: 9 Unzustellbarkeitsmeldung(en) über E-Mails von example.com in den letzten 24 "
        "Stunden bei 100 gesendeten Nachrichten — eine Bounce-Quote von"
    ) in shown
    assert "Viele Unzustellbarkeiten deuten auf eine alte oder gekaufte Liste" in shown
    assert "Paused automatically" not in shown
