"""Earlier versions of a draft: each save keeps the fields it replaced (the newest KEEP_VERSIONS), so a
marketer can undo the last save or bring back any kept version; restoring is itself a save, so it can be
undone too."""

from dataclasses import asdict

from sqlalchemy import delete, select

from mailer.campaigns import drafts
from mailer.campaigns.models import Campaign, DraftVersion
from mailer.core.extensions import db

KEEP_VERSIONS = 20


def _keep(campaign: Campaign, fields: dict, by_id: int | None, autosave: bool) -> None:
    """Keep `fields` (what a save replaced) as the newest version, and only the newest KEEP_VERSIONS."""
    db.session.add(DraftVersion(campaign_id=campaign.id, saved_by_id=by_id, autosave=autosave, fields=fields))
    db.session.flush()
    kept = select(DraftVersion.id).where(DraftVersion.campaign_id == campaign.id)
    kept = kept.order_by(DraftVersion.id.desc()).limit(KEEP_VERSIONS)
    db.session.execute(
        delete(DraftVersion).where(
            DraftVersion.campaign_id == campaign.id, DraftVersion.id.not_in(kept.scalar_subquery())
        )
    )


def save(campaign: Campaign, fields: drafts.DraftFields, by_id: int | None = None, autosave: bool = False):
    """Save the editor's fields over a draft, keeping what they replace. Raises DraftError like update_draft
    (the caller rolls back, and the kept version with it); the caller commits."""
    return _replace(campaign, fields, by_id, autosave)


def _replace(campaign: Campaign, fields: drafts.DraftFields, by_id: int | None, autosave: bool) -> Campaign:
    before = asdict(drafts.draft_from_campaign(campaign))
    drafts.update_draft(campaign, fields)
    if asdict(drafts.draft_from_campaign(campaign)) != before:  # a save that changed nothing keeps nothing
        _keep(campaign, before, by_id, autosave)
    return campaign


def versions(campaign: Campaign, limit: int = KEEP_VERSIONS) -> list[DraftVersion]:
    """The kept versions, newest first."""
    query = select(DraftVersion).where(DraftVersion.campaign_id == campaign.id)
    return list(db.session.execute(query.order_by(DraftVersion.id.desc()).limit(limit)).scalars())


def restore(campaign: Campaign, version: DraftVersion, by_id: int | None = None) -> Campaign:
    """Bring back a kept version (lists or a layout deleted since are left out); what it replaces is kept in
    turn. Raises DraftError if the version no longer passes today's checks; the caller commits."""
    if version.campaign_id != campaign.id:
        raise drafts.DraftError({"version": "That version belongs to another campaign."})
    fields = drafts.DraftFields(**version.fields)
    fields.send_at = ""  # a planned time from the past would be refused; the marketer sets a new one
    return _replace(campaign, fields, by_id, autosave=False)


def undo_last_save(campaign: Campaign, by_id: int | None = None) -> Campaign:
    """Restore the newest kept version."""
    newest = versions(campaign, limit=1)
    if not newest:
        raise drafts.DraftError({"version": "There is no earlier version to go back to."})
    return restore(campaign, newest[0], by_id)
