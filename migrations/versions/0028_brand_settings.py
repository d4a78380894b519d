"""brand settings: colour, text colour, font, logo and footer text of the organisation

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

COLUMNS = (
    ("brand_colour", sa.String(length=7)),
    ("brand_text_colour", sa.String(length=7)),
    ("brand_font", sa.String(length=20)),
    ("brand_logo_url", sa.String(length=500)),
    ("brand_footer_text", sa.Text()),
)


def upgrade():
    with op.batch_alter_table("organisation_settings", schema=None) as batch_op:
        for name, kind in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("organisation_settings", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
