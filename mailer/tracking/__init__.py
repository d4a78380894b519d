"""Tracking: consent-gated opens and clicks, and anonymous per-campaign counters."""
