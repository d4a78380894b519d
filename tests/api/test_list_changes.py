"""Mailing lists changed through the API (issue 15, API parity): create, rename, archive, un-archive and
delete, with the admin's rules, audit entries and what a visitor then sees on a form."""

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.subscriptions.models.lists import Subscription
from tests.api.helpers import signup_body
from tests.support.signup import page


def test_create_rename_archive_and_delete_a_list(api, read_api, client, demo_form):
    made = api.post("/lists", json={"name": "Recipes", "description": "A recipe each Friday."})
    assert made.status_code == 201, made.get_json()
    recipes = made.get_json()
    assert recipes["visibility"] == "public" and recipes["subscribers"]["confirmed"] == 0
    assert (
        api.post("/subscriptions", json=signup_body("ann@example.com", lists=[recipes["id"]])).status_code
        == 202
    )

    renamed = api.patch(f"/lists/{recipes['id']}", json={"name": "Weekly recipes"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Weekly recipes"
    assert renamed.get_json()["description"] == "A recipe each Friday."
    assert api.patch(f"/lists/{recipes['id']}", json={"name": "Two\nlines"}).status_code == 422
    assert read_api.post(f"/lists/{recipes['id']}/archive").status_code == 403

    news = demo_form.lists[0].public_id
    archived = api.post(f"/lists/{news}/archive")
    assert archived.status_code == 200 and archived.get_json()["archived_at"]
    assert client.get("/f/demo").status_code == 410  # the demo form offered only that list
    assert api.post(f"/lists/{news}/archive").status_code == 409
    assert [item["id"] for item in api.get("/lists?archived=true").get_json()["data"]] == [news]
    assert api.post(f"/lists/{news}/unarchive").get_json()["archived_at"] is None
    assert "Subscribe" in page(client.get("/f/demo"))

    wrong = api.post(f"/lists/{recipes['id']}/delete", json={"confirm_name": "Recipes"})
    assert wrong.status_code == 422 and "Weekly recipes" in wrong.get_json()["error"]
    gone = api.post(f"/lists/{recipes['id']}/delete", json={"confirm_name": "Weekly recipes"})
    assert gone.status_code == 202  # the job ending its subscriptions; a list this small is done at once
    job = gone.get_json()
    assert (job["action"], job["status"], job["total"], job["processed"]) == ("list_delete", "done", 1, 1)
    assert api.get(f"/bulk-jobs/{job['id']}").get_json()["status"] == "done"
    assert api.get(f"/lists/{recipes['id']}").status_code == 404
    statuses = db.session.execute(select(Subscription.status)).scalars().all()
    assert "pending" not in statuses  # the open subscription ended
    events = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert [(e.action, e.details["via"]) for e in events[-3:]] == [
        ("list.archived", "api"),
        ("list.unarchived", "api"),
        ("list.deleted", "api"),
    ]
    assert events[-1].details["api_key"] == api.key.split("_")[1]
