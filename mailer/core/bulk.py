"""Many rows in one short statement on PostgreSQL: INSERT ... SELECT * FROM unnest(one array per column).

A multi-row VALUES list of thousands of rows is a statement of tens of thousands of placeholders that the
driver parses anew every time (psycopg's query splitting took most of a batched import's time); one array per
column keeps the statement a few hundred characters and sends the values in bulk.
"""

import json
from typing import Any

from sqlalchemy import Table
from sqlalchemy.types import JSON


def insert_unnest(connection, table: Table, rows: list[dict[str, Any]], suffix: str = "") -> None:
    """Insert rows (dicts with the same keys, every column the table needs) in one statement; `suffix` is an
    ON CONFLICT clause, say. PostgreSQL only."""
    if not rows:
        return
    names = list(rows[0])
    casts, arrays = [], []
    for name in names:
        column = table.c[name]
        values = [row[name] for row in rows]
        if isinstance(column.type, JSON):
            casts.append("%s::text[]")
            arrays.append([None if value is None else json.dumps(value) for value in values])
        else:
            casts.append(f"%s::{column.type.compile(dialect=connection.dialect)}[]")
            arrays.append(values)
    selected = ", ".join(f"{name}::json" if isinstance(table.c[name].type, JSON) else name for name in names)
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {selected} FROM unnest({', '.join(casts)}) "
        f"AS given ({', '.join(names)}) {suffix}",
        tuple(arrays),
    )
