"""Journeys (automations): a trigger enrols contacts, who go through its steps."""
