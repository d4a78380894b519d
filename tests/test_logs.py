"""Logs: JSON lines with request, campaign and delivery ids; and no personal data in them, for a whole flow
logged at DEBUG (sign-up, confirmation, a campaign over real SMTP, a bounce, an unsubscribe, privacy
requests)."""

import json
import logging
import re

import pytest
from sqlalchemy import select

from mailer import create_app
from mailer.campaigns import lifecycle as campaigns
from mailer.campaigns.models import Campaign
from mailer.core import logs
from mailer.core.extensions import db
from mailer.deliverability.inbound import process_report
from mailer.delivery.models import Delivery
from mailer.demo import seed_demo
from mailer.subscriptions.models.forms import Form
from tests.deliverability.bounce_support import report
from tests.support.campaigns import make_campaign, newsletter
from tests.support.http import confirm_link, csrf_token, staff_client
from tests.support.proxy import app_config_from_environment
from tests.support.signup import sign_up

PEOPLE = {
    "ann.leakwood@example.org": "Annabel Leakwood",
    "bob.quillfeather@example.org": "Bartholomew Quillfeather",
}


def test_json_lines_carry_the_request_id_given_or_a_new_one(app, client, capsys):
    logs.configure("json", "INFO")
    try:
        given = client.get("/healthz", headers={"X-Request-ID": "req-42.a"})
        assert given.headers["X-Request-ID"] == "req-42.a"
        made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
        assert "X-Request-ID" not in made.headers  # a new id, for the logs only
        with app.test_request_context(headers={"X-Request-ID": "req-7"}):
            app.preprocess_request()
            with logs.log_context(campaign_id=3, delivery_id=9):
                logging.getLogger("mailer.test").warning("sent %d of %d", 1, 2)
        line = capsys.readouterr().err.strip().splitlines()[-1]
        event = json.loads(line)
        assert event["message"] == "sent 1 of 2" and event["level"] == "WARNING"
        assert (event["request_id"], event["campaign_id"], event["delivery_id"]) == ("req-7", 3, 9)
    finally:
        logs.configure("text", "INFO")


def test_the_log_settings_come_from_the_environment(monkeypatch, tmp_path):
    app_config_from_environment(monkeypatch, MAILER_LOG_FORMAT="json", MAILER_LOG_LEVEL="debug")
    try:
        app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/l.db"})
        assert (app.config["MAILER_LOG_FORMAT"], app.config["MAILER_LOG_LEVEL"]) == ("json", "DEBUG")
        assert logging.getLogger().level == logging.DEBUG
        app_config_from_environment(monkeypatch, MAILER_LOG_FORMAT="yaml")
        with pytest.raises(RuntimeError, match="MAILER_LOG_FORMAT must be json or text"):
            create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/l.db"})
    finally:
        logs.configure("text", "INFO")
        logging.getLogger().setLevel(logging.WARNING)


def test_a_whole_flow_logged_at_debug_names_nobody(
    app, client, runner, worker, smtp_server, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        seed_demo()
    slug = "demo"
    base = app.config["MAILER_BASE_URL"]
    for email, name in PEOPLE.items():  # sign-up and confirmation through the hosted form
        assert sign_up(client, email=email, name=name, slug=slug).status_code in (200, 303)
        worker.drain()
        [mail] = smtp_server.to(email)
        path = confirm_link(mail.data, base)[len(base) :]
        assert client.get(path).status_code == 200  # the page with the button
        assert client.post(path).status_code == 200  # pressing it
    with app.app_context():  # a campaign to the form's list over real SMTP
        form = db.session.execute(select(Form).where(Form.slug == slug)).scalar_one()
        campaign = make_campaign(list(form.lists))
        db.session.commit()
        campaigns.start_campaign(campaign)
        db.session.commit()
        worker.drain()
        sent = {d.contact.email: d for d in db.session.execute(select(Delivery)).scalars()}
        assert set(sent) == set(PEOPLE)
        bob = sent["bob.quillfeather@example.org"]  # a hard bounce for Bob
        result = process_report(report("postfix_hard_5.1.1.eml", bob))
        assert result.status == "recorded"
    ann_mail = next(m for m in smtp_server.to("ann.leakwood@example.org") if "List-Unsubscribe" in m.message)
    unsubscribe = re.search(r"<(https?://[^>]+)>", ann_mail.message["List-Unsubscribe"]).group(1)
    answer = client.post(
        unsubscribe[len(base) :],
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    exported = runner.invoke(
        args=["privacy", "export", "ann.leakwood@example.org", "--out", str(tmp_path / "ann.zip")]
    )
    assert exported.exit_code == 0, exported.output
    erased = runner.invoke(args=["privacy", "erase", "ann.leakwood@example.org", "--yes"])
    assert erased.exit_code == 0, erased.output

    formatter = logs.JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert len(lines) > 20, "the flow should have logged something"
    needles = [*PEOPLE, *PEOPLE.values(), *(part for name in PEOPLE.values() for part in name.split())]
    needles += [email.split("@")[0] for email in PEOPLE]
    leaks = [line for line in lines if any(needle.lower() in line.lower() for needle in needles)]
    assert not leaks, "personal data in the logs:\n" + "\n".join(leaks[:20])


def test_a_workers_lines_for_a_job_carry_the_request_id_that_queued_it(app, worker, smtp_server, capsys):
    """A campaign started from the admin page with an X-Request-ID: the worker that plans and sends it logs
    that request id with the campaign id, and each message's line also its delivery id. A campaign started
    with no request (the scheduler, a command) gets no request id, even on the same worker threads."""
    auth = staff_client(app, "admin")
    with app.app_context():
        requested, people = newsletter(3)
        other = make_campaign(list(requested.lists))
        db.session.commit()
        requested_id, public_id, other_id = requested.id, requested.public_id, other.id
        addresses = [person.email for person in people]
    logs.configure("json", "INFO")
    logging.getLogger("mailer.delivery.batch").setLevel(logging.DEBUG)  # the per-message lines
    try:
        show = f"/admin/campaigns/{public_id}"
        token = csrf_token(auth.get(f"{show}/send").text)
        sent = auth.post(f"{show}/send", data={"csrf_token": token}, headers={"X-Request-ID": "req-send.7"})
        assert sent.status_code == 302 and sent.headers["X-Request-ID"] == "req-send.7"
        worker.drain()
        with app.app_context():
            campaigns.start_campaign(db.session.get(Campaign, other_id))
            db.session.commit()
        worker.drain()
        with app.app_context():
            requested_deliveries = {
                d.id
                for d in db.session.execute(
                    select(Delivery).where(Delivery.campaign_id == requested_id)
                ).scalars()
            }
        events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        logging.getLogger("mailer.delivery.batch").setLevel(logging.NOTSET)
        logs.configure("text", "INFO")
    assert len(smtp_server.messages) == 6
    batch_ended = [e for e in events if e["logger"] == "mailer.delivery.engine"]
    assert {(e["campaign_id"], e.get("request_id")) for e in batch_ended} == {
        (requested_id, "req-send.7"),
        (other_id, None),
    }
    per_message = [e for e in events if e["logger"] == "mailer.delivery.batch"]
    assert {e["delivery_id"] for e in per_message if e["campaign_id"] == requested_id} == requested_deliveries
    assert {e.get("request_id") for e in per_message if e["campaign_id"] == requested_id} == {"req-send.7"}
    assert all("request_id" not in e for e in per_message if e["campaign_id"] == other_id)
    assert all(": sent (relay " in e["message"] for e in per_message)
    assert not [e for e in events if any(address in json.dumps(e) for address in addresses)]
