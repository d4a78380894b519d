"""API parity (issue 15): walking the published OpenAPI document, every capability a marketer has in the
admin that the issue lists has an operation, so an integration can do it from the document alone."""

import pytest

# capability -> (method, path) in the published document
CAPABILITIES = {
    "imports (issue 13): upload, columns and preview, map and start, progress, report, cancel, resume": [
        ("get", "/imports"),
        ("post", "/imports"),
        ("get", "/imports/{public_id}"),
        ("post", "/imports/{public_id}/mapping"),
        ("get", "/imports/{public_id}/rejected.csv"),
        ("post", "/imports/{public_id}/cancel"),
        ("post", "/imports/{public_id}/resume"),
    ],
    "exports (issue 13): a list or a segment to CSV, with a reason": [
        ("post", "/lists/{public_id}/export"),
        ("post", "/segments/{public_id}/export"),
    ],
    "lists: list, show, create, edit, archive, un-archive, delete": [
        ("get", "/lists"),
        ("get", "/lists/{public_id}"),
        ("post", "/lists"),
        ("patch", "/lists/{public_id}"),
        ("post", "/lists/{public_id}/archive"),
        ("post", "/lists/{public_id}/unarchive"),
        ("post", "/lists/{public_id}/delete"),
    ],
    "forms: list, show, create, edit, wording per language, publish, unpublish, archive, delete, snippet": [
        ("get", "/forms"),
        ("get", "/forms/{public_id}"),
        ("post", "/forms"),
        ("patch", "/forms/{public_id}"),
        ("put", "/forms/{public_id}/languages/{language}"),
        ("post", "/forms/{public_id}/publish"),
        ("post", "/forms/{public_id}/unpublish"),
        ("post", "/forms/{public_id}/archive"),
        ("post", "/forms/{public_id}/unarchive"),
        ("delete", "/forms/{public_id}"),
        ("get", "/forms/{public_id}/snippet"),
    ],
    "system emails: a form's confirmation and a list's re-confirmation, per language, reset, preview": [
        ("get", "/forms/{public_id}/emails/confirmation"),
        ("get", "/forms/{public_id}/emails/confirmation/{language}"),
        ("put", "/forms/{public_id}/emails/confirmation/{language}"),
        ("delete", "/forms/{public_id}/emails/confirmation/{language}"),
        ("post", "/forms/{public_id}/emails/confirmation/{language}/preview"),
        ("get", "/lists/{public_id}/emails/reconfirmation"),
        ("get", "/lists/{public_id}/emails/reconfirmation/{language}"),
        ("put", "/lists/{public_id}/emails/reconfirmation/{language}"),
        ("delete", "/lists/{public_id}/emails/reconfirmation/{language}"),
        ("post", "/lists/{public_id}/emails/reconfirmation/{language}/preview"),
    ],
    "fields: list, show, define, retire": [
        ("get", "/fields"),
        ("get", "/fields/{key}"),
        ("post", "/fields"),
        ("patch", "/fields/{key}"),
    ],
    "contacts: list, show, add, edit, tag, unsubscribe, consent history, erase": [
        ("get", "/contacts"),
        ("get", "/contacts/{public_id}"),
        ("post", "/contacts"),
        ("patch", "/contacts/{public_id}"),
        ("post", "/contacts/{public_id}/tags"),
        ("delete", "/contacts/{public_id}/subscriptions/{list_id}"),
        ("get", "/contacts/{public_id}/consent"),
        ("post", "/contacts/{public_id}/erase"),
    ],
    "segments: list, show, create, edit, delete, count": [
        ("get", "/segments"),
        ("get", "/segments/{public_id}"),
        ("post", "/segments"),
        ("patch", "/segments/{public_id}"),
        ("delete", "/segments/{public_id}"),
        ("get", "/segments/{public_id}/count"),
    ],
    "campaigns: create, edit, test, schedule, send, pause, stats, copy, delete a draft": [
        ("post", "/campaigns"),
        ("post", "/campaigns/{public_id}/copy"),
        ("delete", "/campaigns/{public_id}"),
        ("patch", "/campaigns/{public_id}"),
        ("post", "/campaigns/{public_id}/test"),
        ("post", "/campaigns/{public_id}/schedule"),
        ("post", "/campaigns/{public_id}/send"),
        ("post", "/campaigns/{public_id}/pause"),
        ("post", "/campaigns/{public_id}/resume"),
        ("get", "/campaigns/{public_id}"),
    ],
    "campaigns: A/B tests (set up, change, remove, results, pick the winner), preview, send check": [
        ("get", "/campaigns/{public_id}/ab-test"),
        ("put", "/campaigns/{public_id}/ab-test"),
        ("patch", "/campaigns/{public_id}/ab-test/variants/{letter}"),
        ("delete", "/campaigns/{public_id}/ab-test"),
        ("post", "/campaigns/{public_id}/ab-test/winner"),
        ("get", "/campaigns/{public_id}/preview"),
        ("get", "/campaigns/{public_id}/send-check"),
    ],
    "templates: layouts and the gallery": [
        ("get", "/layouts"),
        ("get", "/layouts/{public_id}"),
        ("post", "/layouts"),
        ("patch", "/layouts/{public_id}"),
        ("delete", "/layouts/{public_id}"),
        ("post", "/layouts/{public_id}/copy"),
        ("get", "/templates/starters"),
        ("get", "/templates"),
        ("post", "/templates/starters/{key}/campaigns"),
        ("post", "/templates/{public_id}/campaigns"),
        ("post", "/campaigns/{public_id}/template"),
        ("delete", "/templates/{public_id}"),
    ],
    "media: list, upload, show, describe, delete": [
        ("get", "/media"),
        ("post", "/media"),
        ("get", "/media/{public_id}"),
        ("patch", "/media/{public_id}"),
        ("delete", "/media/{public_id}"),
    ],
    "journeys: create, edit, steps (add, change, move, delete), activate, pause, resume, stats, enrol": [
        ("get", "/journeys"),
        ("post", "/journeys"),
        ("get", "/journeys/{public_id}"),
        ("patch", "/journeys/{public_id}"),
        ("post", "/journeys/{public_id}/steps"),
        ("patch", "/journeys/{public_id}/steps/{step_id}"),
        ("post", "/journeys/{public_id}/steps/{step_id}/move"),
        ("delete", "/journeys/{public_id}/steps/{step_id}"),
        ("post", "/journeys/{public_id}/activate"),
        ("post", "/journeys/{public_id}/pause"),
        ("post", "/journeys/{public_id}/resume"),
        ("post", "/journeys/{public_id}/enrol"),
    ],
    "journeys: the relay (its settings), a test run to one address, a contact's path through them": [
        ("patch", "/journeys/{public_id}"),
        ("post", "/journeys/{public_id}/test"),
        ("get", "/contacts/{public_id}/journeys"),
    ],
    "webhooks: list, register, show, change, rotate the secret, test, delete": [
        ("get", "/webhooks"),
        ("post", "/webhooks"),
        ("get", "/webhooks/{public_id}"),
        ("patch", "/webhooks/{public_id}"),
        ("post", "/webhooks/{public_id}/rotate"),
        ("post", "/webhooks/{public_id}/test"),
        ("delete", "/webhooks/{public_id}"),
    ],
    "bulk jobs: preview, start, progress, list": [
        ("post", "/bulk-jobs/preview"),
        ("post", "/bulk-jobs"),
        ("get", "/bulk-jobs/{public_id}"),
        ("get", "/bulk-jobs"),
    ],
    "transactional mail: send, status, the sent log": [
        ("post", "/tx"),
        ("get", "/tx/{public_id}"),
        ("get", "/tx"),
    ],
    "transactional templates: list, show, create, edit, archive, restore, preview, test send": [
        ("get", "/tx-templates"),
        ("get", "/tx-templates/{public_id}"),
        ("post", "/tx-templates"),
        ("patch", "/tx-templates/{public_id}"),
        ("post", "/tx-templates/{public_id}/archive"),
        ("post", "/tx-templates/{public_id}/unarchive"),
        ("post", "/tx-templates/{public_id}/preview"),
        ("post", "/tx-templates/preview"),
        ("post", "/tx-templates/{public_id}/test"),
    ],
    "webhooks: delivery log, one delivery with its attempts, re-send, enable, disable": [
        ("get", "/webhooks/{public_id}/deliveries"),
        ("get", "/webhooks/{public_id}/deliveries/{delivery_id}"),
        ("post", "/webhooks/{public_id}/deliveries/{delivery_id}/resend"),
        ("post", "/webhooks/{public_id}/enable"),
        ("post", "/webhooks/{public_id}/disable"),
    ],
}


@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
def test_every_admin_capability_has_a_documented_operation(client, capability):
    document = client.get("/api/v1/openapi.json").get_json()
    missing = [
        f"{method.upper()} {path}"
        for method, path in CAPABILITIES[capability]
        if method not in document["paths"].get(path, {})
    ]
    assert missing == [], f"{capability}: no operation for {missing}"
    for method, path in CAPABILITIES[capability]:
        operation = document["paths"][path][method]
        assert operation["operationId"] and operation["summary"], (method, path)


def test_a_journeys_relay_is_one_of_its_settings(client):
    """The builder's relay choice (and its failover) is in the journey's settings, to set and to read."""
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for schema in ("JourneyWrite", "JourneyDetail"):
        assert {"relay", "failover_relay"} <= set(schemas[schema]["properties"]), schema
