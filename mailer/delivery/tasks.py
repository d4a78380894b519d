"""The sending engine has no actors of its own: the domains that send through it (campaigns) own them and hand
the engine their recipient store (mailer.campaigns.tasks)."""
