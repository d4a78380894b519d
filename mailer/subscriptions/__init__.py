"""Subscriptions: lists, sign-up forms, double opt-in, the preference centre and unsubscribing."""
