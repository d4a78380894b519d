"""The ledger's hash chain, defined once: the hashed form of an event, its personal-data digest and the links.

Python appends with these functions (ledger.append_events); PostgreSQL appends a group in one statement
(sql/ledger_append_v*.sql) from the same hashed form cut around what only the database knows
(`hashed_form_pieces`), and `flask consent verify` recomputes every hash here. tests/consent proves both paths
produce identical hashes from the same events.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

GENESIS_HASH = "0" * 64

# The fields an event's hash covers, besides the digest of its personal fields (which erasure may blank).
EVENT_HASH_FIELDS = (
    "contact_id",
    "purpose_id",
    "action",
    "source",
    "notice_id",
    "details",
    "created_at",
    "pii_digest",
    "prev_hash",
)

# What only the database knows when it appends (ids, the digest of the address it looks up, the previous
# hash), in the hashed form's key order.
DATABASE_FILLED = ("contact_id", "notice_id", "pii_digest", "prev_hash", "purpose_id")
_HEX_FIELDS = ("pii_digest", "prev_hash")


def canonical(data: Any) -> bytes:
    """Deterministic JSON bytes for hashing: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def pii_digest(salt: str, email: str | None, ip: str | None, user_agent: str | None) -> str:
    """Salted digest of the personal columns; stays verifiable after erasure blanks them and the salt.

    The digested text is canonical([email, ip, user_agent]), written out without a json.dumps per event."""
    text = f"[{_json_text(email)},{_json_text(ip)},{_json_text(user_agent)}]"
    return hashlib.sha256(salt.encode() + text.encode()).hexdigest()


def pii_rest(ip: str | None, user_agent: str | None) -> str:
    """The digested text after the address: the database hashes salt + "[" + JSON(email) + "," + this."""
    return canonical([ip, user_agent]).decode()[1:]


def _hashed_body(row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of an event, as the hash has them."""
    body = {key: row[key] for key in EVENT_HASH_FIELDS}
    body["details"] = body["details"] or {}
    body["created_at"] = body["created_at"].isoformat(timespec="microseconds")
    return body


def hashed_form(row: Mapping[str, Any]) -> bytes:
    """The exact bytes an event's hash is taken of."""
    return canonical(_hashed_body(row))


def event_hash(row: Mapping[str, Any]) -> str:
    """Hash of an event's non-personal content, its personal-data digest and its predecessor."""
    return hashlib.sha256(hashed_form(row)).hexdigest()


def _json_text(value: str | None) -> str:
    if value is None:
        return "null"
    if value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'  # what json.dumps(ensure_ascii=False) gives: it escapes only these and controls
    return json.dumps(value, ensure_ascii=False)


def _json_id(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def stored_hashed_form(
    action: str,
    contact_id: int,
    created_at: Any,
    details: Any,
    notice_id: int | None,
    pii_digest: str,
    prev_hash: str,
    purpose_id: int | None,
    source: str,
    details_text: str | None = None,
) -> bytes:
    """hashed_form of a stored event's values, written out key by key in canonical()'s sorted order instead of
    through a dictionary and a sorting json.dumps: `consent verify` makes millions of these, and link() too.
    `details_text`, when given, is stored_details_text(details) already made (many events share details).
    tests/consent/test_verify.py proves it byte-identical to hashed_form."""
    if details_text is None:
        details_text = stored_details_text(details)
    return (
        f'{{"action":{_json_text(action)},"contact_id":{_json_id(contact_id)},'
        f'"created_at":"{created_at.isoformat(timespec="microseconds")}",'
        f'"details":{details_text},"notice_id":{_json_id(notice_id)},'
        f'"pii_digest":{_json_text(pii_digest)},"prev_hash":{_json_text(prev_hash)},'
        f'"purpose_id":{_json_id(purpose_id)},"source":{_json_text(source)}}}'
    ).encode()


def stored_details_text(details: Any) -> str:
    """An event's details as its hashed form writes them (no details at all hash as an empty object)."""
    return canonical(details).decode() if details else "{}"


# stored_hashed_form spelt in PostgreSQL over a consent_events row `e`, for `consent verify`: the same keys in
# the same order, ids as numbers or null, the time with its microseconds, texts as JSON strings. to_json
# escapes exactly as json.dumps(ensure_ascii=False) does (only '"', '\\' and controls below U+0020;
# ledger_pii_digest relies on it too), so a text holding none of those is its JSON string between two quotes:
# a row whose texts are all plain (nearly every row) is written without calling to_json. Canonical JSON of the
# details is Python's alone (sorted keys, Python's numbers): the query is given stored_details_text of each
# distinct stored details text as `details_text`. tests/consent/test_verify_sql.py proves the spellings
# byte-identical.
_SQL_TEXTS = (
    "e.action",
    "e.source",
    "e.pii_digest",
    "e.prev_hash",
    "e.email",
    "e.ip",
    "e.user_agent",
)
SQL_TEXTS_PLAIN = (
    "(" + " || ".join(f"coalesce({column}, '')" for column in _SQL_TEXTS) + r""") !~ '["\\\x01-\x1f]'"""
)


def _sql_form(quote: Callable[[str], str]) -> str:
    return f"""'{{"action":' || {quote("e.action")}
    || ',"contact_id":' || coalesce(e.contact_id::text, 'null')
    || ',"created_at":"' || to_char(e.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.US')
    || '","details":' || details_text
    || ',"notice_id":' || coalesce(e.notice_id::text, 'null')
    || ',"pii_digest":' || {quote("e.pii_digest")} || ',"prev_hash":' || {quote("e.prev_hash")}
    || ',"purpose_id":' || coalesce(e.purpose_id::text, 'null')
    || ',"source":' || {quote("e.source")} || '}}'"""


def _sql_digest(quote: Callable[[str], str]) -> str:
    """pii_digest of a stored row (ledger_pii_digest's expression, written out: a call per row costs more)."""
    return f"""encode(sha256(convert_to(e.pii_salt || '[' || {quote("e.email")} || ',' || {quote("e.ip")}
    || ',' || {quote("e.user_agent")} || ']', 'UTF8')), 'hex')"""


def _json(column: str) -> str:
    return f"coalesce(to_json({column})::text, 'null')"


def _plain(column: str) -> str:
    return f"""coalesce('"' || {column} || '"', 'null')"""


# (hashed form, pii digest) of a stored row, each spelt twice: SQL_TEXTS_PLAIN says which spelling applies.
HASHED_FORM_SQL = (_sql_form(_plain), _sql_form(_json))
PII_DIGEST_SQL = (_sql_digest(_plain), _sql_digest(_json))


def hashed_form_pieces(row: Mapping[str, Any]) -> list[str]:
    """The hashed form cut around the values of DATABASE_FILLED: six pieces, and the hashed text is
    pieces[0] + contact_id + pieces[1] + notice_id + ... + purpose_id + pieces[5] (ids as JSON numbers or
    null, the digests as bare hex). The row's own values of those fields are ignored."""
    body = _hashed_body({**row, **dict.fromkeys(DATABASE_FILLED)})
    pieces, text = [], "{"
    for number, key in enumerate(sorted(body)):  # canonical()'s order and separators
        text += ("," if number else "") + json.dumps(key) + ":"
        if key in DATABASE_FILLED:
            quote = '"' if key in _HEX_FIELDS else ""
            pieces.append(text + quote)
            text = quote
        else:
            text += canonical(body[key]).decode()
    pieces.append(text + "}")
    return pieces


def database_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A drafted event as the database completes it (ledger_append): its own fields, its hashed form in pieces
    and the digested text of its personal fields after the address."""
    return {
        "created_at": row["created_at"].isoformat(timespec="microseconds"),
        "details": row["details"],
        "source": row["source"],
        "ip": row["ip"],
        "user_agent": row["user_agent"],
        "pii_salt": row["pii_salt"],
        "pii_rest": pii_rest(row["ip"], row["user_agent"]),
        "hash_text": hashed_form_pieces(row),
    }


def link(rows: list[dict[str, Any]], previous: str) -> list[dict[str, Any]]:
    """Digest each row's personal fields and chain the rows after the event hashed `previous`, in order.

    The hash is event_hash's, taken of stored_hashed_form (byte-identical, without a dictionary and a sorting
    json.dumps per event); rows that share one details object (a batch of an import) have it rendered once."""
    sha256 = hashlib.sha256
    rendered: dict[int, tuple[Any, str]] = {}  # id(details) -> (details, its canonical text)
    for row in rows:
        digest = row["pii_digest"] = pii_digest(row["pii_salt"], row["email"], row["ip"], row["user_agent"])
        row["prev_hash"] = previous
        details = row["details"]
        known = rendered.get(id(details))
        if known is None or known[0] is not details:
            known = rendered[id(details)] = (details, stored_details_text(details))
        form = stored_hashed_form(
            row["action"],
            row["contact_id"],
            row["created_at"],
            details,
            row["notice_id"],
            digest,
            previous,
            row["purpose_id"],
            row["source"],
            known[1],
        )
        row["hash"] = previous = sha256(form).hexdigest()
    return rows
