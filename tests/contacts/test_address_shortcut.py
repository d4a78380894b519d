"""The import's shortcut for plain addresses gives exactly normalise_email's answers."""

import random
import string

import pytest

from mailer.contacts.operations import AddressError, normalise_email, normalise_email_quickly

CORPUS = [
    "ann@example.com",
    "  Ann.Example+news@Example.COM ",
    "o'brien@example.ie",
    "a@b.c",
    "a@b.co",
    "a@localhost",
    "a@x.test",
    "a@mail.local",
    "a@x.onion",
    "a@x.arpa",
    "a@invalid",
    "a@x.invalid",
    "a@1.2.3.4",
    "a@x.123",
    "a..b@x.com",
    ".a@x.com",
    "a.@x.com",
    "a@-x.com",
    "a@x-.com",
    "a@x..com",
    "x@xn--bcher-kva.de",
    "x@ab--cd.de",
    "é@x.com",
    "ann@exämple.com",
    "a" * 64 + "@x.com",
    "a" * 65 + "@x.com",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["b" * 60] * 4) + ".com",
    "a b@x.com",
    "a@x.com.",
    "a@x.c0m",
    "a@x.co-m",
    '"quoted"@x.com',
    "a@[192.0.2.1]",
    "",
    "@x.com",
    "a@",
    "a@@x.com",
    "{a}|b~c@x.com",
    "a@X.COM",
]


def _answer(function, raw):
    try:
        return function(raw)
    except AddressError as exc:
        return ("refused", str(exc))


@pytest.mark.parametrize("raw", CORPUS)
def test_the_shortcut_agrees_with_the_rule(raw):
    assert _answer(normalise_email_quickly, raw) == _answer(normalise_email, raw)


def test_the_shortcut_agrees_on_random_addresses():
    chance = random.Random(13)
    alphabet = string.ascii_letters + string.digits + ".-_+'@"
    for _ in range(3000):
        raw = "".join(chance.choice(alphabet) for _ in range(chance.randint(3, 30)))
        if "@" not in raw:
            raw += "@example.com"
        assert _answer(normalise_email_quickly, raw) == _answer(normalise_email, raw), raw
