"""Errors every domain raises for a refused action, with a message a person understands."""


class PrivacyError(ValueError):
    """A privacy action cannot be done; the message says why, in words a person understands."""
