"""The totals pages read (core/counters.py) equal a recount after every kind of change, on both backends:
sign-up, confirmation, import (both modes), a campaign sent by the engine, a hard bounce, a one-click
unsubscribe (leave_lists in SQL on PostgreSQL), erasure; and `flask audience recount` finds and repairs a
total that is off."""

import io

import pytest
from sqlalchemy import select, text

from mailer.consent.ledger import RequestContext
from mailer.core import counters
from mailer.core.extensions import db
from mailer.deliverability.inbound import process_report
from mailer.privacy.erasure import erase_contact
from mailer.subscriptions.imports import ImportRequest, confirm_mapping, create_import, run_import
from mailer.subscriptions.lists import list_counts
from mailer.subscriptions.models.forms import Form
from tests.deliverability.bounce_support import report, send_campaign
from tests.public.recipients import unsubscribe_path
from tests.support.http import login
from tests.support.privacy import sign_up_and_confirm


def _no_drift() -> None:
    db.session.expire_all()
    for table in counters.COUNTERS:
        assert counters.drift(table) == {}, table


def _dashboard_figures(client) -> str:
    page = client.get("/admin/")
    assert page.status_code == 200
    return page.text


def _import(mailing_list, rows: str, mode: str) -> None:
    job = create_import(
        ImportRequest(
            filename="people.csv",
            source=io.BytesIO(("email,name\n" + rows).encode()),
            mailing_list=mailing_list,
            mode=mode,
            consent_statement="Trade fair 2025, signed cards kept in the office",
        ),
        staff_id=None,
    )
    confirm_mapping(job, ["email", "name"], queue=False)
    db.session.commit()
    run_import(job.id)


def _person(app, client, worker, email: str):
    return sign_up_and_confirm(
        app,
        client,
        worker,
        email,
        "Someone",
        ip="203.0.113.9",
        user_agent="Mozilla/5.0 Counters",
        confirm_ip="203.0.113.9",
        confirm_user_agent="Mozilla/5.0 Counters",
    )


@pytest.mark.config(CONFIRM_EMAIL_PER_ADDRESS="10 per hour")
def test_totals_equal_a_recount_after_every_kind_of_change(app, client, demo_form, worker, staff_user):
    news = db.session.execute(select(Form).where(Form.slug == "demo")).scalar_one().lists[0]
    _no_drift()

    ann = _person(app, client, worker, "ann@example.net")  # sign-up, then the confirmation link
    _person(app, client, worker, "bob@example.net")
    _no_drift()
    assert list_counts()[news.id] == {"confirmed": 2}

    _import(news, "cy@example.net,Cy\ndee@example.net,Dee\n", "has_consent")
    _import(news, "eve@example.net,Eve\nann@example.net,Ann\n", "double_opt_in")
    _no_drift()
    assert list_counts()[news.id] == {"confirmed": 4, "pending": 1}

    campaign, sent = send_campaign(worker, news)  # the engine writes and updates the deliveries
    _no_drift()
    assert counters.totals("delivery_counts", campaign_id=campaign.id) == {("sent",): 4}

    result = process_report(report("postfix_hard_5.1.1.eml", sent["bob@example.net"]))
    assert result.status == "recorded"
    db.session.commit()
    _no_drift()
    assert counters.totals("delivery_counts", campaign_id=campaign.id) == {("sent",): 3, ("bounced",): 1}

    path = unsubscribe_path(app, ann, news, campaign)
    response = app.test_client(use_cookies=False).post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "unsubscribed" in response.text
    _no_drift()
    assert list_counts()[news.id]["unsubscribed"] == 1

    erase_contact(db.session.get(type(ann), ann.id), RequestContext("test"))
    db.session.commit()
    _no_drift()
    assert counters.totals("contact_counts")[("erased",)] == 1

    # What a person sees: the dashboard's figures are the kept totals.
    login(client, "owner@example.com", "correct horse battery")
    page = _dashboard_figures(client)
    confirmed = sum(
        n for (_, status), n in counters.totals("subscription_counts").items() if status == "confirmed"
    )
    assert f">{confirmed}<" in page.replace(" ", "")

    # Compaction keeps the totals and leaves one row per group.
    counters.compact("subscription_counts")
    db.session.commit()
    _no_drift()
    groups = db.session.execute(
        text("SELECT count(*), count(DISTINCT list_id || status) FROM subscription_counts")
    )
    rows, distinct = groups.one()
    assert rows == distinct


def test_recount_finds_and_repairs_a_total_that_is_off(app, runner, demo_form):
    news = demo_form.lists[0]
    _import(news, "cy@example.net,Cy\ndee@example.net,Dee\n", "has_consent")
    db.session.execute(
        text("INSERT INTO subscription_counts (list_id, status, n) VALUES (:l, 'confirmed', 5)"),
        {"l": news.id},
    )
    db.session.commit()
    assert list_counts()[news.id] == {"confirmed": 7}

    checked = runner.invoke(args=["audience", "recount", "--check"])
    assert checked.exit_code == 1
    assert f"subscription_counts {news.id} confirmed: kept 7, recounted 2" in checked.output
    assert list_counts()[news.id] == {"confirmed": 7}  # --check changes nothing

    repaired = runner.invoke(args=["audience", "recount"])
    assert repaired.exit_code == 0, repaired.output
    db.session.expire_all()
    assert list_counts()[news.id] == {"confirmed": 2}
    assert runner.invoke(args=["audience", "recount", "--check"]).exit_code == 0
