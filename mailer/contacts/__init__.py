"""Contacts: the people who receive mail, their custom fields
(sensitive ones encrypted), imports, suppression."""
