"""Work that waits for the session's real commit: messages to workers, lines appended to a file.

SQLAlchemy calls `after_commit` also when a savepoint (`begin_nested`) is released, and
`after_soft_rollback` also when only a savepoint is rolled back. Work deferred here runs at the outermost
commit only, and is dropped with the savepoint it was deferred in (or a savepoint inside it) when that
savepoint rolls back, so nothing is sent or written for rows that never existed.
"""

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

_KEYS: set[str] = set()


def defer(session: Session | scoped_session, key: str, item: Any) -> None:
    """Keep `item` under `key` until the outermost commit (see `committed`) or a rollback that undoes it."""
    _KEYS.add(key)
    real = session() if isinstance(session, scoped_session) else session
    transaction = real.get_nested_transaction() or real.get_transaction()
    real.info.setdefault(key, []).append((item, transaction))


def committed(session: Session, key: str) -> list[Any]:
    """For an `after_commit` listener: the items deferred under `key`, once the outermost transaction has
    committed (they are handed over once); nothing while only a savepoint was released."""
    if session.in_nested_transaction():
        return []
    return [item for item, _transaction in session.info.pop(key, None) or ()]


@event.listens_for(Session, "after_soft_rollback")
def _drop_undone(session: Session, previous_transaction: SessionTransaction) -> None:
    for key in _KEYS:
        pending = session.info.get(key)
        if not pending:
            continue
        if previous_transaction.parent is None:
            session.info.pop(key, None)
        else:
            pending[:] = [entry for entry in pending if not _within(entry[1], previous_transaction)]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
