"""Many rows in one go on PostgreSQL: COPY, straight into a table or through a temporary twin of it.

A multi-row VALUES list of thousands of rows is a statement of tens of thousands of placeholders that the
driver parses anew every time, and one array parameter per column (INSERT ... SELECT FROM unnest) spends most
of its time in the driver's pure-Python array quoting (measured: ~60 % of a batched import). COPY sends the
rows in the server's own text format, formatted by the driver's C code: rows that cannot conflict go straight
into their table (`copy_rows`); rows that need an ON CONFLICT clause go into a temporary table with the same
columns (created once per connection, emptied at every commit) and from there in one INSERT ... SELECT
(`insert_rows`).
"""

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.types import JSON


def _cells(table: Table, names: list[str], rows: Iterable[dict[str, Any]]) -> Iterable[list[Any]]:
    """Each row's values in `names` order, JSON columns as JSON text (COPY takes text)."""
    json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
    if not json_columns:
        yield from ([row[name] for name in names] for row in rows)
        return
    written: dict[int, tuple[Any, str]] = {}  # id(value) -> (value, its JSON): a batch's rows share one
    for row in rows:
        cells = [row[name] for name in names]
        for position, name in enumerate(names):
            value = cells[position]
            if name in json_columns and value is not None:
                known = written.get(id(value))
                if known is None or known[0] is not value:
                    known = written[id(value)] = (value, json.dumps(value))
                cells[position] = known[1]
        yield cells


def _copy(connection, target: str, names: list[str], cells: Iterable[list[Any]]) -> None:
    """COPY target (names) FROM STDIN, in the connection's transaction."""
    driver = connection.connection.driver_connection  # psycopg 3, in the transaction SQLAlchemy began
    with driver.cursor() as cursor, cursor.copy(f"COPY {target} ({', '.join(names)}) FROM STDIN") as copy:
        for cell in cells:
            copy.write_row(cell)


def copy_rows(connection, table: Table, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """COPY rows (dicts with the same keys; only `columns` of them when given) into `table`; for rows that
    cannot conflict with existing ones. PostgreSQL only."""
    if rows:
        names = columns or list(rows[0])
        _copy(connection, table.name, names, _cells(table, names, rows))


def insert_rows(connection, table: Table, rows: list[dict[str, Any]], suffix: str = "") -> None:
    """INSERT rows (dicts with the same keys, every column the table needs) in one statement, with `suffix`
    (an ON CONFLICT clause, say): COPY into a temporary twin, then INSERT ... SELECT. PostgreSQL only."""
    if not rows:
        return
    names = list(rows[0])
    columns = ", ".join(names)
    twin = f"staged_{table.name}_{hashlib.sha256(columns.encode()).hexdigest()[:8]}"
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {twin} ON COMMIT DELETE ROWS AS "
        f"SELECT {columns} FROM {table.name} WITH NO DATA"
    )
    _copy(connection, twin, names, _cells(table, names, rows))
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {twin} {suffix}")
    connection.exec_driver_sql(f"DELETE FROM {twin}")  # a second call in this transaction starts empty
