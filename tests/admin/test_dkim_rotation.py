"""DKIM rotation from the Deliverability page against a real DNS server on loopback: a new selector is
created beside the signing key, switching is refused until DNS shows its record, then the old key is retired
(still listed) and every step is audited."""

import re

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.delivery.dkim import dns_txt_lines, signer_for_domain
from mailer.delivery.models import DkimKey
from tests.support.http import csrf_token, staff_client


def _post(client, path: str, **data):
    token = csrf_token(client.get("/admin/deliverability").text)
    return client.post(path, data={"csrf_token": token, **data})


def _key(selector: str) -> DkimKey:
    db.session.expire_all()
    return db.session.execute(select(DkimKey).where(DkimKey.selector == selector)).scalar_one()


def test_rotate_publish_check_and_switch(app, auth, runner, dns_zone):
    assert runner.invoke(args=["dkim", "keygen", "example.com", "--selector", "s2026"]).exit_code == 0

    created = _post(auth, "/admin/deliverability/dkim/new", domain="example.com", selector="s2027")
    assert created.status_code == 302
    page = auth.get("/admin/deliverability").text
    assert "Key s2027 created for example.com: publish its TXT record, then check DNS." in page
    assert "Not signing yet</span>\n          <strong>Selector s2027" in page
    assert "Signing</span>\n          <strong>Selector s2026" in page
    new = _key("s2027")
    assert dns_txt_lines(new) in page.replace("&#34;", '"')
    assert signer_for_domain("example.com").selector == "s2026"

    # Nothing published yet: the check says so and the switch is refused; the old key still signs.
    _post(auth, f"/admin/deliverability/dkim/{new.id}/check")
    assert (
        "Nothing is published at s2027._domainkey.example.com yet." in auth.get("/admin/deliverability").text
    )
    _post(auth, f"/admin/deliverability/dkim/{new.id}/switch")
    assert "Not switched: Nothing is published" in auth.get("/admin/deliverability").text
    assert signer_for_domain("example.com").selector == "s2026"

    value = "".join(re.findall(r'"([^"]*)"', dns_txt_lines(new)))
    dns_zone.records[("s2027._domainkey.example.com", "TXT")] = [value]
    _post(auth, f"/admin/deliverability/dkim/{new.id}/check")
    assert "is published and matches this key" in auth.get("/admin/deliverability").text
    assert _post(auth, f"/admin/deliverability/dkim/{new.id}/switch").status_code == 302
    page = auth.get("/admin/deliverability").text
    assert "Mail from @example.com is now signed with selector s2027; the old key is retired." in page
    assert "Retired</span>\n          <strong>Selector s2026" in page
    assert "Signing</span>\n          <strong>Selector s2027" in page
    db.session.expire_all()
    assert signer_for_domain("example.com").selector == "s2027"
    actions = db.session.execute(
        select(AuditEvent.action, AuditEvent.target_id).order_by(AuditEvent.id)
    ).all()
    assert ("dkim.create", "s2027._domainkey.example.com") in actions
    assert ("dkim.switch", "s2027._domainkey.example.com") in actions

    # A retired or signing key cannot be switched to again.
    _post(auth, f"/admin/deliverability/dkim/{_key('s2026').id}/switch")
    assert "Selector s2026 is retired" in auth.get("/admin/deliverability").text


def test_a_wrong_key_at_the_selector_is_not_published(app, auth, runner, dns_zone):
    _post(auth, "/admin/deliverability/dkim/new", domain="example.com", selector="s2027")
    new = _key("s2027")
    dns_zone.records[("s2027._domainkey.example.com", "TXT")] = ["v=DKIM1; k=rsa; p=AAAA"]
    _post(auth, f"/admin/deliverability/dkim/{new.id}/switch")
    assert (
        "The key published at s2027._domainkey.example.com is not this one."
        in auth.get("/admin/deliverability").text
    )
    assert signer_for_domain("example.com") is None


def test_bad_input_is_a_clear_400(auth):
    bad = _post(auth, "/admin/deliverability/dkim/new", domain="example.com", selector="no good")
    assert bad.status_code == 400 and "letters, digits and hyphens" in bad.text
    other = _post(auth, "/admin/deliverability/dkim/new", domain="elsewhere.org", selector="s1")
    assert other.status_code == 400 and "Choose one of the sending domains" in other.text
    assert _post(auth, "/admin/deliverability/dkim/999999/switch").status_code == 404
    assert _post(auth, "/admin/deliverability/dkim/999999/check").status_code == 404
    assert auth.post("/admin/deliverability/dkim/new", data={"domain": "example.com"}).status_code == 400


def test_marketers_cannot_rotate(app):
    client = staff_client(app, "marketer")
    assert "Create key to publish" not in client.get("/admin/deliverability").text
    answer = _post(client, "/admin/deliverability/dkim/new", domain="example.com", selector="s2027")
    assert answer.status_code == 403
