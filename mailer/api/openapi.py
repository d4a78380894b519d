"""The OpenAPI 3.1 description of the API, written as data (a test checks it against the real routes)."""

from flask import current_app, jsonify

from mailer.api.blueprint import bp
from mailer.core.extensions import limiter
from mailer.delivery.models import DELIVERY_STATUSES


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes}


def _page_of(item: str) -> dict:
    return {
        "type": "object",
        "required": ["data", "next_cursor"],
        "properties": {
            "data": {"type": "array", "items": _ref(item)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `after` to get the next page; null on the last page.",
            },
        },
    }


TS = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": "string", "description": "An opaque public id."}
READ_ERRORS = (401, 429)
ID_PARAM = {"name": "public_id", "in": "path", "required": True, "schema": {"type": "string"}}
PAGING = [{"$ref": "#/components/parameters/after"}, {"$ref": "#/components/parameters/limit"}]

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "What went wrong, in words for a person."},
            "detail": {"description": 'Specifics, e.g. a message per field (`{"email": "…"}`), or null.'},
        },
    },
    "List": {
        "type": "object",
        "properties": {
            "id": ID,
            "name": {"type": "string"},
            "description": {"type": "string"},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "created_at": TS,
            "archived_at": {**TS, "description": "When the list was archived; null while it is active."},
            "subscribers": {
                "type": "object",
                "properties": {k: {"type": "integer"} for k in ("pending", "confirmed", "unsubscribed")},
            },
        },
    },
    "Conditions": {
        "type": "object",
        "description": "An AND/OR group: `match` is `all` or `any`; each rule is a condition "
        '`{"field": …, "op": …, "value": …}` or a nested group (the fields and operators of the '
        "admin's segment builder: built-in fields such as `email`, `status`, `list`, `consent`, `tag`, "
        "`opened`, `clicked`, and custom fields as `field:<key>`; sensitive fields are refused).",
        "required": ["match", "rules"],
        "properties": {
            "match": {"type": "string", "enum": ["all", "any"]},
            "rules": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Segment": {
        "type": "object",
        "properties": {
            "id": ID,
            "name": {"type": "string"},
            "conditions": _ref("Conditions"),
            "created_at": TS,
            "updated_at": TS,
        },
    },
    "SegmentWrite": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"name": {"type": "string", "maxLength": 120}, "conditions": _ref("Conditions")},
    },
    "SegmentCount": {
        "type": "object",
        "properties": {
            "segment_id": ID,
            "count": {"type": "integer", "description": "Contacts that match now (erased ones never do)."},
            "unseen": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "Per tracking purpose an activity condition uses: contacts it cannot see "
                "because they did not consent to that tracking.",
            },
        },
    },
    "Purpose": {
        "type": ["object", "null"],
        "properties": {
            "id": ID,
            "key": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["list", "tracking_open", "tracking_click", "other"]},
            "list_id": {"type": ["string", "null"]},
        },
    },
    "Subscription": {
        "type": "object",
        "properties": {
            "list": {"type": "object", "properties": {"id": ID, "name": {"type": "string"}}},
            "status": {"type": "string", "enum": ["pending", "confirmed", "unsubscribed"]},
            "source": {"type": ["string", "null"]},
            "requested_at": TS,
            "confirmed_at": TS,
            "unsubscribed_at": TS,
        },
    },
    "ConsentState": {
        "type": "object",
        "properties": {
            "purpose": _ref("Purpose"),
            "status": {"type": "string", "enum": ["pending", "granted", "withdrawn", "objected", "expired"]},
            "since": TS,
        },
    },
    "FieldValue": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "label": {"type": "string"},
            "category": {"type": "string", "enum": ["ordinary", "personal_identifier", "sensitive"]},
            "value": {
                "type": "string",
                "description": "Sensitive values are always masked, e.g. `•••• 4242`.",
            },
            "masked": {"type": "boolean"},
        },
    },
    "ContactSummary": {
        "type": "object",
        "properties": {
            "id": ID,
            "email": {"type": ["string", "null"], "description": "null once the contact was erased"},
            "name": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["active", "restricted", "erased"]},
            "source": {"type": ["string", "null"]},
            "created_at": TS,
            "last_activity_at": TS,
            "lists": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": ID,
                        "status": {"type": "string", "enum": ["pending", "confirmed", "unsubscribed"]},
                    },
                },
            },
        },
    },
    "Contact": {
        "type": "object",
        "properties": {
            "id": ID,
            "email": {"type": ["string", "null"], "description": "null once the contact was erased"},
            "name": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["active", "restricted", "erased"]},
            "attributes": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
            "fields": {"type": "array", "items": _ref("FieldValue")},
            "source": {"type": ["string", "null"]},
            "created_at": TS,
            "last_activity_at": TS,
            "subscriptions": {"type": "array", "items": _ref("Subscription")},
            "consent": {"type": "array", "items": _ref("ConsentState")},
            "changed": {
                "type": "array",
                "items": {"type": "string"},
                "description": "PATCH only: what changed.",
            },
        },
    },
    "ContactPatch": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "name": {"type": ["string", "null"], "maxLength": 200},
            "attributes": {
                "type": "object",
                "maxProperties": 50,
                "description": "Merged into the contact's attributes; a null value removes one.",
                "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
            },
            "fields": {
                "type": "object",
                "description": "Custom contact fields by key (empty or null clears). "
                "Sensitive fields need the person's granted consent.",
                "additionalProperties": {"type": ["string", "null"]},
            },
        },
    },
    "ConsentEvent": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The event's hash in the ledger chain."},
            "action": {"type": "string"},
            "purpose": _ref("Purpose"),
            "source": {"type": "string"},
            "notice": {"type": ["object", "null"], "description": "The exact words the person was shown."},
            "email": {"type": ["string", "null"]},
            "ip": {"type": ["string", "null"]},
            "user_agent": {"type": ["string", "null"]},
            "details": {"type": "object"},
            "created_at": TS,
            "prev_hash": {"type": "string"},
        },
    },
    "Campaign": {
        "type": "object",
        "properties": {
            "id": ID,
            "name": {"type": "string"},
            "subject": {"type": "string"},
            "category": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["draft", "scheduled", "sending", "paused", "sent", "cancelled"],
            },
            "status_reason": {"type": "string"},
            "waiting_reason": {
                "type": "string",
                "description": "Set while a sending campaign waits for the relay, e.g. "
                '"Waiting for the relay: connection refused. Next try '
                'at 14:05:00 UTC."; empty otherwise.',
            },
            "waiting_until": {
                **TS,
                "description": "When the next try at the relay is due (null when not waiting).",
            },
            "lists": {"type": "array", "items": {"type": "string"}},
            "scheduled_at": TS,
            "started_at": TS,
            "finished_at": TS,
            "created_at": TS,
            "progress": {
                "type": "object",
                "description": "Only on GET /campaigns/{public_id}: delivery counts by "
                "status, remaining, rate_per_s and eta_s.",
                "additionalProperties": True,
            },
            "deliveries": {
                "type": "object",
                "description": "Only on GET /campaigns/{public_id}: every delivery state "
                "(queued, sending, sent, skipped, failed, bounced, "
                "uncertain) with how many and why.",
                "properties": {state: _ref("DeliveryState") for state in DELIVERY_STATUSES},
                "additionalProperties": _ref("DeliveryState"),
            },
        },
    },
    "DeliveryState": {
        "type": "object",
        "required": ["count", "reasons", "other_reasons"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "reasons": {
                "type": "array",
                "description": "The most common reasons, most frequent first; times and "
                'addresses are replaced ("will retry at …: 451 4.3.0 …").',
                "items": {
                    "type": "object",
                    "required": ["reason", "count"],
                    "properties": {"reason": {"type": "string"}, "count": {"type": "integer", "minimum": 1}},
                },
            },
            "other_reasons": {
                "type": "integer",
                "minimum": 0,
                "description": "Deliveries in this state whose reason is not among the listed ones.",
            },
        },
    },
    "UncertainDelivery": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The delivery's id, to name it in a resend."},
            "contact_id": ID,
            "reason": {"type": "string", "description": "Why it is uncertain (addresses removed)."},
            "attempts": {"type": "integer"},
            "handed_at": TS,
        },
    },
    "ResendRequest": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
        "description": "Either every uncertain delivery of the campaign, or the ones named.",
        "properties": {
            "all": {"const": True},
            "deliveries": {
                "type": "array",
                "minItems": 1,
                "maxItems": 500,
                "items": {"type": "string"},
                "description": "Ids from GET /campaigns/{public_id}/uncertain.",
            },
        },
    },
    "Journey": {
        "type": "object",
        "properties": {
            "id": ID,
            "name": {"type": "string"},
            "status": {"type": "string", "enum": ["active", "paused"]},
            "trigger": {"type": "string", "enum": ["list_confirmed", "tag_added", "api"]},
            "list_id": {**ID, "description": "The list the journey's emails are sent for."},
            "reentry": {"type": "boolean"},
            "steps": {"type": "integer"},
        },
    },
    "JourneyPage": _page_of("Journey"),
    "EnrolRequest": {
        "type": "object",
        "required": ["contact_id"],
        "additionalProperties": False,
        "properties": {"contact_id": {**ID, "description": "The contact's public id."}},
    },
    "EnrolResult": {
        "type": "object",
        "properties": {
            "enrolled": {"type": "boolean"},
            "round": {"type": "integer", "description": "The contact's how-many-th time through it."},
            "reason": {"type": "string", "description": "Why nobody new entered (200 only)."},
        },
    },
    "ResendResult": {
        "type": "object",
        "properties": {
            "resent": {
                "type": "integer",
                "description": "How many were uncertain and are queued again (0 when none "
                "of those named is uncertain any more).",
            },
            "status": {
                "type": "string",
                "description": "The campaign's status now (a sent campaign is sending again).",
            },
        },
    },
    "SignupRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["email", "lists", "consent"],
        "properties": {
            "email": {"type": "string", "maxLength": 254},
            "name": {"type": ["string", "null"], "maxLength": 200},
            "lists": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": {"type": "string"},
                "description": "Public ids of the lists whose (unticked) checkbox the person ticked.",
            },
            "consent": {
                "type": "object",
                "additionalProperties": False,
                "required": ["text", "source_url"],
                "description": "Proof of what the person was shown; stored as an immutable notice.",
                "properties": {
                    "text": {
                        "type": "string",
                        "minLength": 10,
                        "maxLength": 10000,
                        "description": "The exact wording shown next to the checkbox(es).",
                    },
                    "source_url": {
                        "type": "string",
                        "format": "uri",
                        "description": "The page the person signed up on.",
                    },
                    "ip": {"type": ["string", "null"], "description": "The person's IP address, if known."},
                    "user_agent": {"type": ["string", "null"], "maxLength": 512},
                },
            },
        },
    },
    "SignupAccepted": {
        "type": "object",
        "properties": {"status": {"const": "accepted"}, "message": {"type": "string"}},
    },
    "UnsubscribeResult": {
        "type": "object",
        "properties": {
            "contact_id": ID,
            "list_id": ID,
            "status": {"type": "string"},
            "changed": {"type": "boolean", "description": "false when the contact was already unsubscribed"},
        },
    },
}
for _name, _item in (
    ("ListPage", "List"),
    ("SegmentPage", "Segment"),
    ("ContactPage", "Contact"),
    ("ContactSummaryPage", "ContactSummary"),
    ("ConsentEventPage", "ConsentEvent"),
    ("CampaignPage", "Campaign"),
    ("UncertainDeliveryPage", "UncertainDelivery"),
):
    SCHEMAS[_name] = _page_of(_item)

ERROR_TEXT = {
    400: "The body is not valid JSON.",
    401: "The Authorization header is missing, or the key is not valid or was revoked.",
    403: "The key is read-only and the request would change something.",
    404: "No resource with this id.",
    409: "The contact is restricted (Art. 18 GDPR) or erased and cannot be changed through the API.",
    413: "The body is larger than API_MAX_BODY_BYTES (32 KiB by default).",
    415: "The body is not sent as application/json.",
    422: "A value is missing, of the wrong type or not valid; `detail` names each field.",
    429: "The key's rate limit (API_RATE_LIMIT, shared by all endpoints) is exhausted; see Retry-After.",
}

WRITE_ERRORS = (400, 403, 413, 415, 422, *READ_ERRORS)


def build_document(prefix: str) -> dict:
    """The whole document; servers point at where the blueprint is mounted."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mailer API",
            "version": "1.0.0",
            "description": "JSON API for integrations. Authenticate with `Authorization: Bearer <API key>` "
            "(keys are created by an owner or admin under Admin → API keys). Errors are always "
            '`{"error": …, "detail": …}`. Lists page by cursor: pass `next_cursor` as `after`.',
        },
        "servers": [{"url": prefix or "/"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key, e.g. mk_1a2b3c4d_…",
                }
            },
            "schemas": SCHEMAS,
            "parameters": {
                "after": {
                    "name": "after",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Continue after the item with this id (the previous page's next_cursor).",
                },
                "limit": {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                },
            },
            "responses": {f"E{code}": _json(_ref("Error"), text) for code, text in ERROR_TEXT.items()},
        },
    }


def _paths() -> dict:
    contact_id = {**ID_PARAM, "description": "The contact's public id."}
    return {
        "/lists": {
            "get": {
                "operationId": "listLists",
                "summary": "Mailing lists with subscriber counts",
                "description": "The active lists; with `archived=true`, the archived ones instead.",
                "parameters": [
                    {
                        "name": "archived",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
                        "description": "`true` for the archived lists (which take no sign-ups).",
                    },
                    *PAGING,
                ],
                "responses": {
                    "200": _json(_ref("ListPage"), "A page of lists."),
                    **_errors(422, *READ_ERRORS),
                },
            }
        },
        "/lists/{public_id}": {
            "get": {
                "operationId": "getList",
                "summary": "One mailing list",
                "parameters": [ID_PARAM],
                "responses": {"200": _json(_ref("List"), "The list."), **_errors(404, *READ_ERRORS)},
            }
        },
        "/segments": {
            "get": {
                "operationId": "listSegments",
                "summary": "Saved segments",
                "description": "Their members: `GET /contacts?segment=<id>`.",
                "parameters": PAGING,
                "responses": {
                    "200": _json(_ref("SegmentPage"), "A page of segments."),
                    **_errors(422, *READ_ERRORS),
                },
            },
            "post": {
                "operationId": "createSegment",
                "summary": "Save a segment",
                "description": "`name` and `conditions` are required. Conditions are checked as the builder "
                "checks them: a 422 names `name` or `conditions` with the reason (an unknown field, list or "
                "tag, a sensitive field, a value of the wrong type). Audited.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("SegmentWrite")}},
                },
                "responses": {"201": _json(_ref("Segment"), "The saved segment."), **_errors(*WRITE_ERRORS)},
            },
        },
        "/segments/{public_id}": {
            "get": {
                "operationId": "getSegment",
                "summary": "One saved segment",
                "parameters": [ID_PARAM],
                "responses": {"200": _json(_ref("Segment"), "The segment."), **_errors(404, *READ_ERRORS)},
            },
            "patch": {
                "operationId": "updateSegment",
                "summary": "Rename a segment or replace its conditions",
                "description": "Send `name`, `conditions` or both. Audited.",
                "parameters": [ID_PARAM],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("SegmentWrite")}},
                },
                "responses": {
                    "200": _json(_ref("Segment"), "The changed segment."),
                    **_errors(404, *WRITE_ERRORS),
                },
            },
            "delete": {
                "operationId": "deleteSegment",
                "summary": "Delete a saved segment (its contacts stay)",
                "description": "Audited. Refused with 409 while a campaign is sent to it.",
                "parameters": [ID_PARAM],
                "responses": {
                    "204": {"description": "Deleted."},
                    "409": _json(_ref("Error"), "A campaign is sent to this segment: it is kept."),
                    **_errors(403, 404, *READ_ERRORS),
                },
            },
        },
        "/segments/{public_id}/count": {
            "get": {
                "operationId": "countSegment",
                "summary": "How many contacts a segment matches now",
                "parameters": [ID_PARAM],
                "responses": {
                    "200": _json(_ref("SegmentCount"), "The count."),
                    "409": _json(_ref("Error"), "The segment names a field or list that is gone."),
                    **_errors(404, *READ_ERRORS),
                },
            }
        },
        "/subscriptions": {
            "post": {
                "operationId": "createSubscription",
                "summary": "Start a double opt-in sign-up",
                "description": "Records a pending subscription per list and the wording shown (as a "
                "versioned notice), then emails a confirmation link. The answer is identical whether the "
                "address is new, pending, confirmed or suppressed.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("SignupRequest")}},
                },
                "responses": {
                    "202": _json(_ref("SignupAccepted"), "Accepted (whatever the address's state)."),
                    **_errors(*WRITE_ERRORS),
                },
            }
        },
        "/contacts": {
            "get": {
                "operationId": "listContacts",
                "summary": "List contacts (on a list, in a status), or look one up by exact email address",
                "description": "Without `email`: contacts in the order they were added, a keyset page at a "
                "time (pass `next_cursor` as `after`, or as `cursor`); each with its lists, without custom "
                "fields or consent (`GET /contacts/{id}` has them). With `email`: the contact with exactly "
                "this address (zero or one, through the blind index; the other parameters are ignored).",
                "parameters": [
                    {
                        "name": "email",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "An exact address to look up.",
                    },
                    {
                        "name": "list",
                        "in": "query",
                        "required": False,
                        "schema": ID,
                        "description": "Only contacts on this list (in any subscription state).",
                    },
                    {
                        "name": "segment",
                        "in": "query",
                        "required": False,
                        "schema": ID,
                        "description": "Only contacts in this saved segment (as it matches now).",
                    },
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["active", "restricted", "erased"]},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "schema": ID,
                        "description": "Another name for `after`.",
                    },
                    *PAGING,
                ],
                "responses": {
                    "200": _json(
                        {"oneOf": [_ref("ContactSummaryPage"), _ref("ContactPage")]},
                        "A page of contacts, or the contact with this address (zero or one).",
                    ),
                    **_errors(404, 422, *READ_ERRORS),
                },
            }
        },
        "/contacts/{public_id}": {
            "get": {
                "operationId": "getContact",
                "summary": "A contact's profile, subscriptions and consent",
                "parameters": [contact_id],
                "responses": {
                    "200": _json(_ref("Contact"), "The contact (sensitive fields masked)."),
                    **_errors(404, *READ_ERRORS),
                },
            },
            "patch": {
                "operationId": "updateContact",
                "summary": "Change name, attributes or custom fields",
                "description": "Audited. Refused with 409 for restricted or erased contacts.",
                "parameters": [contact_id],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ContactPatch")}},
                },
                "responses": {
                    "200": _json(_ref("Contact"), "The contact after the change."),
                    **_errors(404, 409, *WRITE_ERRORS),
                },
            },
        },
        "/contacts/{public_id}/consent": {
            "get": {
                "operationId": "getContactConsent",
                "summary": "The contact's consent ledger, oldest first",
                "parameters": [contact_id, *PAGING],
                "responses": {
                    "200": _json(_ref("ConsentEventPage"), "A page of ledger events."),
                    **_errors(404, 422, *READ_ERRORS),
                },
            }
        },
        "/contacts/{public_id}/subscriptions/{list_id}": {
            "delete": {
                "operationId": "unsubscribeContact",
                "summary": "Unsubscribe a contact from one list",
                "description": "Ends the subscription and withdraws consent for the list (one ledger event). "
                "Repeating it changes nothing.",
                "parameters": [
                    contact_id,
                    {
                        "name": "list_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "The list's public id.",
                    },
                ],
                "responses": {
                    "200": _json(_ref("UnsubscribeResult"), "Unsubscribed."),
                    **_errors(403, 404, 409, *READ_ERRORS),
                },
            }
        },
        "/campaigns": {
            "get": {
                "operationId": "listCampaigns",
                "summary": "Campaigns and their status",
                "parameters": [
                    *PAGING,
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "enum": ["draft", "scheduled", "sending", "paused", "sent", "cancelled"],
                        },
                    },
                ],
                "responses": {
                    "200": _json(_ref("CampaignPage"), "A page of campaigns."),
                    **_errors(422, *READ_ERRORS),
                },
            }
        },
        "/campaigns/{public_id}": {
            "get": {
                "operationId": "getCampaign",
                "summary": "One campaign with sending progress",
                "parameters": [ID_PARAM],
                "responses": {"200": _json(_ref("Campaign"), "The campaign."), **_errors(404, *READ_ERRORS)},
            }
        },
        "/campaigns/{public_id}/uncertain": {
            "get": {
                "operationId": "listUncertainDeliveries",
                "summary": "A campaign's uncertain deliveries",
                "description": "Deliveries a worker was handing to the relay when it stopped: the relay "
                "may or may not have received them. They are never resent by themselves.",
                "parameters": [ID_PARAM, *PAGING],
                "responses": {
                    "200": _json(_ref("UncertainDeliveryPage"), "A page of uncertain deliveries."),
                    **_errors(404, 422, *READ_ERRORS),
                },
            }
        },
        "/campaigns/{public_id}/uncertain/resend": {
            "post": {
                "operationId": "resendUncertainDeliveries",
                "summary": "Send uncertain deliveries again",
                "description": "An explicit decision: resending may deliver twice. Needs a read-and-write "
                "key; audited. Eligibility is checked again for each recipient when it is sent.",
                "parameters": [ID_PARAM],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ResendRequest")}},
                },
                "responses": {
                    "200": _json(_ref("ResendResult"), "Queued to be sent again."),
                    "409": _json(
                        _ref("Error"),
                        "The campaign is a draft, scheduled or cancelled: nothing of it can be sent again.",
                    ),
                    **_errors(404, *WRITE_ERRORS),
                },
            }
        },
        "/journeys": {
            "get": {
                "operationId": "listJourneys",
                "summary": "Journeys (automations)",
                "parameters": PAGING,
                "responses": {
                    "200": _json(_ref("JourneyPage"), "A page of journeys."),
                    **_errors(422, *READ_ERRORS),
                },
            }
        },
        "/journeys/{public_id}/enrol": {
            "post": {
                "operationId": "enrolContact",
                "summary": "Start a contact on a journey whose trigger is an API call",
                "description": "The contact must be able to receive the journey's email now "
                "(subscribed to its list, consent granted, not objected, restricted, erased or suppressed): "
                "the same rule as campaigns, checked again before every step. Needs a read-and-write key.",
                "parameters": [ID_PARAM],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("EnrolRequest")}},
                },
                "responses": {
                    "202": _json(_ref("EnrolResult"), "Enrolled; the first step runs on the next pass."),
                    "200": _json(_ref("EnrolResult"), "Already in the journey, or it allows no re-entry."),
                    "409": _json(
                        _ref("Error"),
                        "The journey has another trigger, or the contact may not receive its email.",
                    ),
                    **_errors(404, *WRITE_ERRORS),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApiDocument",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_errors(429),
                },
            }
        },
    }


@bp.get("/openapi.json")
@limiter.limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"])
def openapi_document():
    """The OpenAPI document (no key needed: it describes the API, it holds no data)."""
    return jsonify(build_document(current_app.extensions.get("mailer.api_prefix", "")))
