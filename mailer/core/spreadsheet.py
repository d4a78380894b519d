"""CSV files the product writes: a cell a spreadsheet would
run as a formula is written as plain text (OWASP)."""

import csv
import io
from collections.abc import Iterable

# A spreadsheet evaluates a cell starting with one of these as a formula (=HYPERLINK(...), +cmd|..., @SUM, and
# a leading tab or carriage return that it strips before looking again).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """The value as a spreadsheet will show it but never run
    it: text starting like a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: list[str], rows: Iterable[Iterable]) -> str:
    """A whole CSV document (header line, then rows) with every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()


def dict_csv_text(rows: list[dict], columns: list[str]) -> str:
    """A CSV document of dictionaries, one column per key in `columns` (missing keys are empty cells)."""
    return csv_text(columns, ([row.get(column, "") for column in columns] for row in rows))
