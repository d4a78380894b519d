"""The outbox holds other people's secret links: only owners and admins read it, and even they see only the
links they may use (confirmation links; invitations they could have sent). Nobody else obtains an invitation
link."""

import quopri

import pytest
from sqlalchemy import func, select

from mailer.campaigns import lifecycle as campaigns
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from mailer.privacy import mail as privacy_mail
from mailer.privacy.requests import open_request
from mailer.staff.models.accounts import ROLES, StaffUser
from mailer.subscriptions.preference_links import send_link_email
from tests.admin.test_permissions import _url, _world
from tests.support.campaigns import newsletter
from tests.support.http import csrf_token, staff_client
from tests.support.privacy import links_in_mail
from tests.support.signup import page, sign_up
from tests.support.workers import drain

READERS = ("owner", "admin")
PERSONAL_PATHS = ("/privacy/verify/", "/privacy/download/", "/p/", "/u/")


def _invite(app, client, email: str, role: str) -> None:
    response = client.post(
        "/admin/staff",
        data={"csrf_token": csrf_token(client.get("/admin/staff").text), "email": email, "role": role},
    )
    assert response.status_code == 302, page(response)
    drain(app)


def _message_to(app, address: str) -> str:
    """The public id of the newest message to an address."""
    with app.app_context():
        return (
            db.session.execute(
                select(OutboxMessage.public_id)
                .where(OutboxMessage.rcpt_to == address)
                .order_by(OutboxMessage.id.desc())
            )
            .scalars()
            .first()
        )


def _views(client, public_id: str) -> str:
    """Everything a reader gets for one message: the page (text, headers, raw source) and the HTML part."""
    shown = client.get(f"/admin/outbox/{public_id}")
    html = client.get(f"/admin/outbox/{public_id}/html")
    assert shown.status_code == html.status_code == 200
    return page(shown) + html.text


@pytest.mark.parametrize("role", [r for r in ROLES if r not in READERS])
def test_other_roles_cannot_read_the_outbox(app, client, worker, role):
    _seed_demo(app)
    sign_up(client, email="ann@example.com")
    worker.drain()
    message = _message_to(app, "ann@example.com")
    reader = staff_client(app, role)
    for url in ("/admin/outbox", f"/admin/outbox/{message}", f"/admin/outbox/{message}/html"):
        response = reader.get(url)
        assert response.status_code == 403, (role, url)
        assert "/confirm/" not in response.text
    assert "/admin/outbox" not in reader.get("/admin/").text  # and the menu does not offer it


def test_a_viewer_cannot_make_themself_admin_through_an_invitation(app, worker):
    """The escalation found by the review: viewer reads the outbox → invitation link → admin account."""
    owner = staff_client(app, "owner")
    _invite(app, owner, "new-admin@example.com", "admin")
    with app.app_context():
        [link] = links_in_mail(app, "new-admin@example.com", "/admin/invite/")
        world = _world(app)
    token = link.rsplit("/", 1)[1]
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("admin.")
        and "GET" in r.methods
        and r.endpoint not in ("admin.login", "admin.setup", "admin.invite_accept")
    ]
    for role in ("viewer", "marketer", "privacy"):
        reader = staff_client(app, role)
        assert reader.get("/admin/outbox").status_code == 403
        for rule in rules:  # every page this role may open, with real objects behind it
            body = reader.get(_url(rule, world)).get_data()
            assert b"/admin/invite/" not in body and token.encode() not in body, (role, rule.endpoint)
    admins = select(func.count()).select_from(StaffUser).where(StaffUser.role.in_(("owner", "admin")))
    with app.app_context():
        assert db.session.execute(admins).scalar_one() == 1  # only the owner: nobody took the invitation


def _mail_with_every_personal_link(app, worker) -> list[str]:
    """A campaign, a privacy verification, a download link and a preference link to one person."""
    with app.app_context():
        campaign, (person,) = newsletter(1)
        campaigns.start_campaign(campaign)
        db.session.commit()
        worker.drain()
        req = open_request("access", "email", contact=person)
        db.session.commit()
        privacy_mail.send_verification(req.id)
        privacy_mail.send_export_link(req.id)
        send_link_email(person.id)
        db.session.commit()
        messages = db.session.execute(
            select(OutboxMessage).where(OutboxMessage.rcpt_to == person.email)
        ).scalars()
        sent = [(m.public_id, quopri.decodestring(m.raw).decode("utf-8", "replace")) for m in messages]
    base = app.config["MAILER_BASE_URL"]
    assert all(
        base + path in "".join(raw for _, raw in sent) for path in PERSONAL_PATHS
    )  # the mail carries them
    return [public_id for public_id, _ in sent]


def _seed_demo(app) -> None:
    from mailer.demo import seed_demo

    with app.app_context():
        seed_demo()
        db.session.commit()


def test_readers_see_confirmation_links_but_no_link_that_acts_as_a_person(app, worker):
    _seed_demo(app)
    messages = _mail_with_every_personal_link(app, worker)
    base = app.config["MAILER_BASE_URL"]
    sign_up(app.test_client(), email="ann@example.com")
    worker.drain()
    confirmation = _message_to(app, "ann@example.com")
    for role in READERS:
        reader = staff_client(app, role)
        seen = "".join(_views(reader, message) for message in messages)
        for path in PERSONAL_PATHS:
            assert base + path not in seen, (role, path)
        assert "Personal links in this message are hidden" in seen
        assert "[personal link hidden: only its recipient may use it]" in seen
        shown = _views(reader, confirmation)
        assert base + "/confirm/" in shown and "are hidden" not in shown


def test_invitation_links_are_shown_only_to_who_could_have_sent_them(app, worker):
    owner = staff_client(app, "owner")
    admin = staff_client(app, "admin")
    _invite(app, owner, "co-owner@example.com", "owner")
    _invite(app, admin, "marketer@example.com", "marketer")
    to_owner, to_marketer = _message_to(app, "co-owner@example.com"), _message_to(app, "marketer@example.com")
    assert "/admin/invite/" in _views(owner, to_owner) and "/admin/invite/" in _views(owner, to_marketer)
    assert "/admin/invite/" in _views(admin, to_marketer)
    assert "/admin/invite/" not in _views(admin, to_owner)  # an admin cannot make themself owner either

    with app.app_context():
        [link] = links_in_mail(app, "marketer@example.com", "/admin/invite/")
    invitee = app.test_client()
    form = invitee.get(link)
    accepted = invitee.post(
        link,
        data={
            "csrf_token": csrf_token(form.text),
            "password": "my very own secret phrase",
            "confirm": "my very own secret phrase",
        },
    )
    assert accepted.status_code == 302
    assert "/admin/invite/" not in _views(owner, to_marketer)  # a used link is shown to nobody
