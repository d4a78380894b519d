"""Privacy: data-subject rights, requests and their clock, erasure, retention, audit, the privacy notice."""
