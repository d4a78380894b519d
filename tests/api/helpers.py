"""Helpers for API tests: a client that sends a key, and a valid sign-up body."""

import threading

from sqlalchemy import select

from mailer.core.extensions import db
from mailer.subscriptions.models.lists import MailingList


class ApiClient:
    """The test client with a Bearer key on every request (JSON bodies by default)."""

    def __init__(self, client, key: str | None):
        self.client = client
        self.key = key

    def _headers(self, headers):
        base = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return {**base, **(headers or {})}

    def get(self, path, headers=None, **kwargs):
        return self.client.get(f"/api/v1{path}", headers=self._headers(headers), **kwargs)

    def post(self, path, json=None, headers=None, **kwargs):
        return self.client.post(f"/api/v1{path}", json=json, headers=self._headers(headers), **kwargs)

    def patch(self, path, json=None, headers=None, **kwargs):
        return self.client.patch(f"/api/v1{path}", json=json, headers=self._headers(headers), **kwargs)

    def put(self, path, json=None, headers=None, **kwargs):
        return self.client.put(f"/api/v1{path}", json=json, headers=self._headers(headers), **kwargs)

    def delete(self, path, headers=None, **kwargs):
        return self.client.delete(f"/api/v1{path}", headers=self._headers(headers), **kwargs)


def at_once(app, key: str, count: int, send) -> list:
    """`count` clients with this key each call `send(client)` at the same moment (threads released by a
    barrier); their answers in the order they came back."""
    answers, start = [], threading.Barrier(count)

    def attempt():
        client = ApiClient(app.test_client(), key)
        start.wait()
        answers.append(send(client))

    threads = [threading.Thread(target=attempt) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def signup_body(email="ann@example.com", lists=None, **extra) -> dict:
    """A valid API sign-up for the demo list unless told otherwise."""
    if lists is None:
        lists = [db.session.execute(select(MailingList.public_id).order_by(MailingList.id)).scalars().first()]
    body = {
        "email": email,
        "name": "Ann",
        "lists": lists,
        "consent": {
            "text": "Yes, send me the monthly newsletter. I can unsubscribe at any time.",
            "source_url": "https://shop.example.com/checkout",
            "ip": "203.0.113.7",
            "user_agent": "ShopBrowser/1.0",
        },
    }
    body.update(extra)
    return body
