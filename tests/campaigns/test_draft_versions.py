"""Kept versions of a draft: every save that changes something keeps what it replaced (the newest 20),
undo brings the last one back (and is itself undoable), and a save that changes nothing keeps nothing."""

from dataclasses import replace

from sqlalchemy import func, select

from mailer.campaigns import drafts, versions
from mailer.campaigns.models import DraftVersion
from mailer.core.extensions import db
from tests.support.campaigns import newsletter


def _fields(campaign, **changes):
    return replace(drafts.draft_from_campaign(campaign), **changes)


def test_save_undo_and_restore(app_ctx):
    campaign, _ = newsletter(1, from_email="news@example.com")
    first = campaign.subject
    versions.save(campaign, _fields(campaign, subject="Second"))
    versions.save(campaign, _fields(campaign, subject="Third"), autosave=True)
    versions.save(campaign, _fields(campaign))  # nothing changed: nothing kept
    db.session.commit()
    kept = versions.versions(campaign)
    assert [v.fields["subject"] for v in kept] == ["Second", first]
    assert [v.autosave for v in kept] == [True, False]

    versions.undo_last_save(campaign)
    db.session.commit()
    assert campaign.subject == "Second"
    assert versions.versions(campaign)[0].fields["subject"] == "Third"  # the undo can be undone
    versions.restore(campaign, kept[-1])
    db.session.commit()
    assert campaign.subject == first


def test_only_the_newest_versions_are_kept_and_deleting_the_draft_removes_them(app_ctx):
    campaign, _ = newsletter(1, from_email="news@example.com")
    for n in range(versions.KEEP_VERSIONS + 5):
        versions.save(campaign, _fields(campaign, subject=f"Subject {n}"), autosave=True)
    db.session.commit()
    kept = versions.versions(campaign)
    assert (
        len(kept) == versions.KEEP_VERSIONS
        and kept[0].fields["subject"] == f"Subject {versions.KEEP_VERSIONS + 3}"
    )
    drafts.delete_draft(campaign)
    db.session.commit()
    assert db.session.execute(select(func.count(DraftVersion.id))).scalar_one() == 0
