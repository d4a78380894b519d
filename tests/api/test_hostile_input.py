"""Input that breaks naive code (NUL bytes PostgreSQL refuses,
infinite numbers, odd ids) gets a 4xx, never a 500."""

import pytest

from mailer.subscriptions.signup import confirmation_token
from tests.api.helpers import signup_body
from tests.support.signup import contact_by_email, row_counts


@pytest.fixture
def ann(api, client, demo_form):
    api.post("/subscriptions", json=signup_body("ann@example.com"))
    client.post(f"/confirm/{confirmation_token(contact_by_email('ann@example.com'))}")
    return contact_by_email("ann@example.com")


@pytest.mark.parametrize(
    "path", ["/contacts/%00", "/lists/a%00b", "/campaigns/%C3%A9", "/contacts/x%00/consent"]
)
def test_odd_ids_in_the_path_are_404(api, path):
    response = api.get(path)
    assert response.status_code == 404 and set(response.get_json()) == {"error", "detail"}


def test_odd_ids_elsewhere_are_4xx(api, ann, demo_form):
    list_id = demo_form.lists[0].public_id
    assert api.get("/lists?after=%00").status_code == 422
    assert api.get("/contacts?email=ann%00@example.com").status_code == 422
    assert api.delete(f"/contacts/{ann.public_id}/subscriptions/%00").status_code == 404
    assert api.delete(f"/contacts/%00/subscriptions/{list_id}").status_code == 404


@pytest.mark.parametrize(
    "change, field_name",
    [
        ({"lists": ["\u0000"]}, "lists"),
        ({"lists": ["x" * 40]}, "lists"),
        ({"name": "Ann\u0000"}, "name"),
        (
            {"consent": {"text": "I agree to the newsletter.", "source_url": "https://x.example/\u0000"}},
            "consent.source_url",
        ),
        (
            {"consent": {"text": "I agree to the\u0000 newsletter.", "source_url": "https://x.example/"}},
            "consent.text",
        ),
        (
            {
                "consent": {
                    "text": "I agree to the newsletter.",
                    "source_url": "https://x.example/",
                    "user_agent": "UA\u0000",
                }
            },
            "consent.user_agent",
        ),
    ],
)
def test_signup_with_nul_bytes_is_422(api, demo_form, change, field_name):
    before = row_counts()
    response = api.post("/subscriptions", json={**signup_body(), **change})
    assert response.status_code == 422, response.text
    assert field_name in response.get_json()["detail"]
    assert row_counts() == before


@pytest.mark.parametrize(
    "body, field_name",
    [
        ({"attributes": {"plan": "gold\u0000"}}, "attributes"),
        ({"fields": {"company\u0000": "x"}}, "fields.company\u0000"),
        ({"fields": {"company": "x\u0000"}}, "fields.company"),
    ],
)
def test_patch_with_nul_bytes_is_422(api, ann, body, field_name):
    response = api.patch(f"/contacts/{ann.public_id}", json=body)
    assert response.status_code == 422, response.text
    assert field_name in response.get_json()["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"attributes": {"score": 1e400}}',
        '{"attributes": {"score": NaN}}',
        '{"attributes": {"score": -Infinity}}',
    ],
)
def test_numbers_json_cannot_store_are_400(api, ann, raw):
    response = api.patch(f"/contacts/{ann.public_id}", data=raw, content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.get_json()["error"]


def test_large_but_finite_numbers_are_stored(api, ann):
    response = api.patch(f"/contacts/{ann.public_id}", json={"attributes": {"big": 10**30, "small": 1e-300}})
    assert response.status_code == 200
    assert response.get_json()["attributes"] == {"big": 10**30, "small": 1e-300}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("put", "/campaigns/abc", 405), ("patch", "/campaigns/abc/ab-test/variants/A%E2%80%A8/x", 404)],
)
def test_an_oversized_body_to_no_route_gets_the_apis_json_answer(api, method, path, status):
    """No route: the JSON 404/405 (the body is never read), not the pages' HTML 413 (found by the fuzz)."""
    response = getattr(api, method)(path, json={"body": "x" * 2_000_000})
    assert response.status_code == status and response.is_json and response.get_json()["error"]
