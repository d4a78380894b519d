"""Sign-up forms: settings, the notice they show, and where they may be embedded."""

import re
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from flask import render_template
from flask_babel import gettext
from sqlalchemy import select

from mailer import audit
from mailer.consent.models import Notice, Purpose
from mailer.consent.notices import publish_notice
from mailer.contacts import fields as field_service
from mailer.contacts.models.fields import ContactField
from mailer.core import i18n
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.subscriptions.models.forms import Form, FormField, FormWording
from mailer.subscriptions.models.lists import MailingList

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
DEFAULT_PRIVACY_TEXT = (
    "We use your address only to send what you ticked. Every email has a link to change your choices or "
    "unsubscribe, and you can ask us for your data or its erasure at any time."
)


MAX_FORM_FIELDS = 20


class FormError(ValueError):
    """A form could not be saved; the message says why."""


@dataclass
class FieldSetting:
    """A custom contact field asked for on a form: its wording there and whether it must be filled."""

    field_id: int
    label: str = ""
    required: bool = False


@dataclass
class FormSettings:
    """What a staff member can set on a form."""

    slug: str
    name: str
    title: str = "Subscribe to our newsletter"
    intro: str = ""
    button_label: str = "Subscribe"
    list_ids: list[int] = field(default_factory=list)
    purpose_ids: list[int] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    ask_name: bool = True
    require_name: bool = False
    min_age: int | None = None
    privacy_text: str = DEFAULT_PRIVACY_TEXT
    allowed_origins: str = ""
    success_message: str = ""
    redirect_url: str = ""
    after_confirm_url: str = ""  # where the confirmation sends people ("" = the confirmation page)
    active: bool = True
    fields: list[FieldSetting] = field(default_factory=list)
    language: str = ""  # one of `languages`, or "" to follow each visitor's browser among them
    wording_language: str = "en"  # the language the wording above is written in
    languages: list[str] = field(default_factory=list)  # published in (the wording language is always one)


def default_label(purpose: Purpose) -> str:
    """Checkbox wording used when staff have not written their own, in the language being spoken."""
    if purpose.key.startswith("field:"):
        custom = field_service.field_for_purpose(purpose)
        if custom is not None:
            return field_service.consent_label(custom)
    if purpose.kind == "list":
        return gettext("Yes, send me “%(name)s” by email.", name=purpose.name)
    if purpose.kind == "tracking_open":
        return gettext("Yes, you may record when I open your emails.")
    if purpose.kind == "tracking_click":
        return gettext("Yes, you may record which links I click in your emails.")
    return gettext("Yes, I agree: %(name)s.", name=purpose.name)


def normalise_origin(value: str) -> str:
    """Return scheme://host[:port] in lower case, or raise FormError."""
    parts = urlsplit(value.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
    ):
        raise FormError(f"“{value.strip()[:80]}” is not an origin like https://www.example.com")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}".lower()


def _validate_fields(
    settings: FormSettings, purposes: list[Purpose]
) -> list[tuple[ContactField, FieldSetting]]:
    """The custom fields asked for; a sensitive one only beside its own unticked explicit-consent checkbox
    (Art. 9)."""
    if len(settings.fields) > MAX_FORM_FIELDS:
        raise FormError(f"A form can ask for {MAX_FORM_FIELDS} fields at most.")
    chosen, seen = [], set()
    for item in settings.fields:
        custom = db.session.get(ContactField, item.field_id)
        if custom is None or not custom.active or custom.id in seen:
            raise FormError("Unknown field chosen. Please reload the page.")
        seen.add(custom.id)
        item.label = " ".join((item.label or "").split())
        if len(item.label) > 200:
            raise FormError(f"The wording of “{custom.label}” is too long (200 characters at most).")
        if custom.is_sensitive:
            if custom.purpose is None or custom.purpose not in purposes:
                raise FormError(
                    f"“{custom.label}” is sensitive: tick its explicit-consent checkbox "
                    f"“{custom.purpose.name if custom.purpose else custom.label}” under Consent, so the "
                    "form asks for the person's explicit agreement next to it."
                )
            if item.required:
                raise FormError(
                    f"“{custom.label}” is sensitive: it cannot be required, or signing up would depend "
                    "on giving it (consent must be free)."
                )
        chosen.append((custom, item))
    asked = {custom.purpose_id for custom, _ in chosen if custom.purpose_id}
    unasked = [purpose for purpose in purposes if purpose.id not in asked]
    fields_by_purpose = (
        {
            custom.purpose_id: custom
            for custom in db.session.execute(
                select(ContactField).where(ContactField.purpose_id.in_([purpose.id for purpose in unasked]))
            ).scalars()
        }
        if unasked
        else {}
    )
    for purpose in unasked:
        orphan = fields_by_purpose.get(purpose.id)
        if orphan is not None:
            raise FormError(
                f"The checkbox “{purpose.name}” only makes sense when the form asks for "
                f"“{orphan.label}”: add the field or untick the checkbox."
            )
    return chosen


def _check_lengths(*limits: tuple[str, str, int]) -> None:
    """Refuse a text longer than its column allows, naming it."""
    for label, value, limit in limits:
        if len(value or "") > limit:
            raise FormError(f"The {label} is too long ({limit} characters at most).")


def _validate(settings: FormSettings, form: Form | None) -> tuple[list[MailingList], list[Purpose], str]:
    """Check every field; return the chosen lists, extra purposes and cleaned origins."""
    settings.slug = (settings.slug or "").strip().lower()
    if not SLUG_RE.match(settings.slug):
        raise FormError("The slug may use lower-case letters, digits and hyphens (1–60 characters).")
    clash = db.session.execute(select(Form).where(Form.slug == settings.slug)).scalar_one_or_none()
    if clash is not None and clash is not form:
        raise FormError("Another form already uses that slug.")
    if not (settings.name or "").strip():
        raise FormError("Give the form a name.")
    _check_lengths(
        ("name", settings.name, 120),
        ("title", settings.title, 200),
        ("button label", settings.button_label, 60),
        ("intro", settings.intro, 5000),
        ("privacy text", settings.privacy_text, 5000),
        ("success message", settings.success_message, 2000),
    )
    found_lists = [db.session.get(MailingList, i) for i in settings.list_ids]
    lists = [item for item in found_lists if item is not None]
    if not lists or len(lists) < len(found_lists):
        raise FormError("Choose at least one list for the form to offer.")
    archived = [
        lst.name for lst in lists if lst.archived_at is not None and lst not in (form.lists if form else [])
    ]
    if archived:
        raise FormError(f"“{archived[0]}” is archived: un-archive it first to offer it on a form.")
    found_purposes = [db.session.get(Purpose, i) for i in settings.purpose_ids]
    purposes = [p for p in found_purposes if p is not None and p.kind != "list"]
    if len(purposes) < len(found_purposes):
        raise FormError("Unknown purpose chosen.")
    if settings.min_age is not None and not 13 <= settings.min_age <= 21:
        raise FormError("The minimum age must be between 13 and 21 (the age of digital consent is 13–16).")
    origins = "\n".join(
        normalise_origin(o)
        for o in (settings.allowed_origins or "").replace(",", "\n").splitlines()
        if o.strip()
    )
    if settings.redirect_url and not _is_web_address(settings.redirect_url):
        raise FormError("The redirect URL must be a full http(s) address.")
    if settings.after_confirm_url and not _is_web_address(settings.after_confirm_url):
        raise FormError("The address to send people to after confirming must be a full http(s) address.")
    _validate_languages(settings, form)
    return lists, purposes, origins


def _is_web_address(value: str) -> bool:
    """A full http(s) URL of at most 500 characters (what a redirect may go to)."""
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname) and len(value) <= 500


def _validate_languages(settings: FormSettings, form: Form | None) -> None:
    """The wording language and every published one are shipped; each published language has its wording
    (so its own notice); a fixed language is one of them."""
    if i18n.supported(settings.wording_language) is None:
        raise FormError("Choose the language the form's wording is written in from the list.")
    if any(i18n.supported(code) is None for code in settings.languages):
        raise FormError("Choose the form's languages from the list.")
    translated = {w.language for w in form.wordings} if form is not None else set()
    if settings.wording_language in translated:
        raise FormError(
            f"The form already has its own {i18n.language_name(settings.wording_language)} wording as a "
            "translation: choose another language for this wording, or remove that translation first."
        )
    missing = [
        code for code in settings.languages if code != settings.wording_language and code not in translated
    ]
    if missing:
        names = ", ".join(i18n.language_name(code) for code in missing)
        raise FormError(
            f"The form can't be published in {names}: its wording in that language is missing, so there is "
            "no notice for people to agree to. Write it under “Languages” on the form's page first."
        )
    settings.languages = [
        code
        for code in dict.fromkeys([settings.wording_language, *settings.languages])
        if code in i18n.LANGUAGES
    ]
    if settings.language and i18n.supported(settings.language) is None:
        raise FormError("Choose the form's language from the list (or follow the visitor's browser).")
    if settings.language and settings.language not in settings.languages:
        raise FormError(
            f"The form can't be shown in {i18n.language_name(settings.language)}: it is not published in "
            "that language. Tick it under “Published in” (its wording must exist), or follow the browser."
        )


def save_form(
    settings: FormSettings,
    form: Form | None = None,
    actor: object = None,
    ip: str | None = None,
    via: dict | None = None,
) -> Form:
    """Create or update a form and publish a new notice version if its wording changed; audited (which
    settings changed, the notice version now shown); the caller commits."""
    lists, purposes, origins = _validate(settings, form)
    chosen_fields = _validate_fields(settings, purposes)
    before = asdict(settings_of(form)) if form is not None else None
    if form is None:
        form = Form(slug=settings.slug, name=settings.name)
        db.session.add(form)
    form.slug, form.name = settings.slug, settings.name.strip()
    form.title, form.intro, form.button_label = (
        settings.title.strip(),
        settings.intro.strip(),
        settings.button_label.strip(),
    )
    form.ask_name, form.require_name = settings.ask_name or settings.require_name, settings.require_name
    form.min_age, form.privacy_text = settings.min_age, settings.privacy_text.strip()
    form.allowed_origins, form.success_message = origins, settings.success_message.strip()
    form.redirect_url, form.active = settings.redirect_url.strip(), settings.active
    form.after_confirm_url = settings.after_confirm_url.strip()
    form.language, form.wording_language = settings.language, settings.wording_language
    form.languages = list(settings.languages)
    form.lists, form.purposes = lists, purposes
    form.labels = {k: v.strip()[:300] for k, v in (settings.labels or {}).items() if v and v.strip()}
    existing = {ff.field_id: ff for ff in form.fields}
    form.fields = [existing.get(custom.id) or FormField(field=custom) for custom, _ in chosen_fields]
    for position, (ff, (_, item)) in enumerate(zip(form.fields, chosen_fields, strict=True)):
        ff.position, ff.label, ff.required = (
            position,
            item.label if item.label != ff.field.label else "",
            item.required,
        )
    db.session.flush()
    refresh_notice(form)
    after = asdict(settings_of(form))
    details = {"slug": form.slug, "notice_version": form.notice.version, **(via or {})}
    if before is None:
        audit.record("form.created", "form", form.public_id, details, actor, ip)
    else:
        changed = [name for name, value in after.items() if before.get(name) != value]
        if changed:
            audit.record("form.edited", "form", form.public_id, {**details, "changed": changed}, actor, ip)
    return form


def refresh_notice(form: Form) -> None:
    """Publish the form's notice in each of its languages again from what it shows now (a new version only
    where the wording changed)."""
    form.notice = publish_notice(notice_key(form, form.wording_language), notice_content(form))
    for row in form.wordings:
        row.notice = publish_notice(notice_key(form, row.language), notice_content(form, row.language))


def accepts_signups(form: Form) -> bool:
    """Whether the form takes sign-ups: not archived or deleted, and still offering a list (one whose every
    list is archived takes none)."""
    if form.archived_at is not None or form.deleted_at is not None:
        return False
    return any(lst.archived_at is None for lst in form.lists)


def _set_form_archived(
    form: Form, archived: bool, actor: object, ip: str | None, via: dict | None = None
) -> None:
    if form.deleted_at is not None:
        raise FormError("This form is deleted.")
    if (form.archived_at is not None) == archived:
        raise FormError("This form is already archived." if archived else "This form is not archived.")
    form.archived_at = utcnow() if archived else None
    action = "form.archived" if archived else "form.unarchived"
    audit.record(action, "form", form.public_id, {"slug": form.slug, **(via or {})}, actor, ip)


def archive_form(form: Form, actor: object = None, ip: str | None = None, via: dict | None = None) -> None:
    """Archive a form: it stops taking sign-ups (its page and the embed answer that sign-ups are closed) and
    leaves the default listing; its settings and wording versions stay. Audited; the caller commits."""
    _set_form_archived(form, True, actor, ip, via)


def unarchive_form(form: Form, actor: object = None, ip: str | None = None, via: dict | None = None) -> None:
    """Bring an archived form back: it takes sign-ups again. Audited; the caller commits."""
    _set_form_archived(form, False, actor, ip, via)


def delete_form(form: Form, actor: object = None, ip: str | None = None, via: dict | None = None) -> None:
    """Delete a form: a tombstone that takes no sign-ups and is listed nowhere, its slug still answering that
    sign-ups are closed; its notice versions and the ledger's evidence of past sign-ups stay. Audited; the
    caller commits."""
    if form.deleted_at is not None:
        raise FormError("This form is already deleted.")
    form.deleted_at = utcnow()
    form.archived_at = form.archived_at or form.deleted_at
    details = {"slug": form.slug, "name": form.name, **(via or {})}
    audit.record("form.deleted", "form", form.public_id, details, actor, ip)


def settings_of(form: Form) -> FormSettings:
    """A form's current settings, to change one thing and save it again."""
    return FormSettings(
        slug=form.slug,
        name=form.name,
        title=form.title,
        intro=form.intro,
        button_label=form.button_label,
        list_ids=[lst.id for lst in form.lists],
        purpose_ids=[p.id for p in form.purposes],
        labels=dict(form.labels),
        ask_name=form.ask_name,
        require_name=form.require_name,
        min_age=form.min_age,
        privacy_text=form.privacy_text,
        allowed_origins=form.allowed_origins,
        success_message=form.success_message,
        redirect_url=form.redirect_url,
        after_confirm_url=form.after_confirm_url,
        active=form.active,
        fields=[FieldSetting(ff.field_id, ff.label, ff.required) for ff in form.fields],
        language=form.language,
        wording_language=form.wording_language,
        languages=list(form.languages or []),
    )


def offered_purposes(form: Form) -> list[Purpose]:
    """Purposes shown as checkboxes: one per list, then the extra ones (e.g. tracking), each group by name.

    Sorted here rather than trusting the relationships' order, which is the assignment order until the form is
    reloaded: the notice saved with the form must list the boxes in the order the page will show them.
    """
    lists = sorted((lst for lst in form.lists if lst.archived_at is None), key=lambda lst: (lst.name, lst.id))
    return [lst.purpose for lst in lists if lst.purpose is not None] + sorted(
        form.purposes, key=lambda p: (p.name, p.id)
    )


def asked_fields(form: Form) -> list[FormField]:
    """The custom fields the form asks for, in order (retired fields are no longer asked)."""
    return [ff for ff in form.fields if ff.field.active]


def field_input_name(custom: ContactField) -> str:
    """The name of a custom field's input in the posted form (never clashes with email, name or consent)."""
    return f"field_{custom.key}"


def general_purposes(form: Form) -> list[Purpose]:
    """The checkboxes shown together at the end: every offered purpose except the consents shown beside a
    field."""
    beside = {ff.field.purpose_id for ff in form.fields if ff.field.is_sensitive}
    return [p for p in offered_purposes(form) if p.id not in beside]


def checkbox_label(form: Form, purpose: Purpose) -> str:
    """The words next to a purpose's checkbox on this form, in its own wording language."""
    return wording_for(form, form.wording_language).label(purpose)


def age_label(form: Form) -> str | None:
    """The age confirmation wording, when the form asks for one (in the language being spoken)."""
    return gettext("I am at least %(age)d years old.", age=form.min_age) if form.min_age else None


@dataclass
class Wording:
    """What a form says in one language, and the notice version that records it."""

    language: str
    title: str
    intro: str
    button_label: str
    privacy_text: str
    success_message: str
    labels: dict[str, str]  # purpose key -> checkbox wording written by staff
    field_labels: dict[str, str]  # contact field key -> label written by staff
    notice: Notice | None

    def label(self, purpose: Purpose) -> str:
        """A checkbox's words: staff's own, else the built-in ones in this language."""
        if purpose.key in self.labels:
            return self.labels[purpose.key]
        with i18n.speaking(self.language):
            return default_label(purpose)

    def field_label(self, asked: FormField) -> str:
        """A custom field's label: staff's own in this language, else the form's."""
        return self.field_labels.get(asked.field.key) or asked.shown_label

    def age_label(self, form: Form) -> str | None:
        """The age confirmation in this language."""
        with i18n.speaking(self.language):
            return age_label(form)


def notice_key(form: Form, language: str) -> str:
    """The notice key of a form's wording in a language (its own wording keeps the form's first key)."""
    return (
        f"form:{form.public_id}" if language == form.wording_language else f"form:{form.public_id}:{language}"
    )


def translation(form: Form, language: str) -> FormWording | None:
    """The form's wording row for a language other than its own."""
    return next((row for row in form.wordings if row.language == language), None)


def wording_for(form: Form, language: str) -> Wording:
    """The form's words in `language` (its own wording when it has none in that language)."""
    row = translation(form, language) if language != form.wording_language else None
    if row is None:
        return Wording(
            form.wording_language,
            form.title,
            form.intro,
            form.button_label,
            form.privacy_text,
            form.success_message,
            dict(form.labels or {}),
            {ff.field.key: ff.label for ff in form.fields if ff.label},
            form.notice,
        )
    return Wording(
        row.language,
        row.title,
        row.intro,
        row.button_label,
        row.privacy_text,
        row.success_message,
        dict(row.labels or {}),
        dict(row.field_labels or {}),
        row.notice,
    )


def published_languages(form: Form) -> list[str]:
    """The languages a visitor may see the form in: its own, then each published one that has its wording."""
    translated = {row.language for row in form.wordings}
    own = i18n.supported(form.wording_language) or i18n.DEFAULT_LANGUAGE
    return [own] + [
        code for code in (form.languages or []) if code != own and code in translated and i18n.supported(code)
    ]


def shown_language(form: Form, requested: str | None = None) -> str:
    """The language a form speaks to this visitor: the one their copy of it was in (a snippet says so),
    else its fixed one, else the browser's best among the form's published languages."""
    offered = published_languages(form)
    for code in (requested, form.language):
        if code and code in offered:
            return code
    return i18n.browser_language(offered)


def snippet_language(form: Form, asked: str | None = None) -> str:
    """The one language a static snippet speaks: the form's fixed one, else `asked` among its published
    languages, else its own wording's."""
    published = published_languages(form)
    fixed = form.language if form.language in published else None
    return fixed or (asked if asked in published else published[0])


def snippet_html(form: Form, language: str, base: str) -> str:
    """The copy-paste HTML of a form in one language (it posts that language, so a sign-up records the notice
    version of the words the person read)."""
    wording = wording_for(form, language)
    with i18n.speaking(language):
        return render_template(
            "embed/snippet.html",
            form=form,
            wording=wording,
            base=base,
            purposes=general_purposes(form),
            fields=asked_fields(form),
            input_name=field_input_name,
            label=wording.label,
            field_label=wording.field_label,
            age_label=wording.age_label(form),
        ).strip()


def notice_content(form: Form, language: str | None = None) -> dict:
    """Everything the form shows a person in one language, as stored in that language's notice."""
    wording = wording_for(form, language or form.wording_language)
    return {
        "form": form.slug,
        "language": wording.language,
        "title": wording.title,
        "intro": wording.intro,
        "button": wording.button_label,
        "checkboxes": [{"purpose": p.key, "label": wording.label(p)} for p in offered_purposes(form)],
        "fields": [
            {
                "field": ff.field.key,
                "label": wording.field_label(ff),
                "required": ff.required,
                "consent_checkbox": wording.label(ff.field.purpose) if ff.field.is_sensitive else None,
            }
            for ff in form.fields
        ],
        "age_confirmation": wording.age_label(form),
        "privacy": wording.privacy_text,
    }


def form_by_slug(slug: str) -> Form | None:
    """An active form by its slug (archived and deleted ones too: they answer that sign-ups are closed)."""
    if not SLUG_RE.match(slug or ""):
        return None
    form = db.session.execute(select(Form).where(Form.slug == slug)).scalar_one_or_none()
    return form if form is not None and form.active else None


def origin_allowed(form: Form, origin: str | None, fetch_site: str | None, own_origin: str) -> bool:
    """Whether a submission from this browser context may use the form (REQUIREMENTS J1)."""
    allowed = form.origins
    if not allowed:
        return True
    allowed = [*allowed, own_origin.rstrip("/").lower()]
    if not origin or origin == "null":
        # No Origin: same-site navigation or a non-browser client. A cross-site browser always sends Origin.
        return fetch_site in (None, "same-origin", "same-site", "none")
    return origin.rstrip("/").lower() in allowed


@dataclass
class WordingSettings:
    """A form's words in another language, as staff type them on the form's language page."""

    title: str = ""
    intro: str = ""
    button_label: str = ""
    privacy_text: str = ""
    success_message: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # purpose key -> wording ("" = built-in)
    field_labels: dict[str, str] = field(default_factory=dict)  # contact field key -> label
    publish: bool = True


def save_wording(
    form: Form,
    language: str,
    settings: WordingSettings,
    actor: object = None,
    ip: str | None = None,
    via: dict | None = None,
) -> FormWording:
    """Write (or rewrite) a form's wording in another language and publish its notice version; with
    `publish` the form is offered in that language, without it the language is withdrawn. Audited; the
    caller commits."""
    if form.deleted_at is not None:
        raise FormError("This form is deleted.")
    if i18n.supported(language) is None:
        raise FormError("Choose a language from the list.")
    if language == form.wording_language:
        raise FormError(
            f"{i18n.language_name(language)} is the language of the form's own wording: edit the form "
            "instead."
        )
    title, button = " ".join(settings.title.split()), " ".join(settings.button_label.split())
    if not title or not button:
        raise FormError("Write the heading and the button label in this language.")
    _check_lengths(
        ("heading", title, 200),
        ("button label", button, 60),
        ("introduction", settings.intro, 5000),
        ("privacy text", settings.privacy_text, 5000),
        ("success message", settings.success_message, 2000),
    )
    offered = {p.key for p in offered_purposes(form)}
    asked = {ff.field.key for ff in form.fields}
    row = translation(form, language)
    if row is None:
        row = FormWording(language=language, title=title, button_label=button)
        form.wordings.append(row)
    row.title, row.button_label, row.intro = title, button, settings.intro.strip()
    row.privacy_text, row.success_message = settings.privacy_text.strip(), settings.success_message.strip()
    row.labels = {k: v.strip()[:300] for k, v in settings.labels.items() if k in offered and v.strip()}
    row.field_labels = {
        k: " ".join(v.split())[:200] for k, v in settings.field_labels.items() if k in asked and v.strip()
    }
    languages = [code for code in (form.languages or [form.wording_language]) if code != language]
    form.languages = [*languages, language] if settings.publish else languages
    if not settings.publish and form.language == language:
        form.language = ""  # a form can't stay fixed to a language it is no longer published in
    db.session.flush()
    refresh_notice(form)
    details = {
        "slug": form.slug,
        "language": language,
        "published": settings.publish,
        "notice_version": row.notice.version if row.notice else None,
        **(via or {}),
    }
    audit.record("form.wording_saved", "form", form.public_id, details, actor, ip)
    return row
