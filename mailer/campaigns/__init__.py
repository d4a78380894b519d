"""Campaigns: drafts, layouts and rendering, who may receive them, and their lifecycle."""
