"""Everything that leaves the building: dramatiq actors, message building and the SMTP transport."""
