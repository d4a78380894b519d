"""Demo data for a newcomer: a list, the `demo` form, the built-in layouts, a draft campaign (idempotent)."""

import contextlib

from flask import current_app
from sqlalchemy import select

from mailer.campaigns import drafts as campaign_drafts
from mailer.campaigns.layouts import default_layout, ensure_builtin_layouts
from mailer.campaigns.models import Campaign
from mailer.core import i18n
from mailer.core.extensions import db
from mailer.subscriptions.forms import FormSettings, WordingSettings, save_form, save_wording
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import MailingList

DEMO_LIST = "Demo newsletter"
# The demo form's words in the other shipped languages (checkbox labels: the built-in ones in each language).
DEMO_WORDING = {
    "it": WordingSettings(
        title="Iscriviti alla newsletter dimostrativa",
        intro=(
            "Un'email al mese con le novità sul prodotto. Può annullare l'iscrizione in qualsiasi momento."
        ),
        button_label="Iscriviti",
        privacy_text=(
            "Usiamo il Suo indirizzo solo per inviarLe ciò che ha scelto. Ogni email contiene un link per "
            "modificare le Sue scelte o annullare l'iscrizione, e può chiederci i Suoi dati o la loro "
            "cancellazione in qualsiasi momento."
        ),
    ),
    "de": WordingSettings(
        title="Abonnieren Sie den Demo-Newsletter",
        intro="Eine E-Mail im Monat mit Neuigkeiten zum Produkt. Sie können sich jederzeit abmelden.",
        button_label="Abonnieren",
        privacy_text=(
            "Wir verwenden Ihre Adresse nur, um Ihnen zu senden, was Sie angekreuzt haben. Jede E-Mail "
            "enthält einen Link, um Ihre Auswahl zu ändern oder sich abzumelden, und Sie können jederzeit "
            "Auskunft über Ihre Daten oder deren Löschung verlangen."
        ),
    ),
    "fr": WordingSettings(
        title="Abonnez-vous à la newsletter de démonstration",
        intro=(
            "Un e-mail par mois avec les nouveautés du produit. Vous pouvez vous désabonner à tout moment."
        ),
        button_label="S'abonner",
        privacy_text=(
            "Nous utilisons votre adresse uniquement pour vous envoyer ce que vous avez coché. Chaque e-mail "
            "contient un lien pour modifier vos choix ou vous désabonner, et vous pouvez nous demander vos "
            "données ou leur effacement à tout moment."
        ),
    ),
    "es": WordingSettings(
        title="Suscríbase al boletín de demostración",
        intro="Un correo al mes con las novedades del producto. Puede darse de baja en cualquier momento.",
        button_label="Suscribirse",
        privacy_text=(
            "Usamos su dirección solo para enviarle lo que ha marcado. Cada correo incluye un enlace para "
            "cambiar sus opciones o darse de baja, y puede pedirnos sus datos o su supresión en cualquier "
            "momento."
        ),
    ),
}


def seed_demo() -> Form:
    """Create the demo list and form unless they exist; returns the demo form."""
    tracking = ensure_tracking_purposes()
    ensure_builtin_layouts()
    form = db.session.execute(select(Form).where(Form.slug == "demo")).scalar_one_or_none()
    if form is not None:
        db.session.commit()
        return form
    mailing_list = db.session.execute(
        select(MailingList).where(MailingList.name == DEMO_LIST, MailingList.deleted_at.is_(None))
    ).scalar_one_or_none()
    if mailing_list is None:
        mailing_list = create_list(DEMO_LIST, "A monthly round-up of product news. Try signing up!", "public")
    form = save_form(
        FormSettings(
            slug="demo",
            name="Demo form",
            title="Subscribe to the demo newsletter",
            intro="One email a month with product news. Unsubscribe at any time.",
            list_ids=[mailing_list.id],
            purpose_ids=[p.id for p in tracking],
        )
    )
    for language in i18n.LANGUAGES:  # all five, following each visitor's browser
        if language in DEMO_WORDING:
            save_wording(form, language, DEMO_WORDING[language])
    if current_app.config.get("SEED_DEMO"):
        _demo_campaign(mailing_list)
    db.session.commit()
    return form


DEMO_BODY = """# Hello {{ contact.first_name | default("there") }}!

This is a **draft campaign** to show you around. Change anything: the preview on the right follows as you
type.

- Send yourself a test first.
- Then see who will receive it, and who is left out and why.
- Send it now, or schedule it in your own time zone.

[Read more on our website](https://www.example.com)

Thanks for reading,
The demo team
"""


def _demo_campaign(mailing_list: MailingList) -> None:
    """A draft for the newcomer to open in the editor (embedded development mode only)."""
    if db.session.execute(select(Campaign.id).limit(1)).first() is not None:
        return
    layout = default_layout()
    from_name, from_email = campaign_drafts.default_sender()
    fields = campaign_drafts.DraftFields(
        name="Demo: first newsletter",
        subject='{{ contact.first_name | default("Hello") }}, our first newsletter',
        preheader="What's new this month, in two minutes",
        from_name=from_name,
        from_email=from_email,
        body=DEMO_BODY,
        layout_id=layout.id if layout else None,
        list_ids=[mailing_list.id],
        timezone="UTC",
    )
    # E.g. MAILER_FROM is not a usable address: the demo simply has no draft.
    with contextlib.suppress(campaign_drafts.DraftError):
        campaign_drafts.create_draft(fields)
