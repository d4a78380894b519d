"""axe-core (WCAG 2.2 AA) on every page: every admin GET route, enumerated from the URL map so a new page is
scanned automatically, with one of everything seeded so each page has content; and every public page a
recipient sees (hosted form, confirm, confirmed, preference centre, unsubscribe, privacy pages, error pages).
Fails on any serious or critical violation."""

from collections import Counter
from datetime import timedelta
from io import BytesIO
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select

from mailer.bulk.models import BulkJob
from mailer.campaigns import ab_testing
from mailer.campaigns.models import Campaign, CampaignStatus, Layout
from mailer.contacts.models.imports import ContactImport
from mailer.contacts.tags import ensure_tag
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.urls import RecipientLink, preferences_url, recipient_url, unsubscribe_url
from mailer.delivery.models import OutboxMessage
from mailer.journeys.models import Journey, JourneyStep
from mailer.media.models import MediaItem
from mailer.privacy import settings as privacy_settings
from mailer.privacy.requests import open_request
from mailer.segments.models import Segment
from mailer.segments.operations import save_segment
from mailer.staff.accounts import create_staff
from mailer.staff.models.accounts import StaffInvite
from mailer.subscriptions.models.forms import Form
from mailer.subscriptions.models.lists import MailingList
from mailer.transactional.models import TxTemplate
from tests.browser.conftest import keyboard_login
from tests.journeys.test_engine import welcome_series
from tests.support import deliveries
from tests.support.campaigns import make_campaign, subscriber
from tests.support.http import csrf_token, login
from tests.support.imports import upload_file
from tests.support.media import photo
from tests.support.privacy import define_fields, fill_fields, links_in_mail, sign_up_and_confirm
from tests.transactional.helpers import reset_template

BLOCKING = ("serious", "critical")
# Not pages: files, JSON and the e-mail documents shown inside the preview iframes (the marketer's own HTML).
NOT_PAGES = {
    "admin.audit_export",
    "admin.import_report",
    "admin.privacy_request_export",
    "admin.settings_ropa_csv",
    "admin.settings_ropa_json",
    "admin.campaign_progress",
    "admin.import_progress",
    "admin.bulk_job_progress",
    "admin.campaign_preview_document",
    "admin.campaign_ab_variant_preview_document",
    "admin.layout_preview_document",
    "admin.outbox_html",
    "admin.tx_template_preview_document",
}
# Routes a signed-in owner cannot meaningfully open (they belong to signing in or setting up).
OWN_FLOW = {"admin.login", "admin.login_verify", "admin.setup", "admin.invite_accept", "admin.account_totp"}
_AXE = Axe()


class Scan:
    """Runs axe on each page shown to it and keeps the blocking violations, per rule and per page."""

    def __init__(self, page: Page):
        self.page = page
        self.pages: list[str] = []
        self.per_rule: Counter[str] = Counter()
        self.all_rules: Counter[str] = Counter()  # every impact, for the record
        self.problems: list[str] = []

    def visit(self, path: str, expect_status: int | tuple[int, ...] = 200) -> None:
        response = self.page.goto(path)
        assert response is not None
        allowed = expect_status if isinstance(expect_status, tuple) else (expect_status,)
        assert response.status in allowed, f"{path} answered {response.status}"
        if not response.headers.get("content-type", "").startswith("text/html"):
            return  # a file or JSON behind a GET route (a new one needs no entry in NOT_PAGES)
        self.check(path if response.status == 200 else f"{path} ({response.status})")

    def check(self, label: str) -> None:
        self.pages.append(label)
        self.page.wait_for_load_state("load")  # its stylesheets applied: axe judges the page a person sees
        results = _AXE.run(self.page).response
        for violation in results["violations"]:
            self.all_rules[f"{violation['id']} ({violation['impact']})"] += len(violation["nodes"])
            if violation["impact"] not in BLOCKING:
                continue
            self.per_rule[violation["id"]] += len(violation["nodes"])
            for node in violation["nodes"]:
                self.problems.append(
                    f"{label}: {violation['id']} ({violation['impact']}) at {node['target']}: "
                    f"{node.get('failureSummary', '').splitlines()[-1:]}"
                )

    def verdict(self) -> str:
        totals = ", ".join(f"{rule}={n}" for rule, n in self.per_rule.most_common())
        return (
            f"{len(self.pages)} pages, {sum(self.per_rule.values())} blocking nodes ({totals})\n"
            + "\n".join(self.problems)
        )


def _seed(app, client) -> dict[str, str]:
    """One of everything (campaigns in each state, lists, forms, contacts, segments, journeys, privacy
    requests, fields, media, relays, staff, imports), so each page shows content; ids by endpoint prefix."""
    campaign, people = deliveries.seed()  # a sending campaign with deliveries in every state
    news = campaign.lists[0]
    layout = db.session.execute(select(Layout)).scalars().first()
    now = utcnow()
    for status in CampaignStatus:
        if status is CampaignStatus.SENDING:
            continue
        other = make_campaign([news], layout=layout)
        other.name = f"{status.value.title()} campaign"
        other.status = status.value
        if status is CampaignStatus.SCHEDULED:
            other.scheduled_at = now + timedelta(days=2)
        if status in (CampaignStatus.SENT, CampaignStatus.PAUSED, CampaignStatus.CANCELLED):
            other.started_at = now - timedelta(days=1)
        if status is CampaignStatus.SENT:
            other.finished_at = now - timedelta(hours=20)
    ab_draft = make_campaign([news], layout=layout)  # an A/B tested draft: its variant pages have content
    ab_draft.name = "A/B tested draft"
    ab_testing.configure(ab_draft, enabled=True)
    subscriber(news, "pending@example.net", "Pending Person", status="pending")
    fields = define_fields()
    fill_fields(people[0], fields, {"health": "Asthma", "postcode": "24937"})
    ensure_tag("vip")
    save_segment(
        "People at example.net",
        {"match": "all", "rules": [{"field": "email_domain", "op": "is", "value": "example.net"}]},
        actor=None,
    )
    welcome_series(news)
    reset_template()  # a transactional template
    request = open_request("access", "email", contact=people[1])
    privacy_settings.save_recipient(privacy_settings.RecipientInput(name="Relay Ltd", purpose="Sending"))
    create_staff("viewer@example.com", "correct horse battery", "viewer")
    db.session.add(
        StaffInvite(email="invited@example.com", role="editor", nonce="n", expires_at=now + timedelta(days=3))
    )
    db.session.commit()

    token = csrf_token(client.get("/admin/relays/new").text)
    relay = {"csrf_token": token, "name": "ses-eu", "host": "email-smtp.eu-west-1.amazonaws.com"}
    relay.update(port="587", tls_mode="starttls", verify_tls="y", username="AKIA", password="s3cret-relay")
    assert client.post("/admin/relays/new", data=relay).status_code == 302
    token = csrf_token(client.get("/admin/media").text)
    upload = {"csrf_token": token, "image": (BytesIO(photo()), "team.jpg"), "alt_text": "Our team"}
    assert client.post("/admin/media", data=upload, content_type="multipart/form-data").status_code == 302
    imported = upload_file(client, news.id, b"email,name\nnew1@example.org,New One\nbad-address,Nobody\n")
    assert imported.status_code == 302, imported.text
    bulk = {"csrf_token": csrf_token(client.get("/admin/contacts").text), "action": "list_add"}
    bulk.update({"list": "", "tag": "vip", "contact": [people[2].public_id, people[3].public_id]})
    bulk["action"] = "tag"
    review = client.post("/admin/contacts/bulk", data=bulk)
    assert review.status_code == 200, review.text
    assert client.post("/admin/contacts/bulk", data=bulk | {"start": "1"}).status_code in (200, 302)

    def first_public_id(model) -> str:
        found = db.session.execute(select(model.public_id).order_by(model.id)).scalars().first()
        return found or "nope"

    journey = db.session.execute(select(Journey)).scalars().first()
    step = db.session.execute(select(JourneyStep).order_by(JourneyStep.position)).scalars().first()
    return {
        "admin.privacy_contact": people[0].public_id,
        "admin.privacy_request": request.public_id,
        "admin.analytics_list": news.public_id,
        "admin.list": news.public_id,
        "admin.analytics_campaign": campaign.public_id,
        "admin.campaign": campaign.public_id,
        "admin.campaign_ab": ab_draft.public_id,
        "position": "1",
        "admin.contact": people[0].public_id,
        "admin.form": first_public_id(Form),
        "admin.layout": first_public_id(Layout),
        "admin.outbox": first_public_id(OutboxMessage),
        "admin.settings_recipient": privacy_settings.recipients()[0].public_id,
        "admin.staff_invite": first_public_id(StaffInvite),
        "admin.segment": first_public_id(Segment),
        "admin.journey": journey.public_id if journey else "nope",
        "admin.media": first_public_id(MediaItem),
        "admin.import": first_public_id(ContactImport),
        "admin.bulk_job": first_public_id(BulkJob),
        "admin.tx_template": first_public_id(TxTemplate),
        "step_id": str(step.id if step else 0),
        "name": "ses-eu",
        "key": "health",
        "delivery_id": "999999",  # no such webhook delivery: answered 404 (an int in the URL)
    }


def _admin_paths(app, ids: dict[str, str]) -> list[str]:
    """Every admin GET page, from the URL map; ids filled in from the seeded world (longest prefix wins)."""
    prefixes = sorted((k for k in ids if k.startswith("admin.")), key=len, reverse=True)
    paths = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("admin.") or rule.endpoint == "admin.static":
            continue
        if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES | OWN_FLOW:
            continue
        values = {}
        for name in rule.arguments:
            if name == "public_id":
                values[name] = next((ids[p] for p in prefixes if rule.endpoint.startswith(p)), "nope")
            else:
                values[name] = ids.get(name, "nope")
        paths.append(rule.build(values, append_unknown=False)[1])
    return paths


def _public_pages(app, scan: Scan, client, worker) -> None:
    """The pages a recipient sees, in the states they meet them."""
    ann = sign_up_and_confirm(
        app, client, worker, "ann@example.com", "Ann Example", ip="192.0.2.1", user_agent="UA/1",
        confirm_ip="192.0.2.1", confirm_user_agent="UA/1",
    )  # fmt: skip
    scan.visit("/f/demo")
    scan.page.get_by_role("button", name="Subscribe").click()  # nothing filled in: the page with its errors
    expect(scan.page.locator("[data-mailer-message][role=alert]")).not_to_be_empty()  # embed.js answered
    scan.check("/f/demo (refused)")
    scan.page.goto("/f/demo")
    scan.page.get_by_label("Email address").fill("bob@example.com")
    scan.page.get_by_role("checkbox").first.check()
    scan.page.get_by_role("button", name="Subscribe").click()
    # embed.js shows the answer once the sign-up was received
    expect(scan.page.locator("[data-mailer-message][role=status]")).not_to_be_empty()
    scan.check("/f/demo (check your inbox)")
    worker.drain()
    [confirm] = links_in_mail(app, "bob@example.com", "/confirm/")
    scan.page.route(
        "**/static/confirm.js", lambda route: route.abort()
    )  # as without JavaScript: no autosubmit
    scan.visit(confirm)
    scan.page.unroute("**/static/confirm.js")
    scan.page.get_by_role("button", name="Yes, confirm my subscription").click()
    expect(scan.page.get_by_role("button", name="Yes, confirm my subscription")).to_have_count(0)
    scan.check("/confirm (confirmed)")
    scan.visit("/confirm/resent")
    scan.visit("/p")
    scan.visit(urlsplit(preferences_url(ann.public_id)).path)
    demo_list = db.session.execute(select(MailingList).order_by(MailingList.id)).scalars().first()
    scan.visit(urlsplit(unsubscribe_url(ann.public_id, demo_list.public_id, None)).path)
    scan.visit("/privacy")
    preferences = urlsplit(preferences_url(ann.public_id)).path
    for kind in ("access", "portability", "rectification", "erasure", "restriction", "objection"):
        scan.visit(f"{preferences}/privacy/{kind}")
    for link in (RecipientLink.DATA_DOWNLOAD, RecipientLink.KEEP_SUBSCRIBED):
        scan.visit(urlsplit(recipient_url(link, "no-such-thing")).path, (200, 400, 404, 410))
    scan.visit("/privacy/verify/not-a-token", (400, 404, 410))
    scan.visit("/confirm/not-a-token", (400, 404, 410))
    scan.visit("/no-such-page", 404)


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_every_page_passes_axe(app, page, live_server, staff_user, demo_form, worker, media_dir, width):
    page.set_viewport_size({"width": width, "height": 800})
    scan = Scan(page)
    client = app.test_client()
    _public_pages(app, scan, client, worker)
    scan.visit("/admin/login")

    login(client, "owner@example.com", "correct horse battery")
    ids = _seed(app, client)
    keyboard_login(page)
    for path in _admin_paths(app, ids):
        scan.visit(path, (200, 400, 404))
    campaigns = db.session.execute(select(Campaign).order_by(Campaign.id)).scalars().all()
    for campaign in campaigns:  # the report of a campaign in each state
        if campaign.status in tuple(CampaignStatus):
            scan.visit(f"/admin/campaigns/{campaign.public_id}")
    draft = next(c for c in campaigns if c.status == CampaignStatus.DRAFT)
    for step in ("edit", "schedule", "send", "preview"):  # a draft's own steps (the walk used a sending one)
        scan.visit(f"/admin/campaigns/{draft.public_id}/{step}", (200, 400))  # 400: not ready, and why
    assert len(scan.pages) > 110, scan.pages
    print("\n".join(scan.pages))
    print("all impacts:", dict(scan.all_rules))
    print(scan.verdict())
    assert not scan.problems, scan.verdict()
