"""GET /api/v1/contacts without an address: every contact (or a list's, or one status) in the order they were
added, a keyset page at a time, each with its lists."""

import pytest
from sqlalchemy import select

from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import email_hash
from mailer.core.extensions import db
from mailer.segments.operations import save_segment
from mailer.subscriptions.lists import create_list
from mailer.subscriptions.models.lists import MailingList, Subscription


@pytest.fixture
def people(demo_form):
    """Seven contacts: the odd ones on the demo list (confirmed), the fourth also on a second (pending)."""
    demo = db.session.execute(select(MailingList)).scalar_one()
    other = create_list("Second list", "", "public")
    made = []
    for n in range(7):
        address = f"p{n}@example.com"
        contact = Contact(email=address, email_hash=email_hash(address), name=f"P {n}", attributes={})
        db.session.add(contact)
        db.session.flush()
        if n % 2:
            db.session.add(Subscription(contact_id=contact.id, list_id=demo.id, status="confirmed"))
        if n == 3:
            db.session.add(Subscription(contact_id=contact.id, list_id=other.id, status="pending"))
        made.append(contact)
    made[5].status = "restricted"
    db.session.commit()
    return demo, other, made


def _walk(api, query: str, param: str = "after") -> list[str]:
    seen, cursor = [], None
    while True:
        answer = api.get(f"/contacts?{query}" + (f"&{param}={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        seen.extend(item["email"] for item in body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_walks_every_contact_once_in_order(api, people):
    assert _walk(api, "limit=3") == [f"p{n}@example.com" for n in range(7)]
    assert _walk(api, "limit=2", param="cursor") == [f"p{n}@example.com" for n in range(7)]


def test_filters_by_list_and_status_and_shows_each_contacts_lists(api, people):
    demo, other, made = people
    assert _walk(api, f"list={demo.public_id}&limit=2") == [
        "p1@example.com",
        "p3@example.com",
        "p5@example.com",
    ]
    assert _walk(api, "status=restricted") == ["p5@example.com"]
    page = api.get(f"/contacts?list={other.public_id}").get_json()
    [item] = page["data"]
    assert item == {
        "id": made[3].public_id,
        "email": "p3@example.com",
        "name": "P 3",
        "status": "active",
        "source": None,
        "created_at": item["created_at"],
        "last_activity_at": None,
        "lists": [
            {"id": demo.public_id, "status": "confirmed"},
            {"id": other.public_id, "status": "pending"},
        ],
        "tags": [],
    }
    assert "fields" not in item and "consent" not in item


def test_filters_by_saved_segment(api, people, staff_user):
    demo = people[0]
    tree = {"match": "all", "rules": [{"field": "status", "op": "is", "value": "restricted"}]}
    segment = save_segment("Restricted people", tree, staff_user)
    db.session.commit()
    assert _walk(api, f"segment={segment.public_id}") == ["p5@example.com"]
    assert _walk(api, f"segment={segment.public_id}&list={demo.public_id}&status=restricted") == [
        "p5@example.com"
    ]
    assert api.get("/contacts?segment=nosuchsegment").status_code == 404


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("list=nosuchlist", 404, None),
        ("status=sleeping", 422, "status"),
        ("limit=0", 422, "limit"),
        ("limit=201", 422, "limit"),
        ("after=not%20an%20id", 422, "after"),
        ("cursor=AAAAAAAAAAAAAAAAAAAAAA", 422, "after"),
    ],
)
def test_bad_paging_and_filters_are_refused_clearly(api, people, query, status, field):
    answer = api.get(f"/contacts?{query}")
    assert answer.status_code == status
    if field:
        assert field in answer.get_json()["detail"]


def test_the_openapi_document_describes_the_listing(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/contacts"]["get"]
    names = {p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in operation["parameters"]}
    assert {"email", "list", "segment", "status", "cursor", "after", "limit"} <= names
    assert "ContactSummaryPage" in document["components"]["schemas"]
