"""Authentication, roles, rate limits and the JSON error shape of the API."""

import hashlib

import pytest
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.staff.api_keys import key_by_prefix, revoke_key
from mailer.staff.models.api_keys import ApiKey
from tests.api.helpers import ApiClient, signup_body


def _is_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "detail"} and body["error"]
    return body


@pytest.mark.parametrize(
    "header, message",
    [
        (None, "Authentication required"),
        ("Basic dXNlcjpwYXNz", "Bearer scheme"),
        ("Bearer not-a-key", "not an API key"),
        ("Bearer mk_00000000_" + "A" * 43, "not valid"),
    ],
)
def test_missing_or_wrong_key_is_401_json(client, write_key, header, message):
    response = client.get("/api/v1/lists", headers={"Authorization": header} if header else {})
    body = _is_json_error(response, 401)
    assert message in body["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_right_prefix_with_wrong_secret_is_401(client, write_key):
    forged = write_key[:12] + ("B" if write_key[12] != "B" else "C") + write_key[13:]
    body = _is_json_error(client.get("/api/v1/lists", headers={"Authorization": f"Bearer {forged}"}), 401)
    assert body["error"] == "The API key is not valid."


def test_revoked_key_is_401(api, write_key, staff_user):
    assert api.get("/lists").status_code == 200
    revoke_key(key_by_prefix(write_key[3:11]), staff_user)
    db.session.commit()
    body = _is_json_error(api.get("/lists"), 401)
    assert "revoked" in body["error"]


def test_read_only_key_reads_but_cannot_write(read_api, demo_form):
    assert read_api.get("/lists").status_code == 200
    for response in (
        read_api.post("/subscriptions", json=signup_body()),
        read_api.patch("/contacts/whatever", json={"name": "X"}),
        read_api.delete("/contacts/whatever/subscriptions/whatever"),
    ):
        body = _is_json_error(response, 403)
        assert "read-only" in body["error"] and body["detail"] == {"role": "read_only"}


def test_writes_need_no_csrf_token_or_cookie(app, write_key, demo_form):
    fresh = ApiClient(app.test_client(use_cookies=False), write_key)
    assert fresh.post("/subscriptions", json=signup_body()).status_code == 202


def test_unknown_path_and_wrong_method_answer_json(api):
    body = _is_json_error(api.get("/nothing-here"), 404)
    assert body["detail"] is None
    response = api.post("/tags", json={})
    body = _is_json_error(response, 405)
    assert body["detail"] == {"allowed": ["GET"]}
    assert "GET" in response.headers["Allow"]


def test_answers_are_never_cached(api):
    assert api.get("/lists").headers["Cache-Control"] == "no-store"
    assert api.get("/nothing-here").headers["Cache-Control"] == "no-store"


def test_last_use_is_recorded(api, write_key):
    key = key_by_prefix(write_key[3:11])
    assert key.last_used_at is None
    api.get("/lists")
    db.session.expire_all()
    assert key_by_prefix(write_key[3:11]).last_used_at is not None


@pytest.mark.config(API_RATE_LIMIT="3 per minute")
def test_rate_limit_is_per_key_and_shared_by_endpoints(client, api, read_key):
    assert [api.get(path).status_code for path in ("/lists", "/campaigns", "/lists")] == [200, 200, 200]
    response = api.get("/contacts?email=ann@example.com")
    body = _is_json_error(response, 429)
    assert "Too many requests" in body["error"]
    assert int(response.headers["Retry-After"]) > 0
    # Another key has its own budget.
    assert ApiClient(client, read_key).get("/lists").status_code == 200


def test_repeated_failed_authentication_is_throttled(client, write_key):
    codes = [
        client.get("/api/v1/lists", headers={"Authorization": "Bearer nope"}).status_code for _ in range(31)
    ]
    assert codes[:30] == [401] * 30 and codes[30] == 429
    # A valid key from the same address still works: the throttle only sheds failed attempts.
    assert client.get("/api/v1/lists", headers={"Authorization": f"Bearer {write_key}"}).status_code == 200


def test_only_a_hash_of_the_key_is_stored(write_key):
    row = db.session.execute(select(ApiKey)).scalar_one()
    stored = " ".join(str(getattr(row, column.key)) for column in ApiKey.__table__.columns)
    assert write_key not in stored and write_key.split("_", 2)[2] not in stored
    assert row.secret_hash == hashlib.sha256(write_key.encode()).hexdigest()
