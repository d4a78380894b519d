"""indexes for the audience's pages at a million contacts: consent events by contact and purpose, by action
and time, by purpose and time, and (PostgreSQL) by the campaign an unsubscribe came through

Revision ID: 0032
Revises: 0031

ix_consent_events_contact_purpose replaces the probe of ix_consent_events_contact_id plus a filter in
campaign stats' consent-when-sent; ix_consent_events_action_created serves the dashboard's sign-ups and
confirmations of the week; ix_consent_events_purpose_created a list's growth per day (index-only).
ix_consent_events_campaign, an expression index on (details ->> 'campaign'), finds who left through one
campaign's links without reading every event's JSON (on SQLite too, where the query's JSON path is a bound
parameter that no index matches). Built CONCURRENTLY on PostgreSQL so a live ledger keeps taking
events.
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_consent_events_contact_purpose": ["contact_id", "purpose_id", "id"],
    "ix_consent_events_action_created": ["action", "created_at"],
    "ix_consent_events_purpose_created": ["purpose_id", "created_at", "action"],
}
CAMPAIGN = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_consent_events_campaign ON consent_events "
    "((details ->> 'campaign')) WHERE (details ->> 'campaign') IS NOT NULL"
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        for name, columns in INDEXES.items():
            op.create_index(name, "consent_events", columns)
        op.execute(CAMPAIGN.replace(" CONCURRENTLY", ""))
        return
    with op.get_context().autocommit_block():
        for name, columns in INDEXES.items():
            op.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON consent_events ({', '.join(columns)})"
            )
        op.execute(CAMPAIGN)


def downgrade():
    op.execute("DROP INDEX IF EXISTS ix_consent_events_campaign")
    for name in INDEXES:
        op.drop_index(name, table_name="consent_events")
