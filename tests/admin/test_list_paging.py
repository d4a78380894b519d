"""A list's page shows its subscribers 50 at a time by keyset (Next 50 / Newest), never by OFFSET."""

import re

from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list
from tests.support.campaigns import subscriber


def _names(html: str) -> list[str]:
    return re.findall(r'href="/admin/contacts/[^"]+">(Member \d+)</a>', html)


def test_list_page_walks_its_subscribers_by_keyset(app, auth):
    with app.app_context():
        news = create_list("News")
        for i in range(57):
            subscriber(
                news, f"member{i}@example.net", f"Member {i}", status="pending" if i % 2 else "confirmed"
            )
        db.session.commit()
        public_id = news.public_id

    first = auth.get(f"/admin/lists/{public_id}")
    assert first.status_code == 200
    assert _names(first.text) == [f"Member {i}" for i in range(56, 6, -1)]
    assert "Confirmed (29)" in first.text and "Pending (28)" in first.text  # the kept totals
    [next_link] = re.findall(r'href="([^"]+)">Next 50<', first.text)
    assert "page=" not in next_link and "after=" in next_link

    second = auth.get(next_link.replace("&amp;", "&"))
    assert second.status_code == 200
    assert _names(second.text) == [f"Member {i}" for i in range(6, -1, -1)]
    assert "Next 50" not in second.text and ">Newest<" in second.text

    pending = auth.get(f"/admin/lists/{public_id}?status=pending")
    assert _names(pending.text) == [f"Member {i}" for i in range(55, 0, -2)]
    assert "Next 50" not in pending.text

    unknown = auth.get(f"/admin/lists/{public_id}?after=no-such-contact")
    assert unknown.status_code == 200 and _names(unknown.text) == []
