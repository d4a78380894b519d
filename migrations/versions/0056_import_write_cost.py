"""import write cost: four redundant indexes and consent_states' foreign keys go

Revision ID: 0056
Revises: 0055

Every imported contact writes a subscription, a ledger event and a consent state; each index and foreign key
on those tables is work per row. Four single-column indexes repeat the leading column of a composite index
on the same table, which serves every query they served (and a foreign key's referencing-side lookups):
ix_subscriptions_contact_id by uq_subscriptions_contact_list (contact_id, list_id),
ix_subscriptions_list_id by ix_subscriptions_list_newest (list_id, id),
ix_consent_events_contact_id by ix_consent_events_contact_purpose (contact_id, purpose_id, id),
ix_consent_events_purpose_id by ix_consent_events_purpose_created (purpose_id, created_at, action).
consent_states is a cache derived from the ledger (rebuild_states remakes it): each row names the ledger
event that decided it, whose own foreign keys already hold its contact and purpose, and ledger events are
never deleted; its three foreign-key checks were ~60 us of its ~70 us a row on a loaded machine.
Indexes are dropped CONCURRENTLY on PostgreSQL, so a live install keeps taking sign-ups.
"""

from alembic import op

revision = "0056"
down_revision = "0055"
branch_labels = None
depends_on = None

REDUNDANT = (
    ("ix_subscriptions_contact_id", "subscriptions", "contact_id"),
    ("ix_subscriptions_list_id", "subscriptions", "list_id"),
    ("ix_consent_events_contact_id", "consent_events", "contact_id"),
    ("ix_consent_events_purpose_id", "consent_events", "purpose_id"),
)
STATE_KEYS = (
    ("fk_consent_states_contact_id_contacts", "contacts", "contact_id"),
    ("fk_consent_states_purpose_id_purposes", "purposes", "purpose_id"),
    ("fk_consent_states_event_id_consent_events", "consent_events", "event_id"),
)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name, _, _ in REDUNDANT:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    else:
        for name, table, _ in REDUNDANT:
            op.drop_index(name, table_name=table)
    with op.batch_alter_table("consent_states", schema=None) as batch_op:
        for name, _, _ in STATE_KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade():
    with op.batch_alter_table("consent_states", schema=None) as batch_op:
        for name, table, column in STATE_KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"])
    for name, table, column in REDUNDANT:
        op.create_index(name, table, [column], unique=False)
