"""Models of the privacy domain."""
