"""The chain's fast forms (link, pii_digest) give byte for byte what the rule (canonical JSON) gives, for
text that JSON escapes as well as for plain text."""

import hashlib
from datetime import datetime

import pytest

from mailer.consent import chain

AWKWARD = [
    "ann@example.com",
    'quo"ted@example.com',
    "back\\slash@example.com",
    "tab\there",
    "line\nbreak",
    "nul\x00byte",
    "del\x7fchar",
    "sépar\u2028ator",
    "émile@exämple.de",
    "",
    None,
]


@pytest.mark.parametrize("value", AWKWARD)
def test_the_digest_of_personal_fields_is_the_canonical_one(value):
    salt = "ab" * 16
    for ip, agent in ((None, None), ("203.0.113.7", value), (value, 'Mozilla/5.0 "x"')):
        expected = hashlib.sha256(salt.encode() + chain.canonical([value, ip, agent])).hexdigest()
        assert chain.pii_digest(salt, value, ip, agent) == expected


def test_link_chains_with_the_hash_of_the_rule():
    shared = {"import": "x", "statement": 'Paper forms, "archived"\\ in Berlin'}
    rows = [
        {
            "contact_id": n,
            "purpose_id": None if n % 3 == 0 else 7,
            "action": "granted",
            "source": value if isinstance(value, str) else "import:x",
            "notice_id": None if n % 2 else 4,
            "details": shared if n % 4 else ({} if n % 8 else {"n": n, "é": value}),
            "created_at": datetime(2026, 1, 2, 3, 4, 5, n),
            "email": value,
            "ip": None,
            "user_agent": value,
            "pii_salt": f"{n:032x}",
        }
        for n, value in enumerate(AWKWARD * 2)
    ]
    linked = chain.link([dict(row) for row in rows], chain.GENESIS_HASH)
    previous = chain.GENESIS_HASH
    for row, got in zip(rows, linked, strict=True):
        expected = dict(row, prev_hash=previous)
        expected["pii_digest"] = hashlib.sha256(
            row["pii_salt"].encode() + chain.canonical([row["email"], row["ip"], row["user_agent"]])
        ).hexdigest()
        previous = hashlib.sha256(chain.canonical(chain._hashed_body(expected))).hexdigest()
        assert (got["pii_digest"], got["prev_hash"], got["hash"]) == (
            expected["pii_digest"],
            expected["prev_hash"],
            previous,
        )
