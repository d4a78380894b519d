"""The registry of per-domain erasure and retention hooks, one per app, filled explicitly at app creation.

Erasure calls every erasure hook with the contact being erased; each domain removes the person from its own
tables. Retention calls every hook of a data category with the category's lifetime; each domain removes what
has outlived it and says how much.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import Flask, current_app

from mailer.contacts.personal_data import ErasedContact

EXTENSION = "mailer.privacy_hooks"

ErasureHook = Callable[[ErasedContact], None]


@dataclass(frozen=True)
class RetentionOutcome:
    """How many records of a category went (or would go), and anything the report should add."""

    count: int
    detail: str = ""


# (lifetime in days, dry run) -> what went or would go.
RetentionHook = Callable[[int, bool], RetentionOutcome]


@dataclass
class PrivacyHooks:
    """The erasure hooks by name, the tables they take care of, and the retention hooks by category."""

    erasure: dict[str, ErasureHook] = field(default_factory=dict)
    handled_tables: set[str] = field(default_factory=set)
    retention: dict[str, list[RetentionHook]] = field(default_factory=dict)

    def on_erasure(self, name: str, hook: ErasureHook, tables: Iterable[str] = ()) -> None:
        """Run `hook` on every erasure; `tables` are those it cleans (the safety net leaves them alone)."""
        self.erasure[name] = hook
        self.handled_tables.update(tables)

    def on_retention(self, category: str, hook: RetentionHook) -> None:
        """Run `hook` with the category's lifetime on every retention run (and its dry run)."""
        self.retention.setdefault(category, []).append(hook)


def hooks_of(app: Flask) -> PrivacyHooks:
    """The app's hooks, created empty on first use."""
    hooks = app.extensions.get(EXTENSION)
    if hooks is None:
        hooks = app.extensions[EXTENSION] = PrivacyHooks()
    return hooks


def current_hooks() -> PrivacyHooks:
    """The hooks of the app handling the current request or job."""
    return hooks_of(current_app)
