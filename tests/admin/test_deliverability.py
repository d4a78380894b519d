"""Deliverability (REQUIREMENTS B1, B4): the admin page,
`flask doctor` offline and against a real DNS server."""

import re

import pytest

from mailer.core.clock import utcnow
from mailer.deliverability.inbound import process_report
from mailer.deliverability.readiness import readiness
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.deliverability.bounce_support import report, send_campaign, subscribers
from tests.support.http import csrf_token

# Nothing listens on port 1: DNS "is unreachable" the same way on every machine, with or without internet.
OFFLINE = pytest.mark.config(
    DNS_NAMESERVERS=["127.0.0.1:1"], DNS_TIMEOUT_SECONDS=0.5, MAILER_COMPLAINTS_ADDRESS="fbl@example.com"
)


def _keygen(runner) -> str:
    """Create the DKIM key with the engine's command; the zone line it told the operator to publish."""
    result = runner.invoke(args=["dkim", "keygen", "example.com", "--selector", "s2026"])
    assert result.exit_code == 0, result.output
    return next(line for line in result.output.splitlines() if "._domainkey." in line).strip()


def _unhtml(text: str) -> str:
    return text.replace("&#34;", '"').replace("&quot;", '"').replace("&#39;", "'").replace("&amp;", "&")


def test_the_page_needs_a_login(client):
    response = client.get("/admin/deliverability")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


@OFFLINE
def test_empty_state(auth):
    page = auth.get("/admin/deliverability")
    assert page.status_code == 200
    assert 'aria-current="page" href="/admin/deliverability">Deliverability</a>' in page.text
    assert (
        "No bounces or complaints yet" in page.text
        and "No campaign mail sent in the last 14 days" in page.text
    )
    assert "No DKIM key for example.com" in page.text
    assert "flask --app wsgi dkim keygen example.com --selector s" in page.text


@OFFLINE
def test_page_shows_records_to_publish_reports_and_complaint_rate(app, auth, runner, worker):
    dkim_line = _keygen(runner)
    ensure_tracking_purposes()
    news = create_list("News")
    ann, bob, cem = subscribers(news, "ann@example.net", "bob@example.net", "cem@example.net")
    campaign, sent = send_campaign(worker, news)
    process_report(report("postfix_hard_5.1.1.eml", sent[ann.email]))
    process_report(report("gmail_policy_5.7.1.eml", sent[bob.email]))
    process_report(report("yahoo_arf_abuse.eml", sent[cem.email], to="fbl@example.com"), ["fbl@example.com"])

    page = auth.get("/admin/deliverability")
    text = _unhtml(page.text)

    assert page.status_code == 200
    # B1 offline: says DNS could not be asked and shows the exact records, DKIM from the key storage.
    assert "DNS could not be asked from this server" in text
    assert dkim_line in text
    assert 'example.com. IN TXT "v=spf1 mx ~all"' in text
    assert '_dmarc.example.com. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@example.com"' in text
    assert "DKIM d=example.com: aligned; envelope domain example.com: aligned with From example.com." in text
    # Operator alert for the policy refusal, without blaming Bob.
    assert "Receiving servers refused 1 message for policy or authentication reasons" in text
    # Recent reports, newest first, addresses only as contact names, never in the diagnostics.
    rows = re.findall(r'<span class="badge text-bg-\w+">(hard|soft|policy|complaint)</span>', page.text)
    assert rows == ["complaint", "policy", "hard"]
    assert "550 5.1.1 &lt;[address]&gt;: Recipient address rejected" in page.text
    assert "operator alert" in text and "suppressed" in text
    # B4: today's complaint rate for the domain.
    today = utcnow().date().isoformat()
    assert re.search(
        rf"<td><time datetime=\"{today}\"[^>]*>{today}</time></td>"
        rf"<td>example.com</td><td class=\"text-end\">3</td>"
        rf"<td class=\"text-end\">1</td>\s*<td class=\"text-end\">33.33 %",
        page.text,
    )
    assert campaign.name in text


@OFFLINE
def test_check_again_asks_dns_and_says_so(auth):
    page = auth.get("/admin/deliverability")
    response = auth.post("/admin/deliverability/check", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert "DNS could not be asked: DNS did not answer" in auth.get("/admin/deliverability").text
    assert auth.post("/admin/deliverability/check").status_code == 400  # no CSRF token


@OFFLINE
def test_doctor_offline_prints_what_to_publish(app, runner):
    missing = runner.invoke(args=["doctor"])
    assert missing.exit_code == 1 and "[FAIL]    DKIM: No DKIM key for example.com" in missing.output

    dkim_line = _keygen(runner)
    result = runner.invoke(args=["doctor"])

    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"\[ok\]\s+Database: sqlite answers|\[ok\]\s+Database: postgresql answers", out)
    assert "schema revision 0007" in out or "schema revision" in out
    assert re.search(r"\[ok\]\s+Broker: ", out)
    assert "SMTP relay: none configured: mail goes to the local outbox" in out
    assert "[unknown] DNS: DNS did not answer" in out and "Publish these records:" in out
    assert "Sending domain example.com" in out
    assert "[unknown] SPF: DNS not reachable: publish this record." in out
    assert 'example.com. IN TXT "v=spf1 mx ~all"' in out
    assert dkim_line in out
    assert '_dmarc.example.com. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@example.com"' in out
    assert "[ok]      From alignment" in out


def test_doctor_checks_the_smtp_relay(app, runner, smtp_server):
    result = runner.invoke(args=["doctor", "--cached"])
    assert f"[ok]      SMTP relay: 127.0.0.1:{smtp_server.port} answers (250)" in result.output


@pytest.mark.config(SMTP_URL="smtp://127.0.0.1:1?timeout=2")
def test_doctor_fails_when_the_relay_is_down(app, runner):
    result = runner.invoke(args=["doctor", "--cached"])
    assert result.exit_code == 1 and "[FAIL]    SMTP relay: 127.0.0.1:" in result.output


def test_readiness_against_real_dns_all_published(app, app_ctx, runner, dns_zone):
    value = "".join(re.findall(r'"([^"]*)"', _keygen(runner)))
    dns_zone.records.update(
        {
            ("example.com", "TXT"): ["v=spf1 mx ip4:192.0.2.10 ~all", "google-site-verification=abc"],
            ("s2026._domainkey.example.com", "TXT"): [value],
            ("_dmarc.example.com", "TXT"): ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"],
            ("example.com", "MX"): ["10 mx.example.com."],
        }
    )

    report_ = readiness(refresh=True)
    result = runner.invoke(args=["doctor"])

    assert report_.dns_error == "" and report_.ready, report_
    [domain] = report_.domains
    assert {c.name: c.status for c in domain.checks} == {
        "SPF": "ok",
        "DKIM": "ok",
        "DMARC": "ok",
        "From alignment": "ok",
        "Bounce mailbox": "ok",
    }
    assert result.exit_code == 0 and "[ok]      DNS: answering" in result.output
    assert "[ok]      DKIM: Selector s2026: the published key matches ours (RSA-2048)." in result.output


def test_readiness_against_real_dns_reports_what_is_wrong(app, app_ctx, runner, dns_zone):
    _keygen(runner)
    stale = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAstale"
    dns_zone.records.update(
        {
            ("example.com", "TXT"): ["v=spf1 mx ~all", "v=spf1 include:relay.example ~all"],
            ("s2026._domainkey.example.com", "TXT"): [stale],
        }
    )

    domain = readiness(refresh=True).domains[0]
    checks = {c.name: c for c in domain.checks}
    result = runner.invoke(args=["doctor"])

    assert checks["SPF"].status == "fail" and "2 SPF records at example.com" in checks["SPF"].detail
    assert checks["DKIM"].status == "fail" and "is not the one we sign with" in checks["DKIM"].detail
    assert (
        checks["DMARC"].status == "fail"
        and checks["DMARC"].detail == "No DMARC record at _dmarc.example.com."
    )
    assert checks["Bounce mailbox"].status == "warn"
    assert result.exit_code == 1


@pytest.mark.config(MAILER_BOUNCE_ADDRESS="bounces@mailer-bounces.example")
def test_alignment_names_an_envelope_domain_that_is_not_aligned(app, app_ctx, runner, dns_zone):
    _keygen(runner)
    checks = {c.name: c for c in readiness(refresh=True).domains[0].checks}
    assert checks["From alignment"].status == "warn"
    assert (
        "envelope domain mailer-bounces.example: not aligned with From example.com"
        in checks["From alignment"].detail
    )
    assert checks["SPF"].record.zone_line == 'mailer-bounces.example. IN TXT "v=spf1 mx ~all"'
