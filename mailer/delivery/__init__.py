"""Delivery: the sending engine, message composition, DKIM, the SMTP transport and the local outbox."""
