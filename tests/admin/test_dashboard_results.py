"""The dashboard shows the latest campaigns' results (sent, delivered, opens and clicks among consenting
recipients, bounces, unsubscribes) read from counters and indexed events, never from every delivery; and its
times are <time> elements in UTC that the browser shows in the viewer's zone."""

import re
from html import unescape

import pytest
from sqlalchemy import event

from mailer.analytics.latest import latest_results
from mailer.core.extensions import db
from tests.admin.test_analytics import seeded  # noqa: F401 (the fixture: five recipients, engagement)

pytestmark = pytest.mark.config(TRACKING_MACHINE_SECONDS=0)  # the seeded opens come right after the send


def _cells(html: str, public_id: str) -> list[str]:
    row = re.search(rf'<tr data-campaign="{public_id}">(.*?)</tr>', html, re.S)
    assert row, "no row for the campaign on the dashboard"
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in cells]


def test_the_dashboard_shows_the_latest_campaigns_results(auth, seeded):  # noqa: F811
    campaign = seeded["campaign"]
    page = auth.get("/admin/")
    assert page.status_code == 200
    assert "Latest campaigns" in page.text
    # ann, bob, cat and eve received it and dan's bounced; ann and bob opened (ann's proxy prefetch is a
    # machine, cat had not consented), ann clicked, cat left through the campaign's unsubscribe link.
    cells = _cells(page.text, campaign.public_id)
    assert cells[0].startswith(campaign.name)
    assert cells[2:] == ["5", "4", "2", "1", "1", "1"]
    started = campaign.started_at.strftime("%Y-%m-%d %H:%M")
    assert (
        f'<time datetime="{campaign.started_at.strftime("%Y-%m-%dT%H:%M:%S")}Z" '
        f'title="{started} UTC" data-local="minute">{started} UTC</time>'
    ) in page.text


def test_the_latest_results_never_read_the_deliveries(app_ctx, seeded):  # noqa: F811
    statements: list[str] = []
    engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        [result] = latest_results()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert (result.sent, result.delivered, result.bounced) == (5, 4, 1)
    assert (result.opened, result.clicked, result.unsubscribed) == (2, 1, 1)
    assert statements and not [s for s in statements if re.search(r"\bdeliveries\b", s)], statements
    assert len(statements) <= 5  # campaigns, one counter read per campaign, opens/clicks, unsubscribes


def test_an_empty_install_has_no_results_section(auth):
    page = auth.get("/admin/")
    assert page.status_code == 200 and "Latest campaigns" not in page.text
