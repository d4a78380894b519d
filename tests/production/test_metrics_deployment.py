"""Prometheus metrics across processes: gunicorn workers and dramatiq worker processes count into one
PROMETHEUS_MULTIPROC_DIR, and one scrape of /metrics during a real campaign send sums them. The deployment
logs in JSON: the send's lines carry the campaign id, and no line names a recipient."""

import json
import os

import pytest
import requests

from bench.faults import create_and_send, seed
from tests.public.test_metrics import samples, total
from tests.support.deployment import Deployment
from tests.support.processes import free_port, wait_for
from tests.support.relay import RecordingRelay

N = 60
TOKEN = "deployment-scrape-token-42"


@pytest.mark.production
def test_a_scrape_during_a_send_sums_every_worker_process(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    relay = RecordingRelay(free_port())
    relay.start()
    settings = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "MAILER_METRICS_TOKEN": TOKEN,
        "SEND_RATE_PER_SECOND": "20",  # three seconds of sending: scrapes land while it runs
        "SEND_BATCH_SIZE": "20",
        "MAILER_LOG_FORMAT": "json",
    }
    try:
        with Deployment(relay.url, settings, workers=2, worker_threads=2) as deployment:
            url = f"{deployment.base_url}/metrics"
            # Loopback is not an allowed network here: without the token, nothing.
            assert requests.get(url, timeout=10).status_code == 403
            wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
            assert wrong.status_code == 403

            def scrape() -> dict:
                response = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
                assert response.status_code == 200
                return samples(response.text)

            admin = deployment.admin()
            list_id, _addresses = seed(deployment, admin, N)
            _public_id, campaign_id = create_and_send(deployment, admin, list_id, "Metrics")
            sent = lambda found: total(  # noqa: E731
                found, "mailer_messages_total", campaign=str(campaign_id), outcome="sent"
            )
            during = wait_for(lambda: (found := scrape()) and 0 < sent(found) < N and found, 60, "a mid-send")
            assert total(during, "mailer_queue_messages", queue="campaigns") >= 0
            final = wait_for(lambda: (found := scrape()) and sent(found) == N and found, 120, "all sent")
            assert len(relay.snapshot()[0]) == N
            relay_label = f"127.0.0.1:{relay.port}"
            assert total(final, "mailer_messages_total", relay=relay_label, outcome="sent") == N
            assert total(final, "mailer_delivery_seconds_count", relay=relay_label) == N
            assert total(final, "mailer_ledger_appends_total") >= N  # the import's consent events
            assert ("mailer_privacy_requests_overdue", ()) in final
            # The counts came from more than one process: the web's and the dramatiq workers' files.
            pids = {name.rsplit("_", 1)[1].split(".")[0] for name in os.listdir(metrics_dir)}
            assert len(pids) >= 2, os.listdir(metrics_dir)

            tagged = requests.get(
                url, headers={"Authorization": f"Bearer {TOKEN}", "X-Request-ID": "scrape-1"}
            )
            assert tagged.headers["X-Request-ID"] == "scrape-1"
            worker_events = [
                json.loads(line)
                for process in deployment.workers
                for line in process.log_text().splitlines()
                if line.startswith("{")
            ]
            assert any(event.get("campaign_id") == campaign_id for event in worker_events)
            web_lines = [line for line in deployment.web.log_text().splitlines() if line.strip()]
            web_events = [json.loads(line) for line in web_lines]  # gunicorn's own lines too: JSON only
            assert any(event["logger"] == "gunicorn.error" for event in web_events)
            everything = "".join(
                process.log_text() for process in [deployment.web, deployment.scheduler, *deployment.workers]
            )
            assert "@faults.example" not in everything
    finally:
        relay.close()
