"""The explicit-consent purpose a sensitive contact field is collected under (Art. 9(2)(a))."""

from mailer.consent.models import Purpose


def sensitive_field_purpose(key: str, label: str) -> Purpose:
    """A new, unsaved purpose for storing one sensitive field; the field's definition saves it."""
    return Purpose(
        key=f"field:{key}",
        name=f"Storing your {label.lower()}",
        kind="other",
        legal_basis="explicit_consent",
        description=f"We keep your {label.lower()} only because you explicitly agreed to it; "
        "it is encrypted and only a few authorised staff can see it.",
    )
