"""Marshmallow building blocks for API schemas: fields that answer in our words, and paged results.

A request schema refuses unknown keys, wrong types and control characters with a message per field (the
`detail` of a 422); a response schema is what a view's answer is dumped through. Both are what
`mailer.api.openapi` turns into the published document, so the document cannot drift from the code.
"""

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from mailer.core.text import has_controls

CONTROL_MESSAGE = "must not contain control characters (such as NUL, ESC or, outside text, line breaks)"
REQUIRED = "this field is required"
ID_DESCRIPTION = "An opaque public id."


class RequestSchema(Schema):
    """A request body or query: unknown keys are refused, so a typo never silently does nothing."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "unknown field", "type": "must be an object"}  # noqa: RUF012 (marshmallow's)


class Text(fields.String):
    """A string without control characters; only a multiline one may hold line breaks and tabs."""

    def __init__(self, *, multiline: bool = False, max_length: int | None = None, **kwargs):
        given = kwargs.pop("validate", None) or []
        validators = list(given) if isinstance(given, list | tuple) else [given]
        if max_length is not None:
            validators.append(validate.Length(max=max_length, error=f"at most {max_length} characters"))
            kwargs.setdefault("metadata", {}).setdefault("maxLength", max_length)
        super().__init__(validate=validators, **kwargs)
        self.multiline = multiline
        nullable = " or null" if self.allow_none else ""
        self.error_messages.update(
            required=REQUIRED, invalid=f"must be a string{nullable}", null=f"must be a string{nullable}"
        )

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if has_controls(text, multiline=self.multiline):
            raise ValidationError(CONTROL_MESSAGE)
        return text


class Object(fields.Dict):
    """A JSON object whose values the operation checks (its messages name the key)."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), **kwargs)
        self.error_messages.update(required=REQUIRED, invalid="must be an object", null="must be an object")


class TextList(fields.List):
    """An array of strings (each without control characters), at most `max_items` long."""

    def __init__(self, max_items: int = 100, min_items: int = 0, **kwargs):
        message = f"at most {max_items} items"
        super().__init__(
            Text(),
            validate=validate.Length(min=min_items or None, max=max_items, error=message),
            **kwargs,
        )
        self.error_messages.update(
            required=REQUIRED, invalid="must be an array of strings", null="must be an array of strings"
        )


class Part(fields.Nested):
    """A nested object of a request (its own RequestSchema); its fields' messages are named `part.field`."""

    def __init__(self, nested, **kwargs):
        super().__init__(nested, **kwargs)
        self.error_messages.update(required=REQUIRED, null="must be an object", type="must be an object")


class Flag(fields.Boolean):
    """A JSON boolean (a string or number is refused: JSON has true and false)."""

    def __init__(self, **kwargs):
        super().__init__(truthy={True}, falsy={False}, **kwargs)
        self.error_messages.update(required=REQUIRED, invalid="must be true or false")

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):  # 1 == True in Python, not in JSON
            raise self.make_error("invalid")
        return value


def public_id(**kwargs) -> fields.String:
    """A public id in a response."""
    return fields.String(metadata={"description": ID_DESCRIPTION, **kwargs.pop("metadata", {})}, **kwargs)


def timestamp(description: str | None = None) -> fields.String:
    """An RFC 3339 UTC time, or null."""
    extra = {"description": description} if description else {}
    return fields.String(allow_none=True, metadata={"format": "date-time", **extra})


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The shape of every listing: a page of items and the cursor of the next one."""
    return Schema.from_dict(
        {
            "data": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(
                required=True,
                allow_none=True,
                metadata={"description": "Pass as `after` to get the next page; null on the last page."},
            ),
        },
        name=name,
    )


def flatten_errors(messages, where: str = "") -> dict[str, str]:
    """marshmallow's nested messages as {"consent.text": "…"}: one message per field, dotted paths."""
    if isinstance(messages, list):
        texts = [m for m in messages if isinstance(m, str)]
        return {where.rstrip(".") or "body": texts[0] if texts else "is not valid"}
    flat: dict[str, str] = {}
    for key, value in messages.items():
        # "_schema" is the object itself and an int an item of an array: both are named by their parent.
        path = where if key == "_schema" or isinstance(key, int) else f"{where}{key}."
        for name, text in flatten_errors(value, path).items():
            flat.setdefault(name, text)
    return flat
