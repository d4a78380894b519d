"""Segments: saved condition trees over contacts, compiled to one SQL select (count, preview, send)."""
