"""GET /metrics: open only to the configured networks or the bearer token; counts what happened."""

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailer import create_app
from mailer.campaigns import lifecycle as campaigns
from mailer.core.extensions import db
from mailer.deliverability.inbound import process_report
from mailer.subscriptions.lists import create_list
from mailer.tracking import events as tracking
from tests.deliverability import provider_signing as signing
from tests.deliverability.bounce_support import report, send_campaign, subscribers
from tests.public.recipients import news_list, open_path, sent_campaign, subscribed_contact, unsubscribe_path
from tests.support.campaigns import make_campaign, subscriber
from tests.support.proxy import app_config_from_environment, via_proxy

TOKEN = "scrape-token-0123456789"


def samples(body: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def total(found: dict[tuple, float], name: str, **labels) -> float:
    return sum(
        value
        for (sample, sample_labels), value in found.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


def test_without_a_network_or_token_configured_there_are_no_metrics(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


@pytest.mark.config(MAILER_METRICS_TOKEN=TOKEN)
def test_the_token_opens_metrics_and_nothing_else_does(client):
    refused = client.get("/metrics")
    assert refused.status_code == 403
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert "not available" in refused.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 403
    found = scrape(client)
    assert ("mailer_privacy_requests_open", ()) in found
    assert ("mailer_queue_messages", (("queue", "campaigns"), ("state", "waiting"))) in found


@pytest.mark.config(MAILER_METRICS_ALLOW=["10.0.0.0/8", "2001:db8::/32"], PROXY_FIX_X_FOR=1)
def test_allowed_networks_as_the_trusted_proxy_reports_the_client(app):
    client = app.test_client()
    # create_app applied the proxy setting, so the client's address is the one the proxy appended.
    assert client.get("/metrics", **via_proxy("10.1.2.3")).status_code == 200
    assert client.get("/metrics", **via_proxy("2001:db8::5")).status_code == 200
    assert client.get("/metrics", **via_proxy("192.0.2.9")).status_code == 403
    # A client writing an allowed address into X-Forwarded-For itself gains nothing.
    assert client.get("/metrics", **via_proxy("192.0.2.9", forged="10.1.2.3")).status_code == 403


def test_the_settings_come_from_the_environment(monkeypatch, tmp_path):
    app_config_from_environment(
        monkeypatch, MAILER_METRICS_TOKEN=TOKEN, MAILER_METRICS_ALLOW="127.0.0.0/8, 192.0.2.0/24"
    )
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/m.db"})
    assert app.config["MAILER_METRICS_TOKEN"] == TOKEN
    assert app.config["MAILER_METRICS_ALLOW"] == ["127.0.0.0/8", "192.0.2.0/24"]


@pytest.mark.config(MAILER_METRICS_TOKEN=TOKEN)
def test_a_send_an_open_and_an_unsubscribe_show_in_the_counters(app, app_ctx, client, worker, smtp_server):
    before = scrape(client)
    news = create_list("Metrics news")
    for n in range(3):
        subscriber(news, f"reader{n}@example.net", None)
    campaign = make_campaign([news])
    db.session.commit()
    campaigns.start_campaign(campaign)
    db.session.commit()
    worker.drain()
    assert len(smtp_server.messages) == 3

    other = news_list("Other news")
    ann = subscribed_contact("ann@example.com", [other], tracking=("open",))
    sent = sent_campaign(other, [ann])
    assert client.get(open_path(app, ann, sent.campaign)).status_code == 200
    assert tracking.flush_events() == 1
    response = client.post(
        unsubscribe_path(app, ann, other, sent.campaign),
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    after = scrape(client)

    def grew(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    relay = f"127.0.0.1:{smtp_server.port}"
    assert grew("mailer_messages_total", campaign=str(campaign.id), outcome="sent", relay=relay) == 3
    assert grew("mailer_delivery_seconds_count", relay=relay) == 3
    assert grew("mailer_recipient_requests_total", kind="open") == 1
    assert grew("mailer_recipient_requests_total", kind="unsubscribe") == 1
    assert grew("mailer_recipient_request_seconds_count", kind="unsubscribe") == 1
    assert grew("mailer_ledger_appends_total", action="withdrawn") >= 1
    assert total(after, "mailer_queue_messages", queue="campaigns") == 0


@pytest.mark.config(MAILER_METRICS_TOKEN=TOKEN)
def test_the_sample_grafana_dashboard_uses_only_metrics_we_expose(client):
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).parents[2] / "deploy" / "grafana-dashboard.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bmailer_\w+", target["expr"])
    }
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    exposed = set(re.findall(r"^# TYPE (\w+) ", body, re.M))
    exposed |= {f"{name}_total" for name in exposed} | {f"{name}_bucket" for name in exposed}
    assert used and used <= exposed, used - exposed


@pytest.mark.config(MAILER_METRICS_TOKEN=TOKEN, **signing.CONFIG)
def test_webhook_events_and_bounce_reports_are_counted(app, app_ctx, client, worker):
    news = create_list("Webhook news")
    subscribers(news, "cy@example.net", "dee@example.net")
    _campaign, sent = send_campaign(worker, news)
    before = scrape(client)
    payload = json.dumps(signing.postmark_bounce("cy@example.net")).encode()
    url, token = "/hooks/providers/postmark", {"X-Webhook-Token": signing.POSTMARK_TOKEN}
    for headers in (token, token, {}):  # recorded, a replay, refused (no token)
        client.post(url, data=payload, content_type="application/json", headers=headers)
    worker.drain()  # the worker acts on the stored event (and counts its outcome)
    assert process_report(report("postfix_hard_5.1.1.eml", sent["dee@example.net"])).status == "recorded"
    after = scrape(client)

    def grew(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("mailer_webhook_events_total", provider="postmark", outcome="recorded") == 1
    assert grew("mailer_webhook_events_total", provider="postmark", outcome="duplicate") == 1
    assert grew("mailer_webhook_events_total", provider="postmark", outcome="refused") == 1
    assert grew("mailer_inbound_reports_total", source="smtp", kind="hard", status="recorded") == 1


@pytest.mark.config(MAILER_METRICS_TOKEN=TOKEN, **signing.CONFIG)
def test_webhook_events_waiting_for_a_worker_are_a_gauge(app, app_ctx, client):
    """Events a provider posted are stored at once and acted on by a worker: until then they wait, and the
    scrape says how many and for how long, per provider (the backlog to alert on when no worker runs)."""
    url, token = "/hooks/providers/postmark", {"X-Webhook-Token": signing.POSTMARK_TOKEN}
    for address in ("cy@example.net", "dee@example.net"):  # no worker runs: both stay stored
        payload = json.dumps(signing.postmark_bounce(address)).encode()
        assert (
            client.post(url, data=payload, content_type="application/json", headers=token).status_code == 200
        )
    waiting = scrape(client)
    assert total(waiting, "mailer_provider_events_waiting", provider="postmark") == 2
    assert total(waiting, "mailer_provider_events_waiting", provider="sendgrid") == 0
    assert ("mailer_provider_events_oldest_waiting_seconds", (("provider", "postmark"),)) in waiting

    app.extensions["mailer.workers"].actors["process_provider_events"]()  # what the worker runs
    after = scrape(client)
    assert total(after, "mailer_provider_events_waiting") == 0
    assert total(after, "mailer_provider_events_oldest_waiting_seconds") == 0
