"""Named SMTP relays: list, add, change, remove. Owners and admins only; passwords are never shown back."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import BooleanField, FloatField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import Length, Optional

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import ActionForm
from mailer.campaigns.relays import remove_relay
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.delivery import relays as relay_service
from mailer.feeds.models import Feed, FeedStatus
from mailer.journeys.models import Journey, JourneyStatus

_LINE = [Length(max=1000, message=lazy_gettext("This is far too long."))]


class RelayForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=_LINE, render_kw={"autocomplete": "off"})
    host = StringField(lazy_gettext("Host"), validators=_LINE, render_kw={"autocomplete": "off"})
    port = IntegerField(lazy_gettext("Port"), validators=[Optional()], render_kw={"inputmode": "numeric"})
    tls_mode = SelectField(
        lazy_gettext("Connection security"), choices=list(relay_service.TLS_LABELS.items())
    )
    verify_tls = BooleanField(lazy_gettext("Verify the relay's certificate"), default=True)
    username = StringField(
        lazy_gettext("User name (empty: no login)"), validators=_LINE, render_kw={"autocomplete": "off"}
    )
    password = PasswordField(
        lazy_gettext("Password"), validators=_LINE, render_kw={"autocomplete": "new-password"}
    )
    clear_password = BooleanField(lazy_gettext("Remove the stored password"))
    rate_per_second = FloatField(
        lazy_gettext("Own rate limit (messages per second, 0: only the global limit)"),
        validators=[Optional()],
        default=0,
    )

    def to_fields(self) -> relay_service.RelayFields:
        return relay_service.RelayFields(
            name=self.name.data or "",
            host=self.host.data or "",
            port=self.port.data,
            tls_mode=self.tls_mode.data or "",
            verify_tls=bool(self.verify_tls.data),
            username=self.username.data or "",
            password=self.password.data or "",
            clear_password=bool(self.clear_password.data),
            rate_per_second=self.rate_per_second.data if self.rate_per_second.raw_data else 0.0,
        )


def _relay_or_404(name: str) -> relay_service.Relay:
    relay = relay_service.relay_by_name(name)
    if relay is None:
        abort(404)
    return relay


@bp.get("/relays")
def relays():
    """Every named relay beside the default one of SMTP_URL."""
    return render_template(
        "admin/relays/index.html",
        relays=relay_service.all_relays(),
        tls_labels=relay_service.TLS_LABELS,
        action_form=ActionForm(),
    )


def _edit(relay: relay_service.Relay | None):
    form = RelayForm(obj=relay) if relay is not None and request.method == "GET" else RelayForm()
    if request.method == "GET" and relay is None:
        form.port.data = 587
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                saved = relay_service.save_relay(
                    relay, form.to_fields(), actor=current_user, ip=request.remote_addr
                )
            except relay_service.RelayError as exc:
                db.session.rollback()
                for key, message in exc.errors.items():
                    target = getattr(form, key)
                    target.errors = [*target.errors, message]
            else:
                db.session.commit()
                flash(gettext("Relay “%(name)s” saved.", name=saved.name), "success")
                return redirect(url_for("admin.relays"))
        status = 400
    form.password.data = ""  # never sent back, not even what was just typed
    return render_template("admin/relays/edit.html", form=form, relay=relay), status


@bp.route("/relays/new", methods=["GET", "POST"])
def relay_new():
    """Add a named relay."""
    return _edit(None)


@bp.route("/relays/<name>/edit", methods=["GET", "POST"])
def relay_edit(name: str):
    """Change a relay; an empty password keeps the stored one."""
    return _edit(_relay_or_404(name))


@bp.post("/relays/<name>/delete")
def relay_delete(name: str):
    """Remove a relay no scheduled, sending or paused campaign uses."""
    relay = _relay_or_404(name)
    if not ActionForm().validate_on_submit():
        abort(400)
    automations = _active_automations_through(relay)
    if automations:
        flash(
            gettext(
                "Relay “%(name)s” is chosen by automations that are running: %(names)s. Pause them or choose "
                "another relay for them first.",
                name=name,
                names=", ".join(automations[:5]) + (" …" if len(automations) > 5 else ""),
            ),
            "danger",
        )
        return redirect(url_for("admin.relays"))
    try:
        remove_relay(relay, actor=current_user, ip=request.remote_addr)
    except relay_service.RelayError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return redirect(url_for("admin.relays"))
    db.session.commit()
    flash(
        gettext(
            "Relay “%(name)s” removed. Campaigns that had chosen it send through the default relay.",
            name=name,
        ),
        "success",
    )
    return redirect(url_for("admin.relays"))


def _active_automations_through(relay: relay_service.Relay) -> list[str]:
    """Active RSS feeds and journeys that send through the relay (or fall back to it): removing it would
    silently move their next mail to the default relay, so they are paused or changed first."""
    names: list[str] = []
    for model, active in ((Feed, FeedStatus.ACTIVE), (Journey, JourneyStatus.ACTIVE)):
        chosen = or_(model.relay_id == relay.id, model.failover_relay_id == relay.id)
        query = select(model.name).where(chosen, model.status == active).order_by(model.name)
        names.extend(db.session.execute(query).scalars())
    return names
