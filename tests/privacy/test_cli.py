"""Operators answer requests from the command line; each one lands in the register like any other request."""

import zipfile

from sqlalchemy import select

from mailer.contacts.models.contact import Contact
from mailer.core.extensions import db
from mailer.privacy.models.requests import PrivacyRequest
from tests.support.campaigns import newsletter


def test_erase_asks_for_confirmation_and_is_registered(app_ctx, runner):
    _, (person,) = newsletter(1)
    email = person.email
    aborted = runner.invoke(args=["privacy", "erase", email], input="n\n")
    assert aborted.exit_code == 1
    db.session.expire_all()
    assert db.session.get(Contact, person.id).status == "active"
    done = runner.invoke(args=["privacy", "erase", email], input="y\n")
    assert done.exit_code == 0 and "recorded in the register" in done.output
    db.session.expire_all()
    assert db.session.get(Contact, person.id).status == "erased"
    req = db.session.execute(select(PrivacyRequest)).scalar_one()
    assert (req.type, req.channel, req.status, req.verification_method) == (
        "erasure",
        "cli",
        "completed",
        "operator (CLI)",
    )
    again = runner.invoke(args=["privacy", "erase", email, "--yes"])
    assert again.exit_code == 1 and "no personal data is held" in again.output


def test_export_writes_a_zip_and_unknown_addresses_get_a_clear_answer(app_ctx, runner, tmp_path):
    _, (person,) = newsletter(1)
    out = tmp_path / "export.zip"
    result = runner.invoke(args=["privacy", "export", person.email, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "data.json" in zipfile.ZipFile(out).namelist()
    assert db.session.execute(select(PrivacyRequest.type, PrivacyRequest.channel)).one() == ("access", "cli")
    unknown = runner.invoke(args=["privacy", "export", "nobody@example.com", "--out", str(out)])
    assert unknown.exit_code == 1 and "no personal data is held" in unknown.output
    bad = runner.invoke(args=["privacy", "restrict", "not an address"])
    assert bad.exit_code == 1 and "email address" in bad.output
