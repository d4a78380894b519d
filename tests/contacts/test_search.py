"""Finding contacts: part of an address or a name, a whole address exactly (through the blind index), keyset
pages newest first without OFFSET or a count."""

from sqlalchemy import select

from mailer.contacts.models.contact import Contact
from mailer.contacts.operations import email_hash, search_contacts
from mailer.core.extensions import db
from tests.support.http import staff_client

PEOPLE = [
    ("bob@example.com", "Bob Smith"),
    ("bobby@example.org", "Robert Jones"),
    ("alice@example.com", "Alice Smithson"),
    ("carol_x@example.net", "Carol 100%"),
    ("dave@bob.example", None),
]


def _people() -> dict[str, Contact]:
    made = {}
    for address, name in PEOPLE:
        contact = Contact(email=address, email_hash=email_hash(address), name=name, attributes={})
        db.session.add(contact)
        made[address] = contact
    db.session.commit()
    return made


def _found(q: str, **kwargs) -> list[str]:
    return [c.email for c in search_contacts(q, **kwargs).items]


def test_part_of_an_address_or_name_and_a_whole_address(app_ctx):
    people = _people()
    assert _found("bob@") == ["bob@example.com"]
    assert _found("BOB") == ["dave@bob.example", "bobby@example.org", "bob@example.com"]  # newest first
    assert _found("smith") == ["alice@example.com", "bob@example.com"]
    assert _found("example.org") == ["bobby@example.org"]
    assert _found("Bob@Example.com") == ["bob@example.com"]  # a whole address: exactly that one
    assert _found(people["alice@example.com"].public_id) == ["alice@example.com"]
    assert _found("nobody") == []


def test_like_wildcards_are_taken_literally(app_ctx):
    _people()
    assert _found("_x") == ["carol_x@example.net"]
    assert _found("100%") == ["carol_x@example.net"]
    assert _found("%") == ["carol_x@example.net"]
    assert _found("o_b") == []


def test_keyset_pages_walk_every_contact_once(app_ctx):
    _people()
    seen, after = [], None
    while True:
        page = search_contacts("", after=after, per_page=2)
        seen.extend(c.email for c in page.items)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == [address for address, _ in reversed(PEOPLE)]
    assert search_contacts("example.com", per_page=1).next_cursor is not None
    last = search_contacts("example.com", after=search_contacts("example.com", per_page=1).next_cursor)
    assert [c.email for c in last.items] == ["bob@example.com"] and last.next_cursor is None


def test_the_contacts_page_searches_and_pages(app, app_ctx):
    _people()
    for n in range(51):
        address = f"bulk{n}@example.com"
        db.session.add(Contact(email=address, email_hash=email_hash(address), attributes={}))
    db.session.commit()
    viewer = staff_client(app, "viewer")
    first = viewer.get("/admin/contacts?q=bob%40")
    assert first.status_code == 200 and "bob@example.com" in first.text and "bobby@" not in first.text
    page = viewer.get("/admin/contacts?q=example.com")
    assert "bulk50@example.com" in page.text and "bob@example.com" not in page.text
    oldest_shown = db.session.execute(
        select(Contact).where(Contact.email == "bulk1@example.com")
    ).scalar_one()
    assert f"after={oldest_shown.public_id}" in page.text and "Next 50" in page.text
    nxt = viewer.get(f"/admin/contacts?q=example.com&after={oldest_shown.public_id}")
    assert (
        "bulk0@example.com" in nxt.text and "alice@example.com" in nxt.text and "bob@example.com" in nxt.text
    )
    assert "bulk1@example.com" not in nxt.text and "Next 50" not in nxt.text and "Newest" in nxt.text
    assert viewer.get("/admin/contacts?after=" + "x" * 500).status_code == 200
