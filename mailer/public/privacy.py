"""Self-service privacy rights from the preference centre (/p/<token>/privacy/<kind>) and the privacy notice.

The preference token says which contact; every request except an objection is then verified by a signed link
sent to the address on file (a forwarded email must not let someone else download or erase the data).
An objection only stops processing, like an unsubscribe, so it applies at once.
"""

from flask import abort, current_app, make_response, render_template, request
from flask_babel import gettext
from sqlalchemy import select

from mailer.contacts import fields
from mailer.contacts.models.contact import Contact, ContactStatus
from mailer.core import i18n
from mailer.core.errors import PrivacyError
from mailer.core.extensions import csrf, db, limiter
from mailer.core.security import TokenExpired, TokenInvalid, read_token
from mailer.core.web import db_int, with_response_floor
from mailer.privacy import export, notice, requests
from mailer.privacy import mail as privacy_mail
from mailer.privacy.fulfil import fulfil, verify_and_fulfil
from mailer.privacy.models.requests import RequestType
from mailer.privacy.objection import objectable_purposes
from mailer.privacy.rectification import Correction, confirm_new_address, validate
from mailer.privacy.retention import keep_contact
from mailer.public.blueprint import bp
from mailer.public.views import public_limit, request_context

KINDS = ("access", "portability", "rectification", "erasure", "restriction", "objection")


def _contact(token: str) -> Contact | None:
    """The contact a preference-centre token names, unless erased."""
    try:
        public_id = read_token("preferences", token, max_age=current_app.config["RECIPIENT_TOKEN_MAX_AGE"])
    except (TokenExpired, TokenInvalid):
        return None
    if not isinstance(public_id, str):
        return None
    contact = db.session.execute(select(Contact).where(Contact.public_id == public_id)).scalar_one_or_none()
    if contact is None or contact.status == ContactStatus.ERASED:
        return None
    i18n.use_language(contact.language)  # the person's own language, else their browser's
    return contact


def _status_page(title: str, message: str, code: int = 200, **extra):
    return render_template("public/privacy_status.html", title=title, message=message, **extra), code


def _bad_link():
    return _status_page(
        gettext("This link doesn't work"),
        gettext(
            "It may be old or copied incompletely. Please use the preference link in one of our most recent "
            "emails."
        ),
        404,
    )


def _clear_values(contact: Contact) -> dict[str, str]:
    """Ordinary field values to prefill; sensitive ones are never echoed into a page."""
    return {f.key: fields.read_value(contact, f) or "" for f in fields.all_fields() if not f.is_sensitive}


def _page(token: str, kind: str, contact: Contact, error: str = "", code: int = 200, **extra):
    return render_template(
        "public/privacy_request.html",
        token=token,
        kind=kind,
        contact=contact,
        error=error,
        purposes=objectable_purposes(contact) if kind == "objection" else [],
        fields=fields.all_fields() if kind == "rectification" else [],
        values=_clear_values(contact) if kind == "rectification" else {},
        consent_label=fields.consent_label,
        **extra,
    ), code


@bp.get("/p/<token>/privacy/<kind>")
@limiter.limit(public_limit)
def privacy_request_page(token: str, kind: str):
    """Explain the right and offer to exercise it."""
    if kind not in KINDS:
        abort(404)
    contact = _contact(token)
    if contact is None:
        return _bad_link()
    response = _page(token, kind, contact)
    db.session.commit()  # the direct-marketing purpose is created on first use
    return response


def _details(kind: str, contact: Contact) -> dict:
    """What the person asked for, validated; raises PrivacyError with a message for them."""
    if kind == "objection":
        keys = request.form.getlist("purpose")
        allowed = {p.key for p, _ in objectable_purposes(contact)}
        if not keys or not set(keys) <= allowed:
            raise PrivacyError(gettext("Tick at least one use of your data that you object to."))
        return {"purposes": keys}
    if kind == "rectification":
        all_fields = fields.all_fields()
        correction = Correction(
            name=request.form.get("name", ""),
            email=request.form.get("email") or None,
            fields={
                f.key: request.form.get(f"field_{f.key}", "")
                for f in all_fields
                if f"field_{f.key}" in request.form
                and (not f.is_sensitive or request.form.get(f"field_{f.key}", "").strip())
            },
            consented_fields=set(request.form.getlist("consent_field")),
        )
        changes = validate(contact, correction)
        if not changes:
            raise PrivacyError(gettext("Nothing is different from what we hold. Change a value, then send."))
        return changes
    if kind == "erasure" and request.form.get("confirm") != "yes":
        raise PrivacyError(gettext("Tick the box to confirm that you want your data erased."))
    return {}


@bp.post("/p/<token>/privacy/<kind>")
@csrf.exempt  # the signed preference token in the URL is the proof; no cookie is needed
@limiter.limit("10 per hour")
@with_response_floor
def privacy_request_submit(token: str, kind: str):
    """Register the request; objections apply at once, the rest wait for the emailed verification link."""
    if kind not in KINDS:
        abort(404)
    contact = _contact(token)
    if contact is None:
        return _bad_link()
    try:
        details = _details(kind, contact)
        req = requests.open_request(kind, "preference-centre", contact=contact, details=details)
        if kind == "objection":
            requests.mark_verified(req, "preference-centre link")
            fulfil(req, request_context("public:privacy"))
            db.session.commit()
            stopped = ", ".join((req.details or {}).get("stopped") or [])
            return _status_page(
                gettext("Your objection is recorded"),
                gettext("We stopped, at once and for good: %(uses)s.", uses=stopped)
                if stopped
                else gettext("Nothing you objected to was still running."),
                done=True,
                token=token,
            )
        requests.send_verification(req)
    except PrivacyError as exc:
        db.session.rollback()
        return _page(token, kind, contact, error=str(exc), code=400)
    db.session.commit()
    return _status_page(
        gettext("Check your inbox"),
        gettext(
            "We've sent a link to your email address. Open it to confirm that this request comes from you; "
            "then we act at once. The link works for 7 days."
        ),
        token=token,
    )


@bp.get("/privacy/verify/<token>")
@limiter.limit(public_limit)
def privacy_verify(token: str):
    """Show what the verification confirms, with a button; a GET (link scanners) changes nothing."""
    outcome = _verification(token)
    req = outcome.request
    if outcome.status in ("expired", "invalid") or req is None:
        return _status_page(
            gettext("This link has expired")
            if outcome.status == "expired"
            else gettext("This link doesn't work"),
            gettext("Please make the request again from the preference link in one of our emails."),
            410 if outcome.status == "expired" else 404,
        )
    return render_template(
        "public/privacy_verify.html", req=req, token=token, label=privacy_mail.right_name(req.type)
    )


def _verification(token: str) -> requests.VerifyOutcome:
    """Check a verification link and speak the person's language (else the browser's) from here on."""
    outcome = requests.check_verification(token)
    if outcome.request is not None and outcome.request.contact is not None:
        i18n.use_language(outcome.request.contact.language)
    return outcome


@bp.post("/privacy/verify/<token>")
@csrf.exempt  # the signed token in the URL is the proof; works with cookies off
@limiter.limit(public_limit)
def privacy_verify_post(token: str):
    """Verified: record it and carry out the request where the law lets us do so at once."""
    outcome = _verification(token)
    req = outcome.request
    if outcome.status in ("expired", "invalid") or req is None:
        return _status_page(gettext("This link doesn't work"), gettext("Please make the request again."), 404)
    try:
        verify_and_fulfil(req, request_context("public:privacy-verify"))
    except PrivacyError as exc:
        db.session.rollback()
        return _status_page(gettext("We couldn't do that"), str(exc), 400)
    db.session.commit()
    download = (
        export.download_token(req)
        if req.type in (RequestType.ACCESS, RequestType.PORTABILITY) and req.contact
        else None
    )
    return render_template("public/privacy_done.html", req=req, download=download)


@bp.get("/privacy/download/<token>")
@limiter.limit(public_limit)
def privacy_download(token: str):
    """The person's own data as a ZIP, sensitive fields in clear (they are the person themself)."""
    req = export.request_for_download(token)
    if req is None:
        return _status_page(
            gettext("This download link doesn't work"),
            gettext(
                "It may have expired (links work for 7 days). Please ask again from the preference link in "
                "one of our emails."
            ),
            404,
        )
    # The contact's language, else this browser's (README "Languages").
    payload = export.build_zip(req.contact, clear_sensitive=True, fallback_language=i18n.current_language())
    req.details = {**(req.details or {}), "downloads": int((req.details or {}).get("downloads", 0)) + 1}
    db.session.commit()
    response = make_response(payload)
    response.headers["Content-Type"] = "application/zip"
    response.headers["Content-Disposition"] = 'attachment; filename="my-data.zip"'
    return response


@bp.route("/privacy/address/<token>", methods=["GET"])
@limiter.limit(public_limit)
def privacy_reconfirm(token: str):
    """A new address confirms itself: show a button (GET is safe)."""
    return render_template(
        "public/privacy_confirm_button.html",
        title=gettext("Confirm your new email address"),
        message=gettext("Press the button to start receiving our emails at this address."),
        button=gettext("Confirm this address"),
        token=token,
        endpoint="public.privacy_reconfirm_post",
    )


@bp.post("/privacy/address/<token>")
@csrf.exempt  # the signed token in the URL is the proof
@limiter.limit(public_limit)
def privacy_reconfirm_post(token: str):
    outcome = confirm_new_address(token, request_context("public:address-change"))
    messages = {
        "confirmed": (
            gettext("Your address is updated"),
            gettext("From now on we write to this address."),
            200,
        ),
        "already": (gettext("Already done"), gettext("This address was already confirmed."), 200),
        "taken": (
            gettext("We couldn't change the address"),
            gettext(
                "Another subscription already uses this address. Manage it from its own preference link."
            ),
            409,
        ),
        "expired": (gettext("This link has expired"), gettext("Please ask for the change again."), 410),
        "invalid": (
            gettext("This link doesn't work"),
            gettext("Please use the link from the most recent email."),
            404,
        ),
    }
    title, message, code = messages[outcome.status]
    return _status_page(title, message, code)


def _repermission_contact(token: str) -> Contact | None:
    """The active contact a re-permission link names; its language is spoken from here on."""
    try:
        public_id = read_token("repermission", token, max_age=current_app.config["RECIPIENT_TOKEN_MAX_AGE"])
    except (TokenExpired, TokenInvalid):
        return None
    if not isinstance(public_id, str):
        return None
    contact = db.session.execute(select(Contact).where(Contact.public_id == public_id)).scalar_one_or_none()
    if contact is None or contact.status != ContactStatus.ACTIVE:
        return None
    i18n.use_language(contact.language)
    return contact


@bp.get("/privacy/keep/<token>")
@limiter.limit(public_limit)
def privacy_keep(token: str):
    """Answer to the re-permission email: a button that keeps the person subscribed (in their language)."""
    _repermission_contact(token)
    return render_template(
        "public/privacy_confirm_button.html",
        title=gettext("Stay subscribed"),
        message=gettext("Press the button and we'll keep sending you the emails you chose."),
        button=gettext("Yes, keep me subscribed"),
        token=token,
        endpoint="public.privacy_keep_post",
    )


@bp.post("/privacy/keep/<token>")
@csrf.exempt  # the signed token in the URL is the proof
@limiter.limit(public_limit)
def privacy_keep_post(token: str):
    contact = _repermission_contact(token)
    if contact is None:
        return _bad_link()
    keep_contact(contact)
    db.session.commit()
    return _status_page(
        gettext("Thank you"),
        gettext("You stay subscribed. You can change your choices with the link in any of our emails."),
    )


@bp.get("/privacy")
@limiter.limit(public_limit)
def privacy_notice():
    """The privacy notice in the visitor's language (the contact's, else the browser's), generated from the
    settings; ?version=N shows an earlier version of that language."""
    version = request.args.get("version", type=db_int)
    language = i18n.current_language()
    shown = notice.notice_version(version, language) if version else notice.current_notice(language)
    if shown is None:
        abort(404)
    latest = notice.current_notice(language) if version else shown
    db.session.commit()
    return render_template("public/privacy_notice.html", notice=shown, latest=latest)
