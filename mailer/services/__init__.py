"""Business rules, one module per domain. Services never touch the request."""
