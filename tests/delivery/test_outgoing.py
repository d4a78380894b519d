"""The one exit's own rules: one-click headers only on marketing kinds (A7); the category of each kind."""

import pytest

from mailer.delivery.models import Category
from mailer.delivery.outgoing import (
    MARKETING_KINDS,
    MessageKind,
    Outgoing,
    category_of,
    compose,
    parse_sender,
)


def _message(kind: MessageKind, unsubscribe_url: str = "") -> Outgoing:
    return Outgoing(
        kind=kind,
        sender=parse_sender("News <news@example.com>"),
        to_addr="ann@example.net",
        to_name="Ann",
        subject="Hello",
        html="<p>Hello</p>",
        text="Hello\n",
        unsubscribe_url=unsubscribe_url,
    )


@pytest.mark.parametrize("kind", sorted(set(MessageKind) - MARKETING_KINDS))
def test_mail_that_is_not_marketing_refuses_one_click_headers(app_ctx, kind):
    with pytest.raises(ValueError, match="A7"):
        compose(_message(kind, "https://mail.example.com/u/token"))
    head = compose(_message(kind)).raw.split(b"\r\n\r\n")[0]
    assert b"List-Unsubscribe" not in head


def test_a_marketing_message_carries_the_one_click_pair(app_ctx):
    raw = compose(_message(MessageKind.CAMPAIGN, "https://mail.example.com/u/token")).raw
    head = raw.split(b"\r\n\r\n")[0] + b"\r\n"
    assert b"List-Unsubscribe: <https://mail.example.com/u/token>\r\n" in head
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head


def test_each_kind_has_its_category():
    assert {kind: category_of(kind) for kind in MessageKind} == {
        **dict.fromkeys(MessageKind, Category.TRANSACTIONAL),
        MessageKind.DEADLINE_REMINDER: Category.INTERNAL,
        MessageKind.CAMPAIGN_ALERT: Category.INTERNAL,
        MessageKind.WEBHOOK_ALERT: Category.INTERNAL,  # staff mail about work to do, like a campaign alert
        MessageKind.CAMPAIGN: Category.MARKETING,
        MessageKind.CAMPAIGN_TEST: Category.MARKETING,
    }
