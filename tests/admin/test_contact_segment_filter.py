"""The contacts page filtered by a saved segment: only its members, together with search, list and status;
keyset pages keep the segment; an unknown or broken segment is answered with a message, never a 500."""

import re

from sqlalchemy import delete

from mailer.contacts.models.contact import Contact
from mailer.contacts.models.tags import ContactTag, Tag
from mailer.contacts.operations import email_hash
from mailer.contacts.tags import add_tag
from mailer.core.extensions import db
from mailer.segments.operations import save_segment
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import subscriber
from tests.support.http import staff_client

VIP = {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}


def _contact(address: str) -> Contact:
    contact = Contact(email=address, email_hash=email_hash(address), attributes={})
    db.session.add(contact)
    db.session.flush()
    return contact


def _shown(html: str) -> list[str]:
    return re.findall(r'<div class="small text-body-secondary">([^<]+)</div>|>([^<>@\s]+@[^<>\s]+)</a>', html)


def _addresses(html: str) -> set[str]:
    return {a or b for a, b in _shown(html)}


def test_choose_a_saved_segment_and_see_only_its_members(app_ctx, auth):
    news = create_list("News")
    ann = subscriber(news, "ann@example.com")
    subscriber(news, "bob@example.com")
    cid = _contact("cid@example.org")
    for person in (ann, cid):
        add_tag(person, "vip", actor=None)
    segment = save_segment("VIP people", VIP, actor=None)
    db.session.commit()

    page = auth.get("/admin/contacts")
    assert f'<option value="{segment.public_id}">VIP people</option>' in page.text
    assert _addresses(page.text) == {"ann@example.com", "bob@example.com", "cid@example.org"}

    page = auth.get(f"/admin/contacts?segment={segment.public_id}")
    assert page.status_code == 200
    assert f'<option value="{segment.public_id}" selected>VIP people</option>' in page.text
    assert _addresses(page.text) == {"ann@example.com", "cid@example.org"}
    assert "2 contacts" in page.text

    # Together with the other filters: all of them must hold.
    both = auth.get(f"/admin/contacts?segment={segment.public_id}&list={news.id}")
    assert _addresses(both.text) == {"ann@example.com"}
    searched = auth.get(f"/admin/contacts?segment={segment.public_id}&q=example.org")
    assert _addresses(searched.text) == {"cid@example.org"}
    nobody = auth.get(f"/admin/contacts?segment={segment.public_id}&q=bob")
    assert "No contact matches that search." in nobody.text


def test_keyset_pages_keep_the_segment(app_ctx, auth):
    members = []
    for n in range(53):
        person = _contact(f"p{n:02d}@example.com")
        if n % 10 != 0:  # 47 members (p01..p09, p11.., not p00, p10, ...)
            add_tag(person, "vip", actor=None)
            members.append(person.email)
    _contact("outsider@example.com")
    segment = save_segment("VIP people", VIP, actor=None)
    db.session.commit()

    first = auth.get(f"/admin/contacts?segment={segment.public_id}")
    assert len(_addresses(first.text)) == 47
    assert "Next 50" not in first.text  # 47 members fit one page although 54 contacts exist

    for n in range(53, 60):
        add_tag(_contact(f"p{n:02d}@example.com"), "vip", actor=None)
        members.append(f"p{n:02d}@example.com")
    db.session.commit()
    first = auth.get(f"/admin/contacts?segment={segment.public_id}")
    seen = _addresses(first.text)
    assert len(seen) == 50
    following = re.search(r'href="(/admin/contacts\?[^"]*after=[^"]+)">Next 50', first.text)
    assert following, "no link to the next page"
    link = following.group(1).replace("&amp;", "&")
    assert f"segment={segment.public_id}" in link
    second = auth.get(link)
    seen_next = _addresses(second.text)
    assert len(seen_next) == 4
    assert seen | seen_next == set(members)
    assert "outsider@example.com" not in seen | seen_next
    newest = re.search(r'href="([^"]*)">Newest', second.text)
    assert newest and f"segment={segment.public_id}" in newest.group(1)


def test_an_unknown_or_hostile_segment_is_a_message_not_an_error(app_ctx, auth):
    _contact("ann@example.com")
    db.session.commit()
    for hostile in ["nope", "' OR 1=1 --", "x" * 5000, "%00", "<script>"]:
        page = auth.get("/admin/contacts", query_string={"segment": hostile})
        assert page.status_code == 404
        assert "That segment does not exist (any more). Choose another one." in page.text
        assert "ann@example.com" not in page.text
        assert "<script>" not in page.text


def test_a_segment_that_no_longer_compiles_is_explained(app_ctx, auth):
    add_tag(_contact("ann@example.com"), "vip", actor=None)
    segment = save_segment("VIP people", VIP, actor=None)
    db.session.commit()
    db.session.execute(delete(ContactTag))
    db.session.execute(delete(Tag))
    db.session.commit()
    page = auth.get(f"/admin/contacts?segment={segment.public_id}")
    assert page.status_code == 409
    assert "The segment “VIP people” cannot be used:" in page.text
    assert "there is no tag “vip”" in page.text
    assert "ann@example.com" not in page.text


def test_viewers_may_filter_by_segment(app):
    with app.app_context():
        add_tag(_contact("ann@example.com"), "vip", actor=None)
        segment = save_segment("VIP people", VIP, actor=None)
        public_id = segment.public_id
        db.session.commit()
    viewer = staff_client(app, "viewer")
    page = viewer.get(f"/admin/contacts?segment={public_id}")
    assert page.status_code == 200
    assert "ann@example.com" in page.text
