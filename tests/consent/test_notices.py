"""Versioned, immutable notices: editing a form's wording publishes a new version; old proof keeps the old
words."""

import re

import pytest
from sqlalchemy import select

from mailer.consent.models import ConsentEvent, Notice
from mailer.consent.notices import notice_versions
from mailer.core.extensions import db
from tests.support.html_forms import submit_form
from tests.support.signup import contact_by_email, page, sign_up

NEW_INTRO = "Two emails a month: product news and an occasional survey."


def _edit(client, form, **changes):
    url = f"/admin/forms/{form.public_id}/edit"
    response = submit_form(client, url, client.get(url).text, **changes)
    assert response.status_code == 302, page(response)
    return page(client.get(response.headers["Location"]))


def _requested_notices(email: str) -> set[int]:
    db.session.expire_all()
    query = select(ConsentEvent.notice_id).where(
        ConsentEvent.email == email, ConsentEvent.action == "requested"
    )
    return set(db.session.execute(query).scalars())


def test_editing_the_wording_creates_a_version_and_old_records_keep_the_old_text(app, auth, demo_form):
    old_intro = demo_form.intro
    sign_up(auth, email="ann@example.com")
    shown = _edit(auth, demo_form, intro=NEW_INTRO)
    assert "Form saved (wording version 2)." in shown

    v2, v1 = notice_versions(f"form:{demo_form.public_id}")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.content["intro"] == old_intro and v2.content["intro"] == NEW_INTRO
    assert v1.content_hash != v2.content_hash
    assert _requested_notices("ann@example.com") == {v1.id}
    assert NEW_INTRO in page(auth.get("/f/demo"))

    evidence = page(auth.get(f"/admin/contacts/{contact_by_email('ann@example.com').public_id}/evidence"))
    assert old_intro in evidence and "version 1" in evidence
    assert NEW_INTRO not in evidence

    sign_up(auth, email="bob@example.com")
    assert _requested_notices("bob@example.com") == {v2.id}
    bob_evidence = page(auth.get(f"/admin/contacts/{contact_by_email('bob@example.com').public_id}/evidence"))
    assert NEW_INTRO in bob_evidence and "version 2" in bob_evidence


def test_saving_unchanged_wording_keeps_the_version(app, auth, demo_form):
    assert "Form saved (wording version 1)." in _edit(auth, demo_form)
    assert len(notice_versions(f"form:{demo_form.public_id}")) == 1


def test_a_new_checkbox_label_is_a_new_version(app, auth, demo_form):
    list_purpose = demo_form.lists[0].purpose
    shown = _edit(
        auth, demo_form, **{f"label-{list_purpose.public_id}": "Yes, email me the demo newsletter."}
    )
    assert "Form saved (wording version 2)." in shown
    latest = notice_versions(f"form:{demo_form.public_id}")[0]
    assert {"purpose": list_purpose.key, "label": "Yes, email me the demo newsletter."} in latest.content[
        "checkboxes"
    ]
    assert "Yes, email me the demo newsletter." in page(auth.get("/f/demo"))


def test_a_notice_cannot_be_edited_in_place(app, demo_form):
    notice = db.session.execute(
        select(Notice).where(Notice.key == f"form:{demo_form.public_id}")  # the demo form's English wording
    ).scalar_one()
    notice.content = {**notice.content, "intro": "rewritten history"}
    with pytest.raises(ValueError, match="immutable"):
        db.session.commit()
    db.session.rollback()


def test_the_notice_lists_the_boxes_in_the_order_the_page_shows_them(app, client, demo_form):
    recorded = [box["label"] for box in demo_form.notice.content["checkboxes"]]
    db.session.expire_all()  # the page reads the form afresh, as in any later request
    shown = re.findall(
        r'<label class="form-check-label" for="consent-\d+">([^<]+)</label>', page(client.get("/f/demo"))
    )
    assert shown == recorded and len(shown) == 3
