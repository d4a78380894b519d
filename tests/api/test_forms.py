"""Sign-up forms through the API (issue 15, API parity): the admin's rules, the notice versions it publishes,
and what a visitor then sees on the hosted page, in the snippet and in the confirmation email."""

import pytest
from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.consent.models import Purpose
from mailer.contacts.fields import define_field
from mailer.core.extensions import db
from mailer.subscriptions.models.forms import Form
from tests.support.http import confirm_link
from tests.support.signup import outbox_to, page, path_of, row_counts, sign_up

WELCOME = "https://www.greengrocers.example/welcome"


def _new(api, demo_form, **extra):
    body = {"slug": "shop", "name": "Shop checkout", "lists": [demo_form.lists[0].public_id], **extra}
    return api.post("/forms", json=body)


def _versions(data: dict, language: str) -> list[int]:
    wording = next(w for w in data["wordings"] if w["language"] == language)
    return [v["version"] for v in wording["notice_versions"]]


def test_a_form_made_through_the_api_takes_signups_and_confirms_to_its_page(
    app, api, client, demo_form, worker
):
    created = _new(api, demo_form, title="Fresh vegetables, weekly", after_confirm_url=WELCOME)
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert data["status"] == "active" and data["accepts_signups"] is True
    assert data["lists"] == [{"id": demo_form.lists[0].public_id, "name": demo_form.lists[0].name}]
    assert data["hosted_url"].endswith("/f/shop") and data["script_url"].endswith("/static/embed.js")
    assert _versions(data, "en") == [1]

    hosted = client.get("/f/shop")
    assert hosted.status_code == 200 and "Fresh vegetables, weekly" in page(hosted)
    sign_up(client, email="bea@example.com", slug="shop")
    worker.drain()
    base = app.config["MAILER_BASE_URL"]
    (mail,) = outbox_to("bea@example.com")
    done = client.post(path_of(confirm_link(mail.raw, base), base))
    assert done.status_code == 303 and done.headers["Location"] == WELCOME


def test_changed_wording_is_a_new_notice_version_and_the_old_one_stays(api, client, demo_form):
    form_id = _new(api, demo_form).get_json()["id"]
    changed = api.patch(f"/forms/{form_id}", json={"title": "Join our grocers' letter"})
    assert changed.status_code == 200
    assert _versions(changed.get_json(), "en") == [2, 1]
    assert "Join our grocers' letter" in page(client.get("/f/shop"))
    # The same words again: no new version.
    again = api.patch(f"/forms/{form_id}", json={"title": "Join our grocers' letter"})
    assert _versions(again.get_json(), "en") == [2, 1]
    # Settings that are not wording (the name, for staff) change nothing people agreed to.
    assert _versions(api.patch(f"/forms/{form_id}", json={"name": "Till"}).get_json(), "en") == [2, 1]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "//evil.example/", "/relative/page", "data:text/html,hi", "https://"]
)
def test_an_after_confirm_address_that_is_not_a_web_page_is_refused(api, demo_form, url):
    form_id = _new(api, demo_form).get_json()["id"]
    refused = api.patch(f"/forms/{form_id}", json={"after_confirm_url": url, "title": "Changed"})
    assert refused.status_code == 422
    assert "must be a full http(s) address" in refused.get_json()["error"]
    shown = api.get(f"/forms/{form_id}").get_json()
    assert shown["after_confirm_url"] == "" and shown["title"] != "Changed"  # nothing half-written
    assert _new(api, demo_form, slug="other", redirect_url=url).status_code == 422


def test_wording_in_another_language_is_published_with_its_notice_and_in_the_snippet(api, client, demo_form):
    form_id = _new(api, demo_form).get_json()["id"]
    italian = {"title": "Iscriviti alla newsletter", "button_label": "Iscriviti", "intro": "Ogni lunedì."}
    saved = api.put(f"/forms/{form_id}/languages/it", json=italian)
    assert saved.status_code == 200, saved.get_json()
    data = saved.get_json()
    assert data["languages"] == ["en", "it"] and _versions(data, "it") == [1]

    snippet = api.get(f"/forms/{form_id}/snippet?language=it").get_json()
    assert snippet["language"] == "it" and 'name="lang" value="it"' in snippet["html"]
    assert ">Iscriviti</button>" in snippet["html"]
    assert snippet["hosted_url"].endswith("/f/shop")
    assert ">Subscribe</button>" in api.get(f"/forms/{form_id}/snippet").get_json()["html"]
    assert "Iscriviti alla newsletter" in page(client.get("/f/shop?lang=it"))

    withdrawn = api.put(f"/forms/{form_id}/languages/it", json={**italian, "publish": False})
    assert withdrawn.get_json()["languages"] == ["en"]
    own = api.put(f"/forms/{form_id}/languages/en", json=italian)
    assert own.status_code == 422 and "edit the form instead" in own.get_json()["error"]
    assert api.put(f"/forms/{form_id}/languages/xx", json=italian).status_code == 404


def test_unpublish_publish_archive_and_delete_as_in_the_admin(api, client, demo_form):
    form_id = _new(api, demo_form).get_json()["id"]
    assert api.post(f"/forms/{form_id}/unpublish").get_json()["status"] == "inactive"
    assert client.get("/f/shop").status_code == 404
    assert api.post(f"/forms/{form_id}/publish").get_json()["status"] == "active"
    assert client.get("/f/shop").status_code == 200

    archived = api.post(f"/forms/{form_id}/archive")
    assert archived.status_code == 200 and archived.get_json()["status"] == "archived"
    assert client.get("/f/shop").status_code == 410
    assert api.post(f"/forms/{form_id}/archive").status_code == 409
    assert [f["id"] for f in api.get("/forms?archived=true").get_json()["data"]] == [form_id]
    assert api.post(f"/forms/{form_id}/unarchive").get_json()["status"] == "active"

    assert api.delete(f"/forms/{form_id}").status_code == 204
    assert client.get("/f/shop").status_code == 410
    assert api.get(f"/forms/{form_id}").get_json()["status"] == "deleted"
    assert form_id not in [f["id"] for f in api.get("/forms").get_json()["data"]]
    assert api.patch(f"/forms/{form_id}", json={"name": "x"}).status_code == 404
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.target_id == form_id).order_by(AuditEvent.id)
    ).scalars()
    assert [(e.action, e.details["via"], e.details.get("changed")) for e in events] == [
        ("form.created", "api", None),
        ("form.edited", "api", ["active"]),  # unpublished
        ("form.edited", "api", ["active"]),  # published again
        ("form.archived", "api", None),
        ("form.unarchived", "api", None),
        ("form.deleted", "api", None),
    ]


def test_the_admins_rules_apply(api, demo_form):
    list_id = demo_form.lists[0].public_id
    assert _new(api, demo_form).status_code == 201
    clash = _new(api, demo_form)
    assert clash.status_code == 409 and clash.get_json()["detail"]["form_id"]
    assert _new(api, demo_form, slug="Not A Slug!").status_code == 422
    assert _new(api, demo_form, slug="kids", min_age=9).status_code == 422
    assert _new(api, demo_form, slug="nolist", lists=["nope"]).get_json()["detail"] == {
        "lists": "unknown id(s): nope"
    }
    assert _new(api, demo_form, slug="fr", languages=["fr"]).status_code == 422  # no French wording yet
    health = define_field("allergies", "Allergies", "sensitive", value_type="text")
    db.session.commit()
    alone = _new(api, demo_form, slug="health", fields=[{"key": "allergies"}])
    assert alone.status_code == 422 and "sensitive" in alone.get_json()["error"]
    purpose = db.session.get(Purpose, health.purpose_id)
    beside = _new(api, demo_form, slug="health", fields=[{"key": "allergies"}], purposes=[purpose.public_id])
    assert beside.status_code == 201, beside.get_json()
    assert beside.get_json()["fields"] == [{"key": "allergies", "label": "Allergies", "required": False}]
    assert api.post("/forms", json={"slug": "x", "lists": [list_id]}).get_json()["detail"] == {
        "name": "this field is required"
    }


@pytest.mark.parametrize(
    "body, field_name",
    [
        ({"title": 5}, "title"),
        ({"active": "yes"}, "active"),
        ({"min_age": "16"}, "min_age"),
        ({"labels": {"list:x": 3}}, "labels.list:x.value"),
        ({"fields": [{"key": "x", "colour": "red"}]}, "fields.colour"),
        ({"title": "a\u0000b"}, "title"),
        ({"slug": "x" * 61}, "slug"),
    ],
)
def test_wrong_types_are_422_naming_the_field_and_change_nothing(api, demo_form, body, field_name):
    form_id = _new(api, demo_form).get_json()["id"]
    before = row_counts()
    refused = api.patch(f"/forms/{form_id}", json=body)
    assert refused.status_code == 422 and field_name in refused.get_json()["detail"], refused.get_json()
    assert row_counts() == before


def test_oversized_bodies_and_read_only_keys_are_refused(api, read_api, demo_form):
    form_id = _new(api, demo_form).get_json()["id"]
    huge = api.patch(f"/forms/{form_id}", json={"intro": "x" * 40_000})
    assert huge.status_code == 413 and huge.get_json()["detail"]["max_bytes"]
    long = api.patch(f"/forms/{form_id}", json={"intro": "x" * 5001})
    assert (
        long.status_code == 422
        and long.get_json()["error"] == "The intro is too long (5000 characters at most)."
    )
    assert read_api.post(f"/forms/{form_id}/archive").status_code == 403
    assert read_api.get(f"/forms/{form_id}").status_code == 200
    assert db.session.execute(select(Form.archived_at).where(Form.public_id == form_id)).scalar() is None
