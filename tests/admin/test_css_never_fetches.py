"""CSS in a marketer's layout or body never makes the server fetch anything: not `@import url(http://…)` (a
loopback listener must receive nothing), not `file://` (the file's content must not appear), and a server that
never answers cannot hold up previews or /healthz. Saving such CSS is refused with a message that says why."""

import http.server
import re
import socket
import threading
import time

import pytest
import requests
from sqlalchemy import select

from mailer.campaigns.composition import send_test_messages
from mailer.core.extensions import db
from mailer.delivery.models import OutboxMessage
from tests.support.browser import live_server, live_server_url  # noqa: F401 - fixtures
from tests.support.campaigns import LAYOUT, make_layout, newsletter
from tests.support.http import RequestsClient, csrf_token, login
from tests.support.signup import page

LEAKED_COLOUR = "#abcdef"
SECRET = "SECRET-FILE-CONTENT-7f3a"


class CssServer:
    """A real HTTP server on loopback that would serve CSS, recording every connection made to it."""

    def __init__(self):
        self.connections: list[str] = []
        recorder = self.connections

        class Handler(http.server.BaseHTTPRequestHandler):
            def setup(self):
                recorder.append(self.client_address[0])
                super().setup()

            def do_GET(self):  # the stdlib's name
                body = f".leak {{ color: {LEAKED_COLOUR} }}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SilentServer:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def connected(self) -> bool:
        self.sock.setblocking(False)
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


@pytest.fixture
def css_server():
    server = CssServer()
    yield server
    server.close()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.css"
    path.write_text(f".leak {{ color: {LEAKED_COLOUR} }} /* {SECRET} */", encoding="utf-8")
    return path.as_uri()


def _style(*imports: str) -> str:
    """The test layout with a <style> that imports each URL
    (both @import spellings) and a styled paragraph."""
    rules = " ".join(f'@import url({url}); @import "{url}";' for url in imports)
    return LAYOUT.replace("<style>", f"<style>{rules} ").replace(
        "{{ content }}", '<p class="leak">Hi</p>{{ content }}'
    )


def _assert_nothing_fetched(server: CssServer, *outputs: str, sources: tuple[str, ...] = ()):
    """No connection; no fetched CSS in any output; rendered
    outputs keep no @import (sources show it as typed)."""
    assert server.connections == [], "the server fetched a stylesheet named by a marketer"
    for output in outputs + sources:
        assert LEAKED_COLOUR not in output and SECRET not in output
    for output in outputs:
        assert "@import" not in output


def test_saving_css_that_loads_other_files_is_refused(app, auth, demo_form, css_server, secret_file):
    token = csrf_token(auth.get("/admin/layouts/new").text)
    for html, message in [
        (_style(f"{css_server.url}/a.css"), "uses @import to load a stylesheet"),
        (_style(secret_file), "uses @import to load a stylesheet"),
        (LAYOUT.replace("<style>", f"<style>@\\69mport url({css_server.url}/escaped.css); "), "uses @import"),
        (
            LAYOUT.replace("<style>", f'<link rel="stylesheet" href="{css_server.url}/l.css"><style>'),
            "links a remote stylesheet",
        ),
    ]:
        refused = auth.post(
            "/admin/layouts/new", data={"csrf_token": token, "name": "Importer", "html": html}
        )
        assert refused.status_code == 400 and message in page(refused), html
        live = auth.post(
            "/admin/layouts/preview.json", data={"csrf_token": token, "name": "Importer", "html": html}
        )
        assert live.status_code == 200 and any(message in p for p in live.get_json()["problems"])
        _assert_nothing_fetched(css_server, live.get_json()["html"])

    body = f"<style>@import url({css_server.url}/body.css);</style><p>Hello</p>"
    from tests.admin.test_campaign_pages import editor_fields

    refused = auth.post("/admin/campaigns/new", data=editor_fields(auth, body_format="html", body=body))
    assert refused.status_code == 400 and "The body uses @import to load a stylesheet" in page(refused)
    unclosed = auth.post(
        "/admin/campaigns/new",
        data=editor_fields(
            auth, body_format="html", body=f"<p>Hello</p><style>@import url({css_server.url}/open.css);"
        ),
    )
    assert unclosed.status_code == 400 and "uses @import" in page(unclosed)  # a <style> never closed, too
    prose = auth.post(
        "/admin/campaigns/new", data=editor_fields(auth, body="Tip: `@import` belongs in CSS files.")
    )
    assert prose.status_code == 302  # words about @import outside a stylesheet are just words
    assert css_server.connections == []


def test_previews_and_sending_of_stored_css_fetch_nothing(app, auth, css_server, secret_file, worker):
    """Layouts and bodies saved before the check (stored as
    they are) still never reach the network or a file."""
    imports = (f"{css_server.url}/layout.css", secret_file)
    body = (
        f"<style>@import url({css_server.url}/body.css); @import url({secret_file});</style>"
        '<p class="leak">x</p>'
    )
    layout = make_layout(_style(*imports))
    campaign, _people = newsletter(1, layout=layout)
    campaign.body_format, campaign.body = "html", body
    db.session.commit()
    token = csrf_token(auth.get("/admin/layouts/new").text)
    show_page = auth.get(f"/admin/layouts/{layout.public_id}").text  # the preview and the source as typed
    outputs = [
        auth.get(f"/admin/layouts/{layout.public_id}/preview.html").text,
        auth.post(
            "/admin/layouts/preview.json", data={"csrf_token": token, "name": "L", "html": layout.html}
        ).get_json()["html"],
        auth.get(f"/admin/campaigns/{campaign.public_id}/preview").text,
        auth.get(f"/admin/campaigns/{campaign.public_id}/preview.html").text,
    ]
    assert 'class="leak"' in outputs[0] and "Hi" in outputs[0]  # the layout did render
    assert send_test_messages(campaign.id, ["tester@example.com"]) == 1  # the workers' code path
    raw = db.session.execute(
        select(OutboxMessage.raw).where(OutboxMessage.rcpt_to == "tester@example.com")
    ).scalar_one()
    _assert_nothing_fetched(css_server, *outputs, raw.decode("utf-8", "replace"), sources=(show_page,))


def _logged_in_session(base: str) -> requests.Session:
    session = requests.Session()
    login(
        RequestsClient(session, base), "owner@example.com", "correct horse battery"
    )  # with the second factor
    return session


def test_ten_previews_against_a_server_that_never_answers_return_promptly(app, staff_user, live_server):  # noqa: F811
    silent = SilentServer()
    try:
        layout = make_layout(_style(f"{silent.url}/never.css"))
        db.session.commit()
        session = _logged_in_session(live_server)
        url = f"{live_server}/admin/layouts/{layout.public_id}/preview.html"
        statuses: list[int] = []

        def preview():
            statuses.append(session.get(url, timeout=60).status_code)

        started = time.monotonic()
        threads = [threading.Thread(target=preview, daemon=True) for _ in range(10)]
        for thread in threads:
            thread.start()
        health = requests.get(f"{live_server}/healthz", timeout=10)
        for thread in threads:
            thread.join(timeout=max(0.1, 30 - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
        assert statuses == [200] * 10, f"{len(statuses)} of 10 previews answered in {elapsed:.1f} s"
        assert elapsed < 30 and health.status_code == 200 and health.json()["database"] == "ok"
        assert not silent.connected()
        assert re.search(r'class="leak"', session.get(url, timeout=10).text)
    finally:
        silent.sock.close()
