"""Core: the database and extensions, configuration helpers,
tokens and keys, time, URLs, the broker, web helpers.

Core imports no domain and no door."""
