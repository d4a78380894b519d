"""The README's production deployment behind a real TLS-terminating nginx: staff log in and send a test, a
person signs up and confirms, and the app sees each client's own address, never the proxy's or one a client
made up.

nginx listens on 127.0.0.2 (a client connecting to it comes from 127.0.0.1) and reaches gunicorn from
127.0.0.3, so an app that took the proxy's address for the client's would record 127.0.0.3.
"""

import base64
import contextlib
import hashlib
import os
import re
import secrets
import shutil
import time
import uuid
from dataclasses import dataclass

import psycopg
import pytest
import redis
import requests
from cryptography.fernet import Fernet
from playwright.sync_api import expect
from requests.adapters import HTTPAdapter

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.db import create_postgres_database, drop_postgres_database
from tests.support.http import csrf_token
from tests.support.processes import Process, free_port
from tests.support.smtp import SmtpCapture
from tests.support.tls_proxy import (
    BIN,
    BROWSER_SIDE,
    NGINX,
    PROXY_SIDE,
    ReadmeDeployment,
    nginx_config,
    run_to_end,
    shared_temp_directory,
    wait_until_listening,
)

# One deployment (module fixtures) serves every test here: under pytest-xdist they stay in one process.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("tls_proxy")]

BROWSER_ADDRESS = "127.0.0.1"  # where Chromium's connections to BROWSER_SIDE come from
FORGED = "198.51.100.77"
MARKETER = "marketer@example.com"
PASSWORD = "a long passphrase nobody guesses 7"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _require(condition: bool, reason: str) -> None:
    """Missing parts skip a local run; in CI this test must run, so they fail it."""
    if not condition:
        (pytest.fail if IN_CI else pytest.skip)(reason)


def _with_option(argv: list[str], option: str, value: str) -> list[str]:
    """The README's command with one option's value changed (fewer processes on a shared test machine)."""
    index = argv.index(option)
    return [*argv[: index + 1], value, *argv[index + 2 :]]


@dataclass
class Deployment:
    """The running deployment as its tests reach it."""

    base: str
    ca_pem: str
    # Base64 SHA-256 of the server certificate's key, for Chromium's --ignore-certificate-errors-spki-list.
    spki: str
    smtp: SmtpCapture
    database: str  # psycopg conninfo

    def sql(self, statement: str, *params) -> list[tuple]:
        """Rows of a query on the deployment's database."""
        with psycopg.connect(self.database) as conn:
            return conn.execute(statement, params).fetchall()


def _certificates(prefix: str) -> tuple[str, str, str, str]:
    """A throw-away CA and a server certificate for BROWSER_SIDE: cert, key and CA files, and the server key's
    SPKI hash (base64 SHA-256), by which Chromium is told to trust it."""
    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    server = ca.issue_cert(BROWSER_SIDE)
    cert, key, ca_pem = (os.path.join(prefix, name) for name in ("server.pem", "server.key", "ca.pem"))
    for number, pem in enumerate(server.cert_chain_pems):
        pem.write_to_path(cert, append=number > 0)
    server.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(ca_pem)
    public_key = (
        x509.load_pem_x509_certificate(server.cert_chain_pems[0].bytes())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return cert, key, ca_pem, base64.b64encode(hashlib.sha256(public_key).digest()).decode()


def _drop_redis_keys(namespace: str) -> None:
    """Remove the deployment's keys from the shared test Redis."""
    client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _start(
    readme: ReadmeDeployment,
    env: dict[str, str],
    directory: str,
    listen_port: int,
    app_port: int,
    cert: str,
    key: str,
    cleanup: contextlib.ExitStack,
) -> None:
    """The README's commands in its order: schema, first accounts, web, worker; then nginx in front."""
    run_to_end("db upgrade", readme.commands["flask db"], env)
    create_admin = readme.commands["flask create-admin"]
    assert "you@example.com" in create_admin
    run_to_end("create-admin", create_admin, env, stdin=f"{PASSWORD}\n{PASSWORD}\n")  # it prompts, twice
    # The browser logs in as a marketer: a role that may edit and test campaigns and needs no second factor.
    run_to_end(
        "create-admin marketer",
        [MARKETER if word == "you@example.com" else word for word in create_admin]
        + ["--role", "marketer", "--password", PASSWORD],
        env,
    )
    run_to_end(
        "seed-demo", [os.path.join(BIN, "flask"), "--app", "wsgi", "seed-demo"], env
    )  # the hosted form
    config = os.path.join(directory, "nginx.conf")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(nginx_config(readme.nginx, directory, listen_port, app_port, cert, key))
    gunicorn = _with_option(readme.commands["gunicorn"], "-w", "2")
    programs = {
        "gunicorn": [f"127.0.0.1:{app_port}" if word == "127.0.0.1:8000" else word for word in gunicorn],
        "dramatiq": _with_option(_with_option(readme.commands["dramatiq"], "-p", "1"), "-t", "4"),
        "nginx": [NGINX, "-p", directory, "-c", config, "-e", f"{directory}/error.log"],
    }
    started = {}
    for name, argv in programs.items():
        started[name] = Process(name, argv, env, directory).start()
        cleanup.callback(started[name].stop)
    wait_until_listening(started["gunicorn"], "127.0.0.1", app_port)
    wait_until_listening(started["nginx"], BROWSER_SIDE, listen_port)


@pytest.fixture(scope="module")
def deployment():
    """nginx, gunicorn and one dramatiq worker as the README
    runs them, on a fresh database and Redis key space."""
    _require(
        os.path.exists(NGINX), f"nginx not found at {NGINX} (apt-get install nginx; .ci/run installs it)"
    )
    _require(
        bool(os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")),
        "needs TEST_DATABASE_URL and TEST_REDIS_URL (production runs on PostgreSQL and Redis)",
    )
    readme = ReadmeDeployment.read()
    run_id = uuid.uuid4().hex[:10]
    database_name, namespace = f"mailer_tls_{run_id}", f"mailer-tls-{run_id}"
    with contextlib.ExitStack() as cleanup:
        prefix = shared_temp_directory()
        cleanup.callback(shutil.rmtree, prefix, ignore_errors=True)
        cert, key, ca_pem, spki = _certificates(prefix)
        smtp = SmtpCapture()
        smtp.start()
        cleanup.callback(smtp.stop)
        database = create_postgres_database(os.environ["TEST_DATABASE_URL"], database_name).replace(
            "postgresql+psycopg://", "postgresql://", 1
        )
        cleanup.callback(drop_postgres_database, os.environ["TEST_DATABASE_URL"], database_name)
        cleanup.callback(_drop_redis_keys, namespace)
        listen_port, app_port = free_port(), free_port()  # free on 127.0.0.1: nobody else binds 127.0.0.2
        base = f"https://{BROWSER_SIDE}:{listen_port}"
        environment = {
            "MAILER_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "MAILER_HASH_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": database,
            "REDIS_URL": os.environ["TEST_REDIS_URL"],
            "SMTP_URL": smtp.url,
            "MAILER_BASE_URL": base,
            "MAILER_FROM": "News <news@example.com>",
            "MAILER_POSTAL_ADDRESS": "Example Ltd, 1 Main St, Berlin",
            "PROXY_FIX_X_FOR": "1",
            "MAILER_DATA_KEYS": Fernet.generate_key().decode(),
        }
        assert set(environment) == set(readme.variables), (
            "the README's Production section sets other variables"
        )
        for name in ("MAILER_ENV", "PROXY_FIX_X_FOR"):
            assert environment[name] == readme.variables[name], name
        environment["REDIS_NAMESPACE"] = namespace  # our own key space on the shared test Redis
        _start(
            readme, {**_clean(os.environ), **environment}, prefix, listen_port, app_port, cert, key, cleanup
        )
        yield Deployment(base, ca_pem, spki, smtp, database)


def _clean(environment) -> dict[str, str]:
    """The machine's environment without settings of the test run (each one the deployment sets itself)."""
    return {
        name: value
        for name, value in environment.items()
        if not name.startswith(("MAILER_", "TEST_", "PROXY_FIX_", "SMTP_", "REDIS_", "DATABASE_"))
    }


def wait_for_mail(smtp: SmtpCapture, address: str, subject_start: str, deadline_seconds: float = 30):
    """The first message to `address` whose subject starts so, once the SMTP server has it."""
    deadline = time.monotonic() + deadline_seconds
    with smtp.arrived:
        while True:
            found = [m for m in smtp.to(address) if str(m.message["Subject"]).startswith(subject_start)]
            if found:
                return found[0]
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no message {subject_start!r} to {address} arrived"
            smtp.arrived.wait(remaining)


class SourceAddress(HTTPAdapter):
    """requests from a chosen loopback address, as another client on the network would connect."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def client_at(deployment: Deployment, address: str) -> requests.Session:
    """An HTTPS client of the deployment connecting from `address`, trusting the throw-away CA."""
    session = requests.Session()
    session.trust_env = False  # no proxy or CA bundle from the environment: loopback, our own CA
    session.verify = deployment.ca_pem
    session.mount("https://", SourceAddress(address))
    return session


@pytest.fixture(scope="module")
def trusting_chromium(browser):
    """Debian's Chromium trusting the throw-away CA (by its key), as a browser trusts a real one."""

    def launch(deployment: Deployment):
        return browser.browser_type.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={deployment.spki}"],
        )

    return launch


def test_staff_edit_and_send_a_test_and_a_sign_up_records_the_browsers_address(deployment, trusting_chromium):
    chromium = trusting_chromium(deployment)
    # Every request also claims another address: nginx appends the one it saw, and only that one may count.
    context = chromium.new_context(base_url=deployment.base, extra_http_headers={"X-Forwarded-For": FORGED})
    errors: list[str] = []
    try:
        signup = context.new_page()
        signup.on("pageerror", lambda exc: errors.append(str(exc)))
        signup.goto("/f/demo")  # opened first: the form's minimum fill time runs while staff work
        expect(signup.get_by_role("heading", level=1)).to_have_text("Subscribe to the demo newsletter")

        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/admin/login")
        page.get_by_label("Email").fill(MARKETER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()

        page.get_by_role("link", name="Campaigns").click()
        page.get_by_role("link", name="Write your first campaign").click()
        page.get_by_label("Campaign name").fill("Proxy news")
        subject = page.get_by_label("Subject", exact=True)
        subject.fill("Draft subject")
        page.get_by_label("Demo newsletter ·").check()
        page.get_by_label("Body", exact=True).fill(
            "# Hello {{ contact.first_name }}\n\nSent through nginx.\n"
        )
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_text("Draft saved.")).to_be_visible()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
        page.get_by_role("link", name="Proxy news").click()
        page.get_by_role("link", name="Edit").first.click()
        subject = page.get_by_label("Subject", exact=True)
        expect(subject).to_have_value("Draft subject")
        subject.fill("Through the proxy, {{ contact.first_name | default('friend') }}")
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_text("Draft saved.")).to_be_visible()
        page.get_by_label("Addresses").fill(MARKETER)
        page.get_by_role("button", name="Send test").click()
        expect(page.get_by_role("alert").filter(has_text=f"sent to {MARKETER}")).to_be_visible()
        test_message = wait_for_mail(deployment.smtp, MARKETER, "[TEST] Through the proxy")
        assert deployment.base + "/" in test_message.data.decode("utf-8", "replace").replace("=\r\n", "")

        signup.get_by_label("Email address").fill("ann@example.com")
        signup.get_by_label("Yes, send me “Demo newsletter” by email.").check()
        signup.get_by_role("button", name="Subscribe").click()
        expect(signup.get_by_role("status")).to_contain_text("Please check your inbox")
        confirmation = wait_for_mail(deployment.smtp, "ann@example.com", "")
        text = confirmation.message.get_body(("plain",)).get_content()
        link = re.search(re.escape(deployment.base) + r"/confirm/\S+", text).group(0)
        signup.goto(link)
        expect(signup.get_by_role("heading", name="Thank you — you're subscribed")).to_be_visible()

        recorded = deployment.sql("SELECT action, ip FROM consent_events ORDER BY id")
        assert ("requested", BROWSER_ADDRESS) in recorded and ("confirmed", BROWSER_ADDRESS) in recorded, (
            recorded
        )
        assert {ip for _action, ip in recorded} - {None} == {BROWSER_ADDRESS}, (
            recorded
        )  # (the worker's: no IP)
        [(public_id,)] = deployment.sql("SELECT public_id FROM contacts")
        page.goto(f"/admin/contacts/{public_id}/evidence")
        expect(page.get_by_role("heading", level=1)).to_have_text("Proof of double opt-in")
        expect(page.locator("main")).to_contain_text(BROWSER_ADDRESS)
        expect(page.locator("main")).not_to_contain_text(PROXY_SIDE)
        expect(page.locator("main")).not_to_contain_text(FORGED)
    finally:
        context.close()
        chromium.close()
    assert not errors, f"JavaScript errors: {errors}"


def test_security_headers_on_real_responses_through_nginx(deployment):
    client = client_at(deployment, "127.0.0.5")
    admin = client.get(deployment.base + "/admin/login")
    assert admin.status_code == 200
    assert admin.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in admin.headers["Content-Security-Policy"]
    assert admin.headers["X-Frame-Options"] == "DENY" and admin.headers["Cache-Control"] == "no-store"
    session_cookie = next(cookie for cookie in client.cookies if cookie.name == "session")
    assert session_cookie.secure and session_cookie.has_nonstandard_attr("HttpOnly")

    form = client.get(deployment.base + "/f/demo")
    assert form.headers["Referrer-Policy"] == "no-referrer"
    # Other sites may frame the form (its allowed origins; any site when none are set).
    assert form.headers["Content-Security-Policy"].endswith("frame-ancestors 'self' *")
    assert "X-Frame-Options" not in form.headers
    for path in ("/p", "/privacy", "/u/broken-link", "/t/o/broken-link"):  # the last through the fast path
        response = client.get(deployment.base + path)
        assert response.headers["Referrer-Policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
    for response in (admin, form, client.get(deployment.base + "/t/o/broken-link")):
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.url
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains", (
            response.url
        )


def test_a_stolen_session_cookie_is_refused_even_with_the_victims_address_forged(deployment):
    agent = {"User-Agent": "StaffBrowser/1.0"}
    staff = client_at(deployment, "127.0.0.7")
    staff.headers.update(agent)
    login = staff.get(deployment.base + "/admin/login")
    logged_in = staff.post(
        deployment.base + "/admin/login",
        allow_redirects=False,
        headers={"Referer": deployment.base + "/admin/login"},
        data={"email": MARKETER, "password": PASSWORD, "csrf_token": csrf_token(login.text)},
    )
    assert logged_in.status_code == 302, logged_in.text
    assert staff.get(deployment.base + "/admin/", allow_redirects=False).status_code == 200

    thief = client_at(deployment, "127.0.0.8")
    thief.headers.update({**agent, "X-Forwarded-For": "127.0.0.7"})
    thief.cookies.update({"session": staff.cookies["session"]})
    stolen = thief.get(deployment.base + "/admin/", allow_redirects=False)
    assert stolen.status_code == 302 and "/admin/login" in stolen.headers["Location"]
    assert staff.get(deployment.base + "/admin/", allow_redirects=False).status_code == 200
