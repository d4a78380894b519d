"""Transactional mail (issue 15): stored templates sent to one contact or address through the API, never
marketing: no footer, no one-click headers, no tracking; refused for restricted or erased contacts and
suppressed addresses; each message sent once by a worker, however often an integration retries."""
