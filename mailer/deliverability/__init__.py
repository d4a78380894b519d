"""Deliverability: bounces, complaints, inbound reports and the readiness of sending domains."""
