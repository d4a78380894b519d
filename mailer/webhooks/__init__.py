"""Outgoing webhooks: signed event deliveries (Standard Webhooks) to endpoints staff configure."""
