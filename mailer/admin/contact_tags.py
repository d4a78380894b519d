"""Tags on a contact: add one (new tags are created as typed) and remove one; both audited."""

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from mailer.admin.blueprint import bp
from mailer.admin.forms import TagForm
from mailer.admin.privacy_forms import ActionForm
from mailer.contacts import tags
from mailer.contacts.models.contact import Contact
from mailer.contacts.models.tags import Tag
from mailer.core.extensions import db
from mailer.core.sentences import shown


def _contact(public_id: str) -> Contact:
    return db.one_or_404(select(Contact).where(Contact.public_id == public_id))


@bp.post("/contacts/<public_id>/tags")
def contact_tag_add(public_id: str):
    """Put a tag on the contact."""
    contact = _contact(public_id)
    form = TagForm()
    if not form.validate_on_submit():
        abort(
            400, gettext("The form expired or the tag is too long (60 characters at most). Please try again.")
        )
    try:
        tag = tags.add_tag(contact, form.tag.data, current_user, ip=request.remote_addr)
    except tags.TagError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
    else:
        db.session.commit()
        flash(gettext("Tagged “%(tag)s”.", tag=tag.name), "success")
    return redirect(url_for("admin.contact_show", public_id=contact.public_id) + "#tags")


@bp.post("/contacts/<public_id>/tags/<int:tag_id>/remove")
def contact_tag_remove(public_id: str, tag_id: int):
    """Take a tag off the contact."""
    contact = _contact(public_id)
    if not ActionForm().validate_on_submit():
        abort(400, gettext("The form expired. Please try again."))
    tag = db.get_or_404(Tag, tag_id)
    if tags.remove_tag(contact, tag, current_user, ip=request.remote_addr):
        db.session.commit()
        flash(gettext("Removed the tag “%(tag)s”.", tag=tag.name), "success")
    return redirect(url_for("admin.contact_show", public_id=contact.public_id) + "#tags")
