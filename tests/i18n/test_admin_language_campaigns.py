"""A feed campaign's refusals and the saved message speak the staff member's browser language (issue 16): the
feed service's checks go through gettext, so a German browser reads them in German, the API stays English."""

from sqlalchemy import select

from mailer.core.extensions import db
from mailer.feeds import operations as feeds
from mailer.feeds.models import Feed
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import make_layout
from tests.support.http import csrf_token
from tests.support.signup import page

GERMAN = {"Accept-Language": "de-DE, de;q=0.9"}


def test_feed_refusals_and_saved_message_in_german(app, app_ctx, auth):
    news = create_list("Garden news")
    layout = make_layout()
    db.session.commit()
    form = {"name": "Garden digest", "url": "https://feeds.example.org/rss", "list_id": str(news.id)}
    form |= {"layout_id": str(layout.id), "frequency": "weekly", "weekday": "0", "hour": "9"}
    form |= {"timezone": "Europe/Berlin", "max_items": "10", "body": feeds.DEFAULT_BODY, "track_clicks": "y"}

    def post(**changed):
        token = csrf_token(auth.get("/admin/feeds/new", headers=GERMAN).text)
        data = form | {"subject": feeds.DEFAULT_SUBJECT, "csrf_token": token} | changed
        return auth.post("/admin/feeds/new", data=data, headers=GERMAN)

    no_subject = post(subject="")
    assert no_subject.status_code == 400
    assert "Schreiben Sie den Betreff (höchstens 300 Zeichen)." in page(no_subject)
    broken = post(body="{% for item in items %}")
    assert broken.status_code == 400
    assert "Die Vorlage des Inhalts enthält einen Fehler:" in page(broken)
    assert db.session.execute(select(Feed)).first() is None  # nothing half-written

    saved = auth.post(
        "/admin/feeds/new",
        data=form
        | {"subject": feeds.DEFAULT_SUBJECT, "csrf_token": csrf_token(auth.get("/admin/feeds/new").text)},
        headers=GERMAN,
        follow_redirects=True,
    )
    assert "Feed-Kampagne gespeichert. Setzen Sie sie fort, damit sie nach Zeitplan läuft." in page(saved)
