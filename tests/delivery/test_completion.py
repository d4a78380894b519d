"""Whether a campaign is done is read from its counter, never its deliveries: the same cost at any size."""

import re

from sqlalchemy import event

from mailer.campaigns import sending
from mailer.core.extensions import db
from mailer.delivery.recovery import finish_done_campaigns
from tests.support.campaigns import newsletter
from tests.support.engine_steps import fresh, open_count_is_exact, start_and_plan

READS_DELIVERIES = re.compile(r"\bdeliveries\b")  # the table, not the campaign's open_deliveries column


def _statements_of(work) -> list[str]:
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.lower())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_the_done_check_never_reads_deliveries(app, app_ctx, smtp_server):
    campaign, _ = newsletter(3)
    batch = start_and_plan(campaign)
    assert fresh(campaign).open_deliveries == 3 and open_count_is_exact(campaign)

    statements = _statements_of(lambda: sending.finish_if_done(campaign.id))
    assert statements and not any(READS_DELIVERIES.search(s) for s in statements)
    assert fresh(campaign).status == "sending"  # three still open

    sending.send_batch(campaign.id, batch)
    assert fresh(campaign).status == "sent" and fresh(campaign).open_deliveries == 0
    statements = _statements_of(lambda: finish_done_campaigns(sending.STORE))
    assert not any(READS_DELIVERIES.search(s) for s in statements)
