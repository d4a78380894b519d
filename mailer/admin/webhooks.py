"""Outgoing webhooks: endpoints with their health, add/change, the delivery log, rotate, test, re-send.

Owners and admins only (the pages show signing secrets). Each view parses, calls one operation, renders.
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length

from mailer.admin.blueprint import bp
from mailer.admin.campaign_forms import ActionForm
from mailer.admin.forms import MultiCheckboxField
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.webhooks import alerts, operations, queries, signing
from mailer.webhooks.catalogue import EVENT_TYPES
from mailer.webhooks.models import DeliveryStatus, WebhookEndpoint

_LINE = [Length(max=2048, message=lazy_gettext("This is far too long."))]
# How the pages call an endpoint's health and a delivery's status (the stored codes stay English).
HEALTH_NAMES = {
    "healthy": lazy_gettext("healthy"),
    "degraded": lazy_gettext("degraded"),
    "failing": lazy_gettext("failing"),
    "no traffic": lazy_gettext("no traffic"),
}
DELIVERY_STATUS_NAMES = {
    "pending": lazy_gettext("pending"),
    "sending": lazy_gettext("sending"),
    "succeeded": lazy_gettext("succeeded"),
    "failed": lazy_gettext("failed"),
}


def health_name(label: str) -> str:
    """An endpoint's health in the page's language."""
    return str(HEALTH_NAMES.get(label, label))


def delivery_status_name(status: str) -> str:
    """A webhook delivery's status in the page's language."""
    return str(DELIVERY_STATUS_NAMES.get(status, status))


class EndpointForm(FlaskForm):
    url = StringField(
        lazy_gettext("Endpoint URL"),
        validators=_LINE,
        render_kw={"autocomplete": "off", "inputmode": "url", "type": "url"},
    )
    description = StringField(
        lazy_gettext("Description"), validators=[Length(max=500, message=lazy_gettext("Keep it under 500."))]
    )
    events = MultiCheckboxField(lazy_gettext("Events to send"), choices=list(EVENT_TYPES.items()))
    recipient = SelectField(lazy_gettext("Declared as a processor"), choices=[], default="")
    active = BooleanField(lazy_gettext("Active: send events to this endpoint"), default=True)

    def to_fields(self) -> operations.EndpointFields:
        return operations.EndpointFields(
            url=self.url.data or "",
            description=self.description.data or "",
            events=list(self.events.data or []),
            active=bool(self.active.data),
            recipient=self.recipient.data or "",
        )


def _endpoint_or_404(public_id: str) -> WebhookEndpoint:
    endpoint = queries.endpoint_by_public_id(public_id)
    if endpoint is None:
        abort(404)
    return endpoint


def _form(endpoint: WebhookEndpoint | None) -> EndpointForm:
    form = EndpointForm()
    if request.method == "GET" and endpoint is not None:
        form.url.data, form.description.data = endpoint.url, endpoint.description
        form.events.data, form.active.data = list(endpoint.events or ()), endpoint.active
        form.recipient.data = endpoint.recipient.public_id if endpoint.recipient else ""
    form.recipient.choices = [("", gettext("No: send ids only, never personal data"))] + [
        (recipient.public_id, gettext("Yes: %(name)s", name=recipient.name))
        for recipient in queries.processors()
    ]
    return form


@bp.get("/webhooks")
def webhooks():
    """Every endpoint with its last day's health; a banner for those the app disabled."""
    endpoints = queries.endpoints()
    return render_template(
        "admin/webhooks/index.html",
        endpoints=endpoints,
        health=queries.health([e.id for e in endpoints]),
        auto_disabled=[e for e in endpoints if not e.active and e.disabled_at is not None],
        event_labels=EVENT_TYPES,
        health_name=health_name,
    )


def _edit(endpoint: WebhookEndpoint | None):
    form = _form(endpoint)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                if endpoint is None:
                    saved, _secret = operations.create_endpoint(form.to_fields(), actor=current_user)
                else:
                    saved = operations.update_endpoint(endpoint, form.to_fields(), actor=current_user)
            except operations.WebhookError as exc:
                db.session.rollback()
                for key, message in exc.errors.items():
                    target = getattr(form, key)
                    target.errors = [*target.errors, shown(message)]
            else:
                db.session.commit()
                flash(
                    gettext("Endpoint saved.")
                    if endpoint
                    else gettext("Endpoint added. Copy its signing secret below."),
                    "success",
                )
                return redirect(url_for("admin.webhook_show", public_id=saved.public_id))
        status = 400
    return render_template("admin/webhooks/edit.html", form=form, endpoint=endpoint), status


@bp.route("/webhooks/new", methods=["GET", "POST"])
def webhook_new():
    """Add an endpoint."""
    return _edit(None)


@bp.route("/webhooks/<public_id>/edit", methods=["GET", "POST"])
def webhook_edit(public_id: str):
    """Change an endpoint's URL, events, processor declaration or active flag."""
    return _edit(_endpoint_or_404(public_id))


@bp.get("/webhooks/<public_id>")
def webhook_show(public_id: str):
    """One endpoint: settings, signing secret, health and its delivery log (newest first)."""
    endpoint = _endpoint_or_404(public_id)
    status = request.args.get("status", "")
    if status not in ("", *DeliveryStatus):
        abort(400, gettext("Unknown status filter."))
    try:
        secret, secret_error = signing.current_secret(endpoint), ""
    except signing.SecretUnreadable as exc:
        secret, secret_error = "", shown(exc)
    return render_template(
        "admin/webhooks/show.html",
        endpoint=endpoint,
        secret=secret,
        secret_error=secret_error,
        health=queries.health([endpoint.id]).get(endpoint.id, queries.Health()),
        deliveries=queries.deliveries(endpoint, status=status),
        status=status,
        statuses=list(DeliveryStatus),
        event_labels=EVENT_TYPES,
        health_name=health_name,
        delivery_status_name=delivery_status_name,
        action_form=ActionForm(),
        alerted=alerts.DISABLED_ACTION,
    )


@bp.get("/webhooks/<public_id>/deliveries/<int:delivery_id>")
def webhook_delivery(public_id: str, delivery_id: int):
    """One delivery: its event and every attempt with the answer's status, excerpt and duration."""
    endpoint = _endpoint_or_404(public_id)
    delivery = queries.delivery(endpoint, delivery_id)
    if delivery is None:
        abort(404)
    return render_template(
        "admin/webhooks/delivery.html",
        endpoint=endpoint,
        delivery=delivery,
        attempts=queries.attempts(delivery.id),
        delivery_status_name=delivery_status_name,
        action_form=ActionForm(),
    )


def _act(public_id: str):
    endpoint = _endpoint_or_404(public_id)
    if not ActionForm().validate_on_submit():
        abort(400, gettext("The form expired. Reload the page and try again."))
    return endpoint


def _done(endpoint: WebhookEndpoint, message: str):
    """Commit an action on an endpoint and go back to its page with a message."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("admin.webhook_show", public_id=endpoint.public_id))


@bp.post("/webhooks/<public_id>/rotate")
def webhook_rotate(public_id: str):
    """A new signing secret; the old one keeps signing for the grace period."""
    endpoint = _act(public_id)
    operations.rotate_secret(endpoint, actor=current_user)
    return _done(
        endpoint, gettext("New signing secret made. The previous one signs too until its grace period ends.")
    )


@bp.post("/webhooks/<public_id>/test")
def webhook_test(public_id: str):
    """Queue a `webhook.test` event to this endpoint."""
    endpoint = _act(public_id)
    operations.send_test_event(endpoint, actor=current_user)
    return _done(endpoint, gettext("Test event queued. It appears in the delivery log below within seconds."))


@bp.post("/webhooks/<public_id>/toggle")
def webhook_toggle(public_id: str):
    """Enable a disabled endpoint (its failure count starts again) or disable an active one."""
    endpoint = _act(public_id)
    operations.set_active(endpoint, not endpoint.active, actor=current_user)
    return _done(
        endpoint,
        gettext("Endpoint enabled.")
        if endpoint.active
        else gettext("Endpoint disabled: nothing is sent to it."),
    )


@bp.post("/webhooks/<public_id>/delete")
def webhook_delete(public_id: str):
    """Remove an endpoint and its delivery log."""
    endpoint = _act(public_id)
    operations.delete_endpoint(endpoint, actor=current_user)
    db.session.commit()
    flash(gettext("Endpoint removed."), "success")
    return redirect(url_for("admin.webhooks"))


@bp.post("/webhooks/<public_id>/deliveries/<int:delivery_id>/resend")
def webhook_resend(public_id: str, delivery_id: int):
    """Send a delivery's event again (a new delivery with its own retries; the same webhook-id)."""
    endpoint = _act(public_id)
    delivery = queries.delivery(endpoint, delivery_id)
    if delivery is None:
        abort(404)
    operations.resend_delivery(delivery, actor=current_user)
    return _done(endpoint, gettext("Queued to be sent again."))
