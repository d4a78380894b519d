"""The only CSRF-exempt form endpoint (J1): honeypot, fill timer, rate limits, origin allow-list, double
opt-in."""

from flask import abort, current_app, jsonify, make_response, redirect, render_template, request
from flask_babel import gettext, lazy_gettext

from mailer.consent.ledger import RequestContext
from mailer.core import i18n
from mailer.core.extensions import csrf, limiter
from mailer.core.web import request_origin, wants_json, with_response_floor
from mailer.embed.blueprint import bp
from mailer.subscriptions import forms as form_service
from mailer.subscriptions import signup

DEFAULT_SUCCESS = lazy_gettext(
    "Thank you! Please check your inbox: we've sent you an email with a link to confirm your "
    "subscription. If nothing arrives within a few minutes, look in your spam folder."
)


def _signup_ip_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT_IP"]


def _signup_global_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT_GLOBAL"]


def _load_form(slug: str):
    form = form_service.form_by_slug(slug)
    if form is None:
        abort(404)
    # Its pages, messages and the sign-up's language: a snippet posts the language its words were in.
    i18n.use_language(signup.form_language(form, request.values.get("lang")))
    return form


def _wording(form) -> form_service.Wording:
    """The form's words in the language this request speaks."""
    return form_service.wording_for(form, i18n.current_language())


def _own_origin() -> str:
    return request.host_url.rstrip("/")


def _cors(response, form):
    """Let an allowed origin read the JSON answer (the embed script)."""
    origin = request.headers.get("Origin")
    if origin and form_service.origin_allowed(
        form, origin, request.headers.get("Sec-Fetch-Site"), _own_origin()
    ):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Vary"] = "Origin"
    return response


@bp.after_request
def _cors_on_early_errors(response):
    """Answers made before a view ran (rate limit, too large, ...) must be readable by the embed script
    too."""
    if (
        response.status_code >= 400
        and request.headers.get("Origin")
        and "Access-Control-Allow-Origin" not in response.headers
    ):
        slug = (request.view_args or {}).get("slug")
        form = form_service.form_by_slug(slug) if slug else None
        if form is not None:
            _cors(response, form)
    return response


def _frame_policy(response, form):
    """The hosted page may be framed by the form's allowed origins (or anyone, when none are set)."""
    ancestors = " ".join(form.origins) if form.origins else "*"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        f"object-src 'none'; base-uri 'none'; frame-ancestors 'self' {ancestors}"
    )
    return response


def _render_form(form, status=200, error=None, field=None, values=None, notice_message=None):
    wording = _wording(form)
    response = make_response(
        render_template(
            "embed/form.html",
            form=form,
            wording=wording,
            purposes=form_service.general_purposes(form),
            fields=form_service.asked_fields(form),
            input_name=form_service.field_input_name,
            label=wording.label,
            field_label=wording.field_label,
            age_label=wording.age_label(form),
            started=signup.form_started_token(),
            error=error,
            error_field=field,
            values=values or {},
            notice_message=notice_message,
        ),
        status,
    )
    return _frame_policy(response, form)


@bp.get("/f/<slug>", provide_automatic_options=False)  # OPTIONS is the CORS preflight below
@limiter.limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"])
def hosted_form(slug: str):
    """The hosted sign-up page."""
    form = _load_form(slug)
    if not form_service.accepts_signups(form):
        return _closed(form)
    return _render_form(form)


CLOSED = lazy_gettext("This form no longer takes sign-ups. Nothing was sent or stored.")


def _closed(form):
    """410 Gone for an archived or deleted form, or one whose every list is archived (one answer for all)."""
    if wants_json():
        return _cors(jsonify(ok=False, error=str(CLOSED), field=""), form), 410
    response = make_response(render_template("embed/closed.html", form=form, message=str(CLOSED)), 410)
    return _frame_policy(response, form)


@bp.get("/f/<slug>/start", provide_automatic_options=False)
@limiter.limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"])
def form_start(slug: str):
    """A fresh fill-timer token for the embed script (a static snippet cannot carry one)."""
    form = _load_form(slug)
    if not form_service.accepts_signups(form):
        return _closed(form)
    return _cors(jsonify(ts=signup.form_started_token()), form)


@bp.route("/f/<slug>", methods=["OPTIONS"])
@bp.route("/f/<slug>/start", methods=["OPTIONS"])
def preflight(slug: str):
    """CORS preflight for allowed origins."""
    return _cors(make_response("", 204), _load_form(slug))


def _read_input(form) -> signup.SignupInput:
    values = request.form
    return signup.SignupInput(
        email=values.get("email", ""),
        name=values.get("name", ""),
        consents=values.getlist("consent"),
        age_confirmed=values.get("age") == "yes",
        honeypot=values.get("website", ""),
        started_token=values.get("ts", ""),
        fields={
            ff.field.key: "; ".join(values.getlist(form_service.field_input_name(ff.field)))
            if ff.field.value_type == "multiple_choice"
            else values.get(form_service.field_input_name(ff.field), "")
            for ff in form_service.asked_fields(form)
        },
    )


def _success(form):
    """The one answer every accepted submission gets, whatever the address's state (J3)."""
    message = _wording(form).success_message or str(DEFAULT_SUCCESS)
    if wants_json():
        return _cors(jsonify(ok=True, message=message), form)
    if form.redirect_url:
        return redirect(form.redirect_url, code=303)
    return _frame_policy(
        make_response(render_template("embed/thanks.html", form=form, message=message)), form
    )


def _error(form, status, message, field, inp):
    if wants_json():
        return _cors(jsonify(ok=False, error=message, field=field), form), status
    values = {
        "email": inp.email[:254],
        "name": inp.name[:200],
        "consents": set(inp.consents),
        "age": inp.age_confirmed,
        "fields": {key: value[:500] for key, value in inp.fields.items()},
    }
    return _render_form(form, status, error=message, field=field, values=values)


@bp.post("/f/<slug>")
@csrf.exempt
@limiter.limit(_signup_ip_limit)
@limiter.limit(_signup_global_limit, key_func=lambda: "signup-global")
@with_response_floor
def submit(slug: str):
    """Accept a sign-up; identical answer (and time) for new, pending, confirmed and suppressed addresses."""
    form = _load_form(slug)
    if not form_service.origin_allowed(
        form, request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site"), _own_origin()
    ):
        return _error(
            form, 403, gettext("This form can't be used from this website."), "", signup.SignupInput()
        )
    if not form_service.accepts_signups(form):
        return _closed(form)
    inp = _read_input(form)
    screen = signup.screen_submission(inp)
    if screen == "bot":
        return _success(form)
    try:
        signup.validate_signup(form, inp, i18n.current_language())
    except signup.SignupError as exc:
        return _error(form, 400, str(exc), exc.field_name, inp)
    if screen != "ok":
        return _error(
            form,
            400,
            gettext("Almost there — please check your details and press the button once more."),
            "",
            inp,
        )
    signup.submit_form(
        form, inp, RequestContext(f"form:{form.slug}", *request_origin()), i18n.current_language()
    )
    return _success(form)
