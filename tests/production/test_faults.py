"""Campaign sending in a production deployment survives every fault of bench/faults.py (at a small N)."""

import pytest

from bench import faults

N = 400


@pytest.mark.slow
@pytest.mark.production
def test_every_fault_loses_nothing_duplicates_nothing_and_finishes_by_itself(capsys):
    """Each fault during a send of N: 0 missing, duplicates only among uncertain, uncertain within the bound,
    campaign "sent" without anyone's help (the same code and goal as `bench/faults.py`)."""
    rows = faults.run_suite(N, faults.CI)
    report = faults.table(rows) + "\n\n" + "\n".join(faults.describe(row) for row in rows)
    with capsys.disabled():
        print("\n" + report)
    assert [row.fault for row in rows] == [fault.name for fault in faults.FAULTS]
    assert all(row.expected == N for row in rows), report
    missed = {row.fault: row.problems() for row in rows if row.problems()}
    assert not missed, f"faults missing the goal: {missed}\n{report}"
