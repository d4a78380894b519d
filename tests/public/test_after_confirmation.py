"""After a successful confirmation: our confirmation page (default) or a 303 to the page staff chose on the
form ("After confirming, send people to"); only that stored URL, never one from the request."""

import pytest
from sqlalchemy import select

from mailer.core.extensions import db
from mailer.subscriptions import forms as form_service
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import Subscription
from tests.admin.test_lists_and_forms import _new_form
from tests.support.html_forms import submit_form
from tests.support.http import confirm_link
from tests.support.signup import outbox_to, page, path_of, sign_up

WELCOME = "https://www.greengrocers.example/welcome?from=newsletter"


def _confirm_path(app, client, worker, email: str, slug: str = "demo") -> str:
    sign_up(client, email=email, slug=slug)
    worker.drain()
    base = app.config["MAILER_BASE_URL"]
    return path_of(confirm_link(outbox_to(email)[-1].raw, base), base)


def _set_after_confirm(client, form: Form, url: str):
    edit = f"/admin/forms/{form.public_id}/edit"
    return submit_form(client, edit, client.get(edit).text, after_confirm_url=url)


def _confirmed(email: str) -> bool:
    db.session.expire_all()
    subs = db.session.execute(select(Subscription).join(Subscription.contact)).scalars()
    return any(s.contact.email == email and s.status == "confirmed" for s in subs)


def test_without_a_url_the_confirmation_page_is_shown(app, client, demo_form, worker):
    path = _confirm_path(app, client, worker, "ann@example.com")
    done = client.post(path)
    assert done.status_code == 200 and "you're subscribed" in page(done)
    assert "Location" not in done.headers


def test_staff_set_the_page_and_the_confirmation_redirects_there_once(app, auth, demo_form, worker):
    saved = _set_after_confirm(auth, demo_form, WELCOME)
    assert saved.status_code == 302, page(saved)
    assert (
        f'value="{WELCOME.replace("&", "&amp;")}"'
        in auth.get(f"/admin/forms/{demo_form.public_id}/edit").text
    )

    path = _confirm_path(app, auth, worker, "bea@example.com")
    assert auth.get(path).status_code == 200  # the GET still only shows the button (G2)
    assert not _confirmed("bea@example.com")
    done = auth.post(path, query_string={"next": "https://evil.example/"})
    assert done.status_code == 303 and done.headers["Location"] == WELCOME
    assert _confirmed("bea@example.com")

    again = auth.post(path)  # nothing left to confirm: our page, no second redirect
    assert again.status_code == 200 and "Location" not in again.headers


def test_the_page_of_the_form_the_person_signed_up_on_is_used(app, auth, demo_form, worker):
    response = _new_form(auth, name="Shop", slug="shop", lists=[demo_form.lists[0].id])
    assert response.status_code == 302
    shop = db.session.execute(select(Form).where(Form.slug == "shop")).scalar_one()
    _set_after_confirm(auth, shop, "https://shop.example/thanks")
    on_demo = _confirm_path(app, auth, worker, "cy@example.com", slug="demo")
    assert auth.post(on_demo).status_code == 200
    on_shop = _confirm_path(app, auth, worker, "dee@example.com", slug="shop")
    assert auth.post(on_shop).headers["Location"] == "https://shop.example/thanks"


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "//evil.example/", "/relative/page", "data:text/html,hi", "https://"]
)
def test_an_address_that_is_not_a_web_page_is_refused(app, auth, demo_form, url):
    refused = _set_after_confirm(auth, demo_form, url)
    assert refused.status_code == 400
    assert "The address to send people to after confirming must be a full http(s) address." in page(refused)
    db.session.expire_all()
    assert db.session.get(Form, demo_form.id).after_confirm_url == ""


def test_the_setting_survives_other_changes(app_ctx, demo_form):
    settings = form_service.settings_of(demo_form)
    settings.after_confirm_url = WELCOME
    form_service.save_form(settings, demo_form)
    db.session.commit()
    again = form_service.settings_of(demo_form)
    again.title = "New title"
    form_service.save_form(again, demo_form)
    db.session.commit()
    assert db.session.get(Form, demo_form.id).after_confirm_url == WELCOME
