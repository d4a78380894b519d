"""Proof of double opt-in (G1): the printable evidence page holds everything, taken from the ledger."""

from tests.support.http import confirm_link, form_timer
from tests.support.signup import contact_by_email, page, path_of


def test_evidence_shows_the_whole_double_opt_in(app, auth, demo_form, worker, smtp_server):
    list_box = demo_form.lists[0].purpose.public_id
    auth.post(
        "/f/demo",
        data={"email": "ann@example.com", "name": "Ann", "ts": form_timer(auth), "consent": [list_box]},
        headers={"User-Agent": "SignupBrowser/1.0"},
        environ_base={"REMOTE_ADDR": "203.0.113.5"},
    )
    worker.drain()
    [received] = smtp_server.to("ann@example.com")
    path = path_of(confirm_link(received.data, app.config["MAILER_BASE_URL"]), app.config["MAILER_BASE_URL"])
    auth.post(
        path, headers={"User-Agent": "ConfirmBrowser/2.0"}, environ_base={"REMOTE_ADDR": "198.51.100.7"}
    )

    contact = contact_by_email("ann@example.com")
    shown = auth.get(f"/admin/contacts/{contact.public_id}/evidence")
    text = page(shown)
    assert shown.status_code == 200 and "Proof of double opt-in" in text
    assert "203.0.113.5" in text and "SignupBrowser/1.0" in text and "form:demo" in text
    assert "Demo newsletter" in text
    assert received.message["Message-ID"] in text
    assert "198.51.100.7" in text and "ConfirmBrowser/2.0" in text
    assert "version 1" in text and "One email a month with product news." in text
    assert "Yes, send me “Demo newsletter” by email." in text
    assert "not confirmed" not in text and "not sent (yet)" not in text

    detail = page(auth.get(f"/admin/contacts/{contact.public_id}"))
    assert "ann@example.com" in detail and "confirmed" in detail


def test_evidence_of_an_unconfirmed_sign_up_says_so(app, auth, demo_form):
    auth.post(
        "/f/demo",
        data={
            "email": "bob@example.com",
            "ts": form_timer(auth),
            "consent": [demo_form.lists[0].purpose.public_id],
        },
    )
    text = page(auth.get(f"/admin/contacts/{contact_by_email('bob@example.com').public_id}/evidence"))
    assert "not sent (yet)" in text and "not confirmed" in text
