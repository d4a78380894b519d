"""Who sends: the organisation's name, postal address, sender and reply-to (admin settings;
the environment overrides)."""
