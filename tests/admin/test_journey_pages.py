"""The journey builder: create a journey, add, edit, move and delete steps, start and pause it, see the
step numbers and send a test run; editors only, CSRF checked, bad input answered with a message."""

from sqlalchemy import select

from mailer.contacts import fields as contact_fields
from mailer.core.extensions import db
from mailer.delivery.relays import RelayFields, TlsMode, save_relay
from mailer.journeys import engine
from mailer.journeys import operations as journeys
from mailer.journeys.models import Journey, JourneyStep
from mailer.segments.operations import save_segment
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import make_layout, subscriber
from tests.support.http import csrf_token, staff_client


def _news():
    news = create_list("News")
    layout = make_layout()
    db.session.commit()
    return news, layout


def _steps(journey) -> list[tuple[str, str]]:
    db.session.expire_all()
    return [
        (s.kind, s.subject)
        for s in db.session.execute(
            select(JourneyStep).where(JourneyStep.journey_id == journey.id).order_by(JourneyStep.position)
        ).scalars()
    ]


def _create(auth, news, layout) -> Journey:
    token = csrf_token(auth.get("/admin/journeys/new").text)
    created = auth.post(
        "/admin/journeys/new",
        data={
            "csrf_token": token,
            "name": "Welcome series",
            "trigger": "list_confirmed",
            "list_id": str(news.id),
            "trigger_tag_id": "",
            "layout_id": str(layout.id),
            "timezone": "Europe/Berlin",
            "track_clicks": "y",
        },
    )
    assert created.status_code == 302
    return db.session.execute(select(Journey)).scalar_one()


def _token(auth, journey) -> str:
    """A fresh CSRF token from the builder page (tokens are single-use)."""
    return csrf_token(auth.get(f"/admin/journeys/{journey.public_id}").text)


def _add(auth, journey, kind, **fields):
    path = f"/admin/journeys/{journey.public_id}/steps/new?kind={kind}"
    return auth.post(path, data={"csrf_token": csrf_token(auth.get(path).text), **fields})


def test_build_a_welcome_series_start_it_and_see_its_numbers(app_ctx, auth, worker, smtp_server):
    news, layout = _news()
    assert "No journeys yet" in auth.get("/admin/journeys").text
    journey = _create(auth, news, layout)
    assert (journey.status, journey.timezone) == ("paused", "Europe/Berlin")
    assert "No steps yet" in auth.get(f"/admin/journeys/{journey.public_id}").text

    assert (
        _add(auth, journey, "send", subject="Welcome", body_format="markdown", body="Hello!").status_code
        == 303
    )
    assert (
        _add(auth, journey, "send", subject="Day two", body_format="markdown", body="More").status_code == 303
    )
    waited = _add(
        auth, journey, "wait", wait_mode="duration", wait_days="2", wait_hours="0", wait_minutes="0"
    )
    assert waited.status_code == 303
    assert _steps(journey) == [("send", "Welcome"), ("send", "Day two"), ("wait", "")]

    show = auth.get(f"/admin/journeys/{journey.public_id}").text
    wait_step = db.session.execute(select(JourneyStep).where(JourneyStep.kind == "wait")).scalar_one()
    moved = auth.post(
        f"/admin/journeys/{journey.public_id}/steps/{wait_step.id}/move",
        data={"csrf_token": _token(auth, journey), "direction": "up"},
    )
    assert moved.status_code == 303, moved.text[-3000:]
    assert _steps(journey) == [("send", "Welcome"), ("wait", ""), ("send", "Day two")]
    assert "Wait 2 d" in auth.get(f"/admin/journeys/{journey.public_id}").text

    started = auth.post(
        f"/admin/journeys/{journey.public_id}/status",
        data={"csrf_token": _token(auth, journey), "action": "start"},
    )
    assert started.status_code == 303
    db.session.expire_all()
    assert db.session.get(Journey, journey.id).status == "active"

    ann = subscriber(news, "ann@example.com", "Ann")
    db.session.commit()
    journeys.enrol(db.session.get(Journey, journey.id), ann.id, "test")
    db.session.commit()
    engine.advance_due()
    worker.drain()
    assert [m.message["Subject"] for m in smtp_server.to("ann@example.com")] == ["Welcome"]
    show = auth.get(f"/admin/journeys/{journey.public_id}").text
    assert "Entered: 1 · sent: 1 · clicked: 0" in show
    assert "waiting to run this step: 1" in show  # step 3, after the wait

    paused = auth.post(
        f"/admin/journeys/{journey.public_id}/status",
        data={"csrf_token": _token(auth, journey), "action": "pause"},
    )
    assert paused.status_code == 303
    db.session.expire_all()
    assert db.session.get(Journey, journey.id).status == "paused"

    tested = auth.post(
        f"/admin/journeys/{journey.public_id}/test",
        data={"csrf_token": _token(auth, journey), "address": "me@example.org"},
    )
    assert tested.status_code == 303
    worker.drain()
    assert sorted(m.message["Subject"] for m in smtp_server.to("me@example.org")) == [
        "[TEST] Day two",
        "[TEST] Welcome",
    ]

    first = db.session.execute(select(JourneyStep).where(JourneyStep.subject == "Welcome")).scalar_one()
    deleted = auth.post(
        f"/admin/journeys/{journey.public_id}/steps/{first.id}/delete",
        data={"csrf_token": _token(auth, journey)},
    )
    assert deleted.status_code == 303
    assert _steps(journey) == [("wait", ""), ("send", "Day two")]


def _fresh(auth) -> dict:
    return {"csrf_token": csrf_token(auth.get("/admin/journeys/new").text)}


def test_bad_input_is_refused_with_a_message_and_nothing_is_written(app_ctx, auth):
    news, layout = _news()
    token = csrf_token(auth.get("/admin/journeys/new").text)
    base = {
        "csrf_token": token,
        "name": "J",
        "trigger": "tag_added",
        "list_id": str(news.id),
        "layout_id": "",
    }
    refused = auth.post("/admin/journeys/new", data=base | _fresh(auth) | {"trigger_tag_id": ""})
    assert refused.status_code == 400 and "Choose the tag that starts the journey." in refused.text
    zone = auth.post(
        "/admin/journeys/new", data=base | _fresh(auth) | {"trigger": "api", "timezone": "Mars/Base"}
    )
    assert zone.status_code == 400 and "Unknown time zone" in zone.text
    assert auth.post("/admin/journeys/new", data=base | _fresh(auth) | {"list_id": "x"}).status_code == 400
    assert db.session.execute(select(Journey)).first() is None

    journey = _create(auth, news, layout)
    empty = _add(auth, journey, "send", subject="", body_format="markdown", body="x")
    assert empty.status_code == 400 and "Write the email" in empty.text
    wait = _add(auth, journey, "wait", wait_mode="duration", wait_days="0", wait_hours="0", wait_minutes="0")
    assert wait.status_code == 400 and "at least a minute" in wait.text
    assert _steps(journey) == []
    started = auth.post(
        f"/admin/journeys/{journey.public_id}/status",
        data={"csrf_token": _token(auth, journey), "action": "start"},
        follow_redirects=True,
    )
    assert "Add at least one step first." in started.text
    no_token = auth.post(f"/admin/journeys/{journey.public_id}/steps/new?kind=end", data={})
    assert no_token.status_code == 400 and _steps(journey) == []  # CSRF
    assert auth.get(f"/admin/journeys/{journey.public_id}/steps/99999/edit").status_code == 404
    assert auth.get("/admin/journeys/nope").status_code == 404
    assert "Send an email" in auth.get(f"/admin/journeys/{journey.public_id}/steps/new?kind=bogus").text


def test_viewers_read_but_cannot_change_and_csrf_is_checked(app, app_ctx):
    news, layout = _news()
    journey = journeys.create_journey(
        journeys.JourneyInput(name="Welcome", trigger="api", list_id=news.id, layout_id=layout.id)
    )
    db.session.commit()
    viewer = staff_client(app, "viewer")
    assert "Welcome" in viewer.get("/admin/journeys").text
    assert viewer.get(f"/admin/journeys/{journey.public_id}").status_code == 200
    assert viewer.get("/admin/journeys/new").status_code == 403
    token = csrf_token(viewer.get("/admin/journeys").text)  # the page's sign-out form
    path = f"/admin/journeys/{journey.public_id}/status"
    assert viewer.post(path, data={"action": "start", "csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Journey, journey.id).status == "paused"


def test_segment_and_date_triggers_list_steps_and_a_relay_from_the_pages(app_ctx, auth):
    news, layout = _news()
    partners = create_list("Partners")
    segment = save_segment(
        "VIPs",
        {"match": "all", "rules": [{"field": "email_domain", "op": "is", "value": "example.com"}]},
        None,
    )
    birthday = contact_fields.define_field("birthday", "Birthday", "ordinary", value_type="date")
    relay = save_relay(None, RelayFields(name="bulk", host="127.0.0.1", port=2525, tls_mode=TlsMode.NONE))
    db.session.commit()
    form = auth.get("/admin/journeys/new").text
    for words in ("A contact joins a segment", "The day of a date field comes", "VIPs", "Birthday", "bulk"):
        assert words in form
    base = {"name": "Birthdays", "list_id": str(news.id), "layout_id": str(layout.id), "timezone": "UTC"}
    no_field = auth.post("/admin/journeys/new", data=base | _fresh(auth) | {"trigger": "date_field"})
    assert no_field.status_code == 400 and "Choose the date field" in no_field.text
    created = auth.post(
        "/admin/journeys/new",
        data=base
        | _fresh(auth)
        | {
            "trigger": "date_field",
            "date_field_id": str(birthday.id),
            "date_yearly": "y",
            "date_offset_days": "0",
            "date_hour": "10",
            "relay_id": str(relay.id),
        },
    )
    assert created.status_code == 302, created.text[-2000:]
    journey = db.session.execute(select(Journey)).scalar_one()
    assert (journey.date_field_id, journey.date_hour, journey.date_yearly) == (birthday.id, 10, True)
    assert journey.relay_id == relay.id

    short = _add(auth, journey, "add_list", list_id=str(partners.id), basis="has_consent", statement="yes")
    assert short.status_code == 400 and "at least 20 characters" in short.text
    added = _add(
        auth,
        journey,
        "add_list",
        list_id=str(partners.id),
        basis="has_consent",
        statement="Ticked the partner box at the 2026 fair",
    )
    assert added.status_code == 303
    assert _add(auth, journey, "remove_list", list_id=str(news.id)).status_code == 303
    assert [kind for kind, _ in _steps(journey)] == ["add_list", "remove_list"]
    show = auth.get(f"/admin/journeys/{journey.public_id}").text
    assert "Add to the list “Partners” on the consent obtained elsewhere" in show
    assert "Remove from the list “News”" in show
    assert "Starts when the day “Birthday” comes (every year), from 10:00 in the contact" in show
    assert "through the relay “bulk”" in show

    edit = auth.post(
        f"/admin/journeys/{journey.public_id}/edit",
        data=base
        | _fresh(auth)
        | {"trigger": "segment_joined", "trigger_segment_id": str(segment.id), "relay_id": ""},
    )
    assert edit.status_code == 302
    db.session.expire_all()
    changed = db.session.get(Journey, journey.id)
    assert (changed.trigger, changed.trigger_segment_id, changed.date_field_id) == (
        "segment_joined",
        segment.id,
        None,
    )
    assert changed.relay_id is None  # the default relay chosen
    listed = auth.get("/admin/journeys").text
    assert "a contact confirmed on the list joins the segment “VIPs”" in listed
