"""journeys: automations with steps, step campaigns, enrolments and their events

Revision ID: 0037
Revises: 0036
"""

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "journeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("trigger_tag_id", sa.Integer(), nullable=True),
        sa.Column("reentry", sa.Boolean(), nullable=False),
        sa.Column("include_existing", sa.Boolean(), nullable=False),
        sa.Column("existing_enrolled", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("layout_id", sa.Integer(), nullable=True),
        sa.Column("track_clicks", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["layout_id"], ["layouts.id"], name=op.f("fk_journeys_layout_id_layouts")),
        sa.ForeignKeyConstraint(
            ["list_id"], ["mailing_lists.id"], name=op.f("fk_journeys_list_id_mailing_lists")
        ),
        sa.ForeignKeyConstraint(
            ["trigger_tag_id"], ["tags.id"], name=op.f("fk_journeys_trigger_tag_id_tags"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journeys")),
        sa.UniqueConstraint("public_id", name=op.f("uq_journeys_public_id")),
    )
    op.create_index(op.f("ix_journeys_status"), "journeys", ["status"])
    op.create_table(
        "journey_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("preheader", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_format", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_steps_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_steps")),
    )
    op.create_index(op.f("ix_journey_steps_journey_id"), "journey_steps", ["journey_id"])
    op.create_table(
        "journey_step_campaigns",
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_journey_step_campaigns_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["journey_steps.id"],
            name=op.f("fk_journey_step_campaigns_step_id_journey_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("step_id", "round", name=op.f("pk_journey_step_campaigns")),
        sa.UniqueConstraint("campaign_id", name=op.f("uq_journey_step_campaigns_campaign_id")),
    )
    op.create_table(
        "journey_enrolments",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("exit_reason", sa.String(length=40), nullable=False),
        sa.Column("exit_step_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_journey_enrolments_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["exit_step_id"],
            ["journey_steps.id"],
            name=op.f("fk_journey_enrolments_exit_step_id_journey_steps"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_enrolments_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["journey_steps.id"],
            name=op.f("fk_journey_enrolments_step_id_journey_steps"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_enrolments")),
        sa.UniqueConstraint("journey_id", "contact_id", "round", name="uq_journey_enrolments_round"),
    )
    op.create_index("ix_journey_enrolments_due", "journey_enrolments", ["state", "due_at"])
    op.create_index(op.f("ix_journey_enrolments_journey_id"), "journey_enrolments", ["journey_id"])
    op.create_index(op.f("ix_journey_enrolments_contact_id"), "journey_enrolments", ["contact_id"])
    op.create_table(
        "journey_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("enrolment_id", BIG_ID, nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["journey_enrolments.id"],
            name=op.f("fk_journey_events_enrolment_id_journey_enrolments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["journey_steps.id"],
            name=op.f("fk_journey_events_step_id_journey_steps"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_events")),
    )
    op.create_index(op.f("ix_journey_events_enrolment_id"), "journey_events", ["enrolment_id"])
    op.create_index("ix_journey_events_step_kind", "journey_events", ["step_id", "kind"])


def downgrade():
    op.drop_table("journey_events")
    op.drop_table("journey_enrolments")
    op.drop_table("journey_step_campaigns")
    op.drop_table("journey_steps")
    op.drop_index(op.f("ix_journeys_status"), table_name="journeys")
    op.drop_table("journeys")
