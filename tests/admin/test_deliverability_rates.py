"""Bounce and complaint rates per sending domain over the last 30 days on the Deliverability page: a
server-rendered SVG chart per rate with the complaint threshold line, and the same figures as a table."""

import re
from datetime import timedelta

import pytest

from mailer.core.clock import utcnow
from mailer.deliverability.domains import rate_history
from mailer.deliverability.inbound import process_report
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.deliverability.bounce_support import report, send_campaign, subscribers

OFFLINE = pytest.mark.config(
    DNS_NAMESERVERS=["127.0.0.1:1"], DNS_TIMEOUT_SECONDS=0.5, MAILER_COMPLAINTS_ADDRESS="fbl@example.com"
)


def _send_and_report(worker):
    ensure_tracking_purposes()
    news = create_list("News")
    ann, bob, cem, _dan = subscribers(
        news, "ann@example.net", "bob@example.net", "cem@example.net", "dan@example.net"
    )
    _, sent = send_campaign(worker, news)
    process_report(report("postfix_hard_5.1.1.eml", sent[ann.email]))
    process_report(report("gmail_policy_5.7.1.eml", sent[bob.email]))  # about us: not a bounce of the address
    process_report(report("yahoo_arf_abuse.eml", sent[cem.email], to="fbl@example.com"), ["fbl@example.com"])


@OFFLINE
def test_history_has_every_day_and_counts_bounces_and_complaints(app_ctx, worker):
    _send_and_report(worker)
    history = rate_history(30)
    assert list(history) == ["example.com"]
    days = history["example.com"]
    today = utcnow().date()
    assert [row.day for row in days] == [today - timedelta(days=back) for back in range(29, -1, -1)]
    assert (days[-1].sent, days[-1].bounces, days[-1].complaints) == (4, 1, 1)
    assert days[-1].bounce_rate == 25.0 and days[-1].rate == 25.0
    assert all(row.sent == 0 and row.rate is None and row.bounce_rate is None for row in days[:-1])


@OFFLINE
def test_page_draws_both_rates_with_the_threshold_and_a_table(auth, worker):
    _send_and_report(worker)
    page = auth.get("/admin/deliverability")
    assert page.status_code == 200
    section = page.text.split('id="history-heading"')[1].split("</section>")[0]
    assert "Bounce and complaint rates, last 30 days" in page.text
    assert '<title id="bounces-1-title">Bounce rate per day for example.com</title>' in section
    assert '<title id="complaints-1-title">Complaint rate per day for example.com</title>' in section
    assert "highest 25.00 %; threshold 0.3 %" in section
    assert "pauses above 0.3 %" in section
    # One day with mail: one point per chart, at the right end of the axis.
    assert len(re.findall(r"<circle cx=\"590.0\"", section)) == 2
    today = utcnow().date().isoformat()
    assert re.search(
        rf"<td><time datetime=\"{today}\"[^>]*>{today}</time></td>"
        rf"<td class=\"text-end\">4</td><td class=\"text-end\">1</td>\s*"
        rf"<td class=\"text-end\">25.00 % <span class=\"badge text-bg-danger\">above 5 %</span></td>\s*"
        rf"<td class=\"text-end\">1</td>\s*"
        rf"<td class=\"text-end\">25.00 % <span class=\"badge text-bg-danger\">above 0.3 %</span>",
        section,
    )
    # The last 24 hours (a header, bounces, complaints), then the table of days: a header and 30 days.
    assert section.count("<tr>") == 3 + 31
    assert "highest 25.00 %; threshold 5 %" in section and "pauses above 5 %" in section  # the bounce chart
    # Over the last 24 hours the rates are taken over COMPLAINT_RATE_MIN_VOLUME (1000): within both limits.
    assert section.count("Within the limit") == 2 and "Exceeded" not in section
    assert "above the 5 % limit" not in page.text


@OFFLINE
def test_nothing_sent_says_so(auth):
    page = auth.get("/admin/deliverability")
    assert "No campaign mail sent in the last 30 days." in page.text
    assert "<svg" not in page.text.split('id="history-heading"')[1].split("</section>")[0]


@pytest.mark.config(
    DNS_NAMESERVERS=["127.0.0.1:1"],
    DNS_TIMEOUT_SECONDS=0.5,
    MAILER_COMPLAINTS_ADDRESS="fbl@example.com",
    COMPLAINT_RATE_MIN_VOLUME=1,
    BOUNCE_RATE_PAUSE_THRESHOLD=20,
)
def test_the_page_says_which_limits_are_exceeded(auth, worker):
    _send_and_report(worker)  # 4 sent, 1 bounce, 1 complaint: 25 % each
    page = auth.get("/admin/deliverability")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    for label, limit in (("bounce rate", "20"), ("complaint rate", "0.3")):
        assert (
            f"The {label} of example.com over the last 24 hours is 25.00 %, above the {limit} % limit."
        ) in text
    section = page.text.split('id="history-heading"')[1].split("</section>")[0]
    assert section.count("Exceeded") == 2 and "pauses above 20 %" in section
    assert "bounce rate goes above 20 % or its complaint rate above 0.3 %" in " ".join(section.split())
