"""The password policy (zxcvbn score 3 or more, the person's own address counted as guessable) holds wherever
a password is set: first-run setup, an accepted invitation, create-admin and a password change."""

import pytest
from sqlalchemy import func, select

from mailer.core.extensions import db
from mailer.staff import management as staff_accounts
from mailer.staff.accounts import create_staff, setup_token
from mailer.staff.models.accounts import StaffInvite, StaffUser
from mailer.staff.passwords import WeakPasswordError, check_password
from tests.support.html_forms import submit_form
from tests.support.http import csrf_token, login
from tests.support.signup import page

REPEATS = 'This password is too easy to guess. Repeats like "aaa" are easy to guess.'


@pytest.mark.parametrize(
    "password, email, message",
    [
        ("aaaaaaaaaa", "ann@example.com", 'Repeats like "aaa" are easy to guess.'),
        ("Password123!", "ann@example.com", "This is similar to a commonly used password."),
        ("qwertyuiop", "ann@example.com", "This password is too easy to guess."),
        (
            "ann@example.com1",
            "ann@example.com",
            "This password is too easy to guess.",
        ),  # fine for anyone else
        ("short", "ann@example.com", "The password must have at least 10 characters."),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, email, message):
    with pytest.raises(WeakPasswordError) as refused:
        check_password(password, email)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    "password", ["correct horse battery", "plum violin tuesday", "x" * 10 + " dusty lantern 42"]
)
def test_good_passwords_pass(password):
    check_password(password, "ann@example.com")


def test_one_s_own_address_counts_as_guessable():
    check_password("ann@example.com1", "bob@example.com")
    with pytest.raises(WeakPasswordError):
        check_password("ann@example.com1", "ann@example.com")


def _staff_count() -> int:
    return db.session.execute(select(func.count()).select_from(StaffUser)).scalar_one()


def test_setup_refuses_a_weak_password(app, client, app_ctx):
    url = f"/admin/setup?token={setup_token()}"
    response = submit_form(
        client,
        url,
        client.get(url).text,
        email="first@example.com",
        password="aaaaaaaaaa",
        confirm="aaaaaaaaaa",
    )
    assert response.status_code == 400 and REPEATS in page(response)
    assert _staff_count() == 0


def test_an_invitee_cannot_choose_a_weak_password(app, client, app_ctx, staff_user):
    invite = staff_accounts.invite_staff(staff_user, "ivy@example.com", "marketer")
    db.session.commit()
    link = f"/admin/invite/{staff_accounts.invite_token(invite)}"
    form = client.get(link)
    response = client.post(
        link,
        data={
            "csrf_token": csrf_token(form.text),
            "password": "ivy@example.com!",
            "confirm": "ivy@example.com!",
        },
    )
    assert response.status_code == 400 and "This password is too easy to guess." in page(response)
    assert _staff_count() == 1
    db.session.expire_all()
    assert db.session.get(StaffInvite, invite.id).accepted_at is None  # the link still works for a better try
    accepted = client.post(
        link,
        data={
            "csrf_token": csrf_token(form.text),
            "password": "plum violin tuesday",
            "confirm": "plum violin tuesday",
        },
    )
    assert accepted.status_code == 302


def test_create_admin_refuses_a_weak_password(app, app_ctx, runner):
    result = runner.invoke(args=["create-admin", "boss@example.com", "--password", "aaaaaaaaaa"])
    assert result.exit_code == 1 and REPEATS in result.output
    assert _staff_count() == 0
    done = runner.invoke(args=["create-admin", "boss@example.com", "--password", "plum violin tuesday"])
    assert done.exit_code == 0 and "asks to set up a second factor" in done.output


def test_a_password_change_refuses_one_made_of_the_address(app, client, app_ctx):
    create_staff("mia.jones@example.com", "correct horse battery", "marketer")
    db.session.commit()
    login(client, "mia.jones@example.com", "correct horse battery")
    token = csrf_token(client.get("/admin/account").text)
    response = client.post(
        "/admin/account/password",
        data={
            "csrf_token": token,
            "current": "correct horse battery",
            "password": "MiaJones2024!",
            "confirm": "MiaJones2024!",
        },
    )
    assert response.status_code == 400 and "This password is too easy to guess." in page(response)
    db.session.expire_all()
    assert db.session.execute(select(StaffUser)).scalar_one().check_password("correct horse battery")
