"""Property-based fuzz of every operation in the published OpenAPI document (schemathesis), with a real
read-and-write key against data that exists: no answer is a 5xx, and every answer has a documented status,
content type and body shape; data the document says is invalid is refused with a 4xx.

The budget is small and fixed so CI stays quick and repeatable: 50 cases per operation (below), derandomised
(the same cases on every run), no example database.
"""

import io

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from mailer.bulk.operations import start_job
from mailer.campaigns.gallery import save_as_template
from mailer.campaigns.layouts import copy_layout, ensure_builtin_layouts
from mailer.contacts.fields import define_field
from mailer.core.extensions import db
from mailer.feeds.operations import FeedInput, save_feed
from mailer.journeys.models import Trigger
from mailer.media.library import upload
from mailer.segments.operations import save_segment
from mailer.subscriptions import forms as form_service
from mailer.subscriptions import imports
from mailer.subscriptions.models.lists import MailingList
from mailer.transactional.templates import save_template
from mailer.webhooks.models import WebhookDelivery
from mailer.webhooks.operations import EndpointFields, create_endpoint, send_test_event
from tests.journeys.test_engine import welcome_series
from tests.support.deliveries import seed
from tests.support.media import photo

FUZZ_EXAMPLES = 25  # per operation, valid requests to resources that exist
RANDOM_EXAMPLES = 10  # valid requests with made-up ids
NEGATIVE_EXAMPLES = 15  # requests the document says are invalid
# What every answer must pass. Not "positive_data_acceptance": a request the document allows may still be
# refused by a rule (an unknown list id, a restricted contact), with a documented 4xx.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# A multipart/form-data text part is text whatever the document's type says: "an object where a string is
# declared" arrives as the object's JSON text, a valid string (e.g. an upload's alt_text), so a negative case
# there is no invalid request and negative_data_rejection does not apply to such bodies.
TEXT_PART_CHECKS = [check for check in CHECKS if check is not negative_data_rejection]
SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def _known_ids() -> dict[str, dict[str, str]]:
    """Path parameters that name real resources, per path prefix (the fuzz also tries made-up ones)."""
    campaign, contacts = seed()
    mailing_list = db.session.execute(select(MailingList).order_by(MailingList.id.desc())).scalars().first()
    assert mailing_list is not None
    journey = welcome_series(mailing_list, trigger=Trigger.API)
    segment = save_segment(
        "Everyone on News",
        {"match": "all", "rules": [{"field": "list", "op": "confirmed", "value": mailing_list.public_id}]},
        None,
    )
    plan = define_field("plan", "Plan", "ordinary", value_type="single_choice", choices=["Free", "Pro"])
    image = upload(photo(width=200, height=100), "logo.png")
    form = form_service.save_form(
        form_service.FormSettings(slug="fuzz", name="Fuzz", list_ids=[mailing_list.id])
    )
    layout = copy_layout(ensure_builtin_layouts()[0])
    template = save_as_template(campaign, "Fuzz template")
    job = start_job("tag", "fuzz", contacts[:1], None, None)
    csv_file = io.BytesIO(b"email,name,shoe size\nann@example.com,Ann,38\nnot-an-address,Bob,40\n")
    waiting = imports.create_import(
        imports.ImportRequest("people.csv", csv_file, mailing_list, "double_opt_in"), None
    )
    endpoint, _ = create_endpoint(EndpointFields(url="https://93.184.216.34/hook", events=["contact.erased"]))
    send_test_event(endpoint)
    delivery = db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    ).scalar_one()
    tx_template = save_template(
        {
            "key": "fuzz",
            "name": "Fuzz",
            "subject": "Hi {{ data.name }}",
            "body": "Hello",
            "body_format": "html",
        }
    )
    feed = save_feed(FeedInput(name="Digest", url="https://93.184.216.34/feed.xml", list_id=mailing_list.id))
    db.session.commit()
    return {
        "/campaigns/": {"public_id": campaign.public_id, "letter": "A"},
        "/contacts/": {"public_id": contacts[0].public_id, "list_id": mailing_list.public_id},
        "/lists/": {"public_id": mailing_list.public_id},
        "/segments/": {"public_id": segment.public_id},
        "/journeys/": {"public_id": journey.public_id, "step_id": str(journey.steps[0].id)},
        "/webhooks/": {"public_id": endpoint.public_id, "delivery_id": str(delivery.id)},
        "/tx-templates/": {"public_id": tx_template.public_id},
        "/feeds/": {"public_id": feed.public_id},
        "/fields/": {"key": plan.key},
        "/media/": {"public_id": image.public_id},
        "/forms/": {"public_id": form.public_id, "language": "it"},
        "/layouts/": {"public_id": layout.public_id},
        "/bulk-jobs/": {"public_id": job.public_id},
        "/imports/": {"public_id": waiting.public_id},
        "/templates/": {"public_id": template.public_id, "key": "newsletter"},
    }


@pytest.mark.slow
@pytest.mark.config(API_RATE_LIMIT="1000000 per minute", PUBLIC_RATE_LIMIT="1000000 per minute")
def test_no_operation_answers_5xx_or_off_its_schema(app, app_ctx, write_key, media_dir):
    known = _known_ids()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # A negative case that makes a body too long (maxLength) may pass API_MAX_BODY_BYTES: refused with 413.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    headers = {"Authorization": f"Bearer {write_key}"}
    # Deletions last, so the other operations meet the resources they delete.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()), key=lambda op: op.method == "delete"
    )
    assert len(operations) >= 20
    for operation in operations:
        ids = next((v for prefix, v in known.items() if operation.path.startswith(prefix)), {})
        names = {p.name for p in operation.path_parameters}
        budgets = [
            (operation.as_strategy(GenerationMode.POSITIVE, headers=headers), RANDOM_EXAMPLES),
            (operation.as_strategy(GenerationMode.NEGATIVE, headers=headers), NEGATIVE_EXAMPLES),
        ]
        if names and names <= set(ids):
            chosen = {name: ids[name] for name in names}
            strategy = operation.as_strategy(GenerationMode.POSITIVE, headers=headers, path_parameters=chosen)
            budgets.insert(0, (strategy, FUZZ_EXAMPLES))
        for strategy, examples in budgets:

            @settings(SETTINGS, max_examples=examples)
            @given(case=strategy)
            def fuzz(case):
                multipart = case.media_type == "multipart/form-data"
                case.call_and_validate(headers=headers, checks=TEXT_PART_CHECKS if multipart else CHECKS)

            fuzz()
