"""The outbox speaks the staff member's browser language (issue 16, part D): its list and a stored message's
page in Spanish (heading, columns, tabs, the envelope line), English without a preference."""

from sqlalchemy import select

from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from tests.support.signup import page, sign_up

SPANISH = {"Accept-Language": "es-ES, es;q=0.9"}


def test_the_outbox_in_spanish(app, auth, demo_form, worker):
    empty = page(auth.get("/admin/outbox", headers=SPANISH))
    assert "Bandeja de salida" in empty and "Todavía no hay correo." in empty
    assert "formulario de demostración" in empty

    sign_up(auth, email="ann@example.com", name="Ann")
    worker.drain()
    db.session.expire_all()
    message = db.session.execute(select(OutboxMessage)).scalar_one()
    listed = page(auth.get("/admin/outbox", headers=SPANISH))
    for column in ("Cuándo", "Destinatario", "Asunto", "Tipo"):
        assert f">{column}</th>" in listed
    shown = page(auth.get(f"/admin/outbox/{message.public_id}", headers=SPANISH))
    assert "Para ann@example.com · remitente del sobre" in shown
    for tab in ("Cabeceras", "Código fuente sin procesar"):
        assert tab in shown
    assert 'title="Parte HTML"' in shown
    english = page(auth.get(f"/admin/outbox/{message.public_id}"))
    assert "To ann@example.com · envelope from" in english and "Raw source" in english
