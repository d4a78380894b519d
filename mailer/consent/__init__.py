"""Consent: purposes, versioned notices and the append-only, hash-chained ledger (its only writer)."""
