"""Models of the subscriptions domain."""
