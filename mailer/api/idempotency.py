"""The Idempotency-Key header on every API request that makes or does something (one mechanism, applied by
`api_route` to each POST): a retry with the same key and request answers the first answer again, with the
header `Idempotent-Replayed: true`, and makes nothing twice. Keys belong to the API key that sent them.

Only successful answers are kept: a request that failed made nothing, so its key is free again for a retry.
A repeat while the first try still runs gets a 409; the same key for a different request a 422 (detail.reason
`idempotency_key_reused`, as POST /tx). The rule itself is in mailer.staff.idempotency.
"""

import hashlib
import json
from collections.abc import Callable
from typing import IO

from flask import Response, g, request

from mailer.api.errors import ApiError
from mailer.api.inputs import RAW_CHUNK, raw_body
from mailer.core.web import is_upload_body
from mailer.staff import idempotency
from mailer.staff.idempotency import ClaimOutcome

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
HEADER_DOC = {
    "description": "Makes a retry safe (1–255 printable characters, a new one per intended action, scoped to "
    "the API key): a repeat with the same key and the same request answers the first answer again (header "
    "`Idempotent-Replayed: true`) without doing anything twice; the same key with a different request is a "
    "422 (`detail.reason`: idempotency_key_reused); a repeat while the first is still running is a 409 "
    "(`detail.reason`: request_in_progress). Only successful answers are kept, for 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
}
BODY_422 = "A value is missing, of the wrong type or not valid; `detail` names each field."
BODY_400 = "The body is not valid JSON."
ERROR_DOC = {
    400: "The Idempotency-Key header is not 1–255 printable characters (detail.reason: bad_key).",
    409: "Another request with this Idempotency-Key is still running (detail.reason: request_in_progress).",
    422: "This Idempotency-Key was used for a different request (detail.reason: idempotency_key_reused).",
}


def _digest(*parts: bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(hashlib.sha256(part).digest())
    return hashed.hexdigest()


def _file_digest(stream: IO[bytes]) -> str:
    """The SHA-256 of an uploaded file, read in chunks (a large upload never sits in memory whole)."""
    hashed = hashlib.sha256()
    while chunk := stream.read(RAW_CHUNK):
        hashed.update(chunk)
    stream.seek(0)
    return hashed.hexdigest()


def _body_fingerprint() -> bytes:
    """The request's body as a canonical text: parsed JSON (key order and spacing don't matter), an upload's
    text parts and each file's name, type and SHA-256 (not the multipart boundary), a raw upload's SHA-256
    (e.g. a text/csv body, read as a stream), or the raw bytes."""
    if request.mimetype == "multipart/form-data":
        parts = sorted(request.form.items(multi=True))
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            parts.append((name, f"{upload.filename}|{upload.mimetype}|{_file_digest(upload.stream)}"))
        return json.dumps(parts, ensure_ascii=False).encode()
    if is_upload_body():
        return f"{request.mimetype}|{_file_digest(raw_body())}".encode()
    raw = request.get_data(cache=True)
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_fingerprint() -> str:
    """What makes two requests "the same": method, path, query string and body."""
    return _digest(request.method.encode(), request.path.encode(), request.query_string, _body_fingerprint())


def _replayed(record) -> Response:
    response = Response(record.body or None, status=record.status, content_type=record.content_type or None)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def once_per_key(run: Callable[[], Response]) -> Response:
    """Run the request, or answer as its key says (see the module docstring); without a key, just run it."""
    key = request.headers.get(HEADER)
    if key is None:
        return run()
    if not idempotency.valid_key(key):
        raise ApiError(
            400,
            f"The {HEADER} header must be 1–{idempotency.MAX_KEY_LENGTH} printable characters.",
            {"reason": "bad_key"},
        )
    claim = idempotency.claim(g.api_key.id, key, request_fingerprint(), request.endpoint or "")
    if claim.outcome == ClaimOutcome.REUSED:
        raise ApiError(
            422,
            f"This {HEADER} was already used for a different request; use a new key for a new request.",
            {"reason": "idempotency_key_reused"},
        )
    if claim.outcome == ClaimOutcome.IN_PROGRESS:
        raise ApiError(
            409,
            f"A request with this {HEADER} is still in progress; repeat it in a moment to get its answer.",
            {"reason": "request_in_progress"},
        )  # no Retry-After: the app keeps it for 429 and 503 (core.web.retry_after_only_when_refused)
    assert claim.request is not None
    if claim.outcome == ClaimOutcome.REPLAY:
        return _replayed(claim.request)
    record_id = claim.request.id
    try:
        response = run()
    except BaseException:
        idempotency.release(record_id)
        raise
    if 200 <= response.status_code < 300:
        idempotency.finish(
            record_id, response.status_code, response.content_type or "", response.get_data(as_text=True)
        )
    else:
        idempotency.release(record_id)
    return response


def documented(headers: dict | None, errors: dict | None, has_body: bool) -> tuple[dict, dict]:
    """An operation's headers and errors with the Idempotency-Key's added (for the OpenAPI document)."""
    errors = dict(errors or {})
    if has_body:
        errors.setdefault(400, BODY_400)
        errors.setdefault(422, BODY_422)
    for status, text in ERROR_DOC.items():
        errors[status] = f"{errors[status]} Or: {text}" if status in errors else text
    return {HEADER: HEADER_DOC, **(headers or {})}, errors
