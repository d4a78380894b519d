"""Opaque public identifiers: what URLs and tokens carry instead of row ids or addresses."""

import secrets


def new_public_id() -> str:
    """A random, URL-safe, unguessable identifier (128 bits)."""
    return secrets.token_urlsafe(16)
