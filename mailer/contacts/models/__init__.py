"""Models of the contacts domain."""
