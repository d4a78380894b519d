"""Data-subject rights, sensitive data, retention and accountability (GDPR Art. 5-23, 30, 32).

One module per concern: requests (register and deadlines), export, erasure, restriction, objection,
rectification, fields (encrypted sensitive values), notice, retention, audit and ropa (Art. 30 record).
"""


class PrivacyError(ValueError):
    """A privacy action cannot be done; the message says why, in words a person understands."""
