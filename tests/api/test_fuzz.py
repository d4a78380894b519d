"""Property-based fuzz of every operation in the published OpenAPI document (schemathesis), with a real
read-and-write key against data that exists: no answer is a 5xx, and every answer has a documented status,
content type and body shape; data the document says is invalid is refused with a 4xx.

The budget is small and fixed so CI stays quick and repeatable: 50 cases per operation (below), derandomised
(the same cases on every run), no example database.
"""

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

from mailer.contacts.fields import define_field
from mailer.core.extensions import db
from mailer.journeys.models import Trigger
from mailer.media.library import upload
from mailer.segments.operations import save_segment
from mailer.subscriptions.models.lists import MailingList
from mailer.webhooks.operations import EndpointFields, create_endpoint
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
    endpoint, _ = create_endpoint(EndpointFields(url="https://93.184.216.34/hook", events=["contact.erased"]))
    db.session.commit()
    return {
        "/campaigns/": {"public_id": campaign.public_id},
        "/contacts/": {"public_id": contacts[0].public_id, "list_id": mailing_list.public_id},
        "/lists/": {"public_id": mailing_list.public_id},
        "/segments/": {"public_id": segment.public_id},
        "/journeys/": {"public_id": journey.public_id},
        "/webhooks/": {"public_id": endpoint.public_id},
        "/fields/": {"key": plan.key},
        "/media/": {"public_id": image.public_id},
    }


@pytest.mark.config(API_RATE_LIMIT="1000000 per minute", PUBLIC_RATE_LIMIT="1000000 per minute")
def test_no_operation_answers_5xx_or_off_its_schema(app, app_ctx, write_key, media_dir):
    known = _known_ids()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
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
                case.call_and_validate(headers=headers, checks=CHECKS)

            fuzz()
