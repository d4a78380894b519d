"""Models of the staff domain."""
