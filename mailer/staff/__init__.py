"""Staff: accounts, passwords, second factors, sessions, lockout and API keys."""
