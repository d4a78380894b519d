"""Analytics: honest, aggregate statistics per campaign and per list (read-only)."""
