"""Bulk actions over contacts: a job per action over a frozen selection, processed by a worker in batches."""
