"""An A/B test set up, changed, run and decided through the API alone, with the admin's rules and sentences:
variants to the test share over SMTP, the consent-limited figures, the winner picked by hand and sent to the
rest; a visual variant keeps its design; refusals are 4xx and keep nothing."""

import json

from sqlalchemy import select

from mailer.audit.models import AuditEvent
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.support.ab_tests import TRACKING, by_address
from tests.support.campaigns import BODY, make_layout, subscriber


def _draft(api, n: int = 6) -> str:
    ensure_tracking_purposes()
    news = create_list("News")
    for i in range(n):
        subscriber(news, f"p{i}@example.net", f"P{i} Test", tracking=TRACKING)
    layout = make_layout()
    db.session.commit()
    body = {"name": "Spring", "subject": "Spring news", "body": BODY, "layout": layout.public_id}
    created = api.post("/campaigns", json={**body, "lists": [news.public_id], "track_clicks": True})
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def test_an_integration_sets_up_runs_and_decides_an_ab_test(api, read_api, worker, smtp_server):
    cid = _draft(api)
    path = f"/campaigns/{cid}/ab-test"
    assert api.get(path).status_code == 404 and api.get(path).get_json()["error"] == (
        "This campaign has no A/B test."
    )
    variants = [
        {"subject": "Subject A"},
        {"subject": "Subject B", "from_name": "Team B"},
        {"label": "Short", "body": "# Short one, {{ contact.first_name }}", "body_format": "markdown"},
    ]
    made = api.put(path, json={"test_percent": 50, "criterion": "manual", "variants": variants})
    assert made.status_code == 200, made.get_json()
    test = made.get_json()
    assert (test["test_percent"], test["wait_minutes"], test["criterion"], test["state"]) == (
        50,
        240,
        "manual",
        "draft",
    )
    assert [(v["letter"], v["label"], v["subject"], v["own_content"]) for v in test["variants"]] == [
        ("A", "", "Subject A", False),
        ("B", "", "Subject B", False),
        ("C", "Short", "Spring news", True),
    ]
    assert test["variants"][2]["body"].startswith("# Short one")

    # The admin's rules and sentences; a refused change keeps nothing.
    wide = api.put(path, json={"test_percent": 80, "variants": [{}, {}]})
    assert wide.status_code == 422
    assert wide.get_json()["error"] == "The test share must be between 5 and 50 % of the audience."
    sender = api.patch(f"{path}/variants/B", json={"from_name": "b@example.org"})
    assert sender.status_code == 422 and sender.get_json()["error"] == (
        "Variant B: the sender name can't contain an email address, “@”, “<” or “>”."
    )
    one = api.put(path, json={"variants": [{}]})
    assert one.status_code == 422 and one.get_json()["detail"] == {
        "variants": "An A/B test needs 2 to 4 variants."
    }
    assert api.patch(f"{path}/variants/D", json={"subject": "x"}).status_code == 404
    kept = api.get(path).get_json()
    assert (
        kept["test_percent"] == 50
        and len(kept["variants"]) == 3
        and kept["variants"][1]["from_name"] == "Team B"
    )
    assert read_api.put(path, json={"test_percent": 20}).status_code == 403

    # Drop C, change B alone, then send: the test share gets the variants, nobody two.
    assert len(api.put(path, json={"variants": variants[:2]}).get_json()["variants"]) == 2
    changed = api.patch(f"{path}/variants/B", json={"subject": "Subject B2"})
    assert changed.status_code == 200 and changed.get_json()["variants"][1]["from_name"] == "Team B"
    early = api.post(f"{path}/winner", json={"variant": "B"})
    assert early.status_code == 409 and early.get_json()["error"] == (
        "The winner can be chosen once the test share has been sent, while the campaign runs."
    )
    assert api.post(f"/campaigns/{cid}/send").status_code == 202
    worker.drain()
    share = by_address(smtp_server)
    assert len(share) == 3 and all(len(mails) == 1 for mails in share.values())
    assert sorted(mails[0]["Subject"] for mails in share.values()) in (
        ["Subject A", "Subject A", "Subject B2"],
        ["Subject A", "Subject B2", "Subject B2"],
    )
    running = api.get(path).get_json()
    assert (running["state"], running["can_pick"], running["winner"]) == ("testing", True, None)
    assert sum(v["sent"] for v in running["variants"]) == 3
    assert all(v["click_consenting"] == v["sent"] and v["clickers"] == 0 for v in running["variants"])
    assert running["live"]["leader"] == "A" and running["live"]["decisive"] is False
    assert api.put(path, json={"test_percent": 20}).get_json()["error"] == (
        "This campaign is no longer a draft; only a draft's A/B test can be changed."
    )
    assert api.delete(path).status_code == 409

    # A person picks B: the rest of the audience gets it, once.
    assert api.post(f"{path}/winner", json={"variant": "C"}).status_code == 422
    picked = api.post(f"{path}/winner", json={"variant": "B"})
    assert picked.status_code == 200, picked.get_json()
    assert (picked.get_json()["state"], picked.get_json()["winner"]) == ("decided", "B")
    again = api.post(f"{path}/winner", json={"variant": "A"})
    assert again.status_code == 409 and again.get_json()["error"] == (
        "The winner of this A/B test has already been chosen."
    )
    worker.drain()
    everyone = by_address(smtp_server)
    assert len(everyone) == 6 and all(len(mails) == 1 for mails in everyone.values())
    rest = [mails[0]["Subject"] for address, mails in everyone.items() if address not in share]
    assert rest == ["Subject B2"] * 3
    [audited] = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "campaign.ab_winner")
    ).scalars()
    assert audited.target_id == cid and audited.details["winner"] == "B" and audited.details["via"] == "api"


EXPORT = '<h1 id="v1">Pears, {{ contact.first_name | default(&quot;friend&quot;) }}!</h1>'


def test_a_visual_variant_keeps_its_design_and_a_test_can_be_removed(api):
    cid = _draft(api, 2)
    path = f"/campaigns/{cid}/ab-test"
    assert api.put(path, json={}).get_json()["criterion"] == "clicks"  # A and B, the campaign's own
    project = json.dumps({"pages": [], "styles": [], "mailer": {"exported": EXPORT}})
    visual = api.patch(
        f"{path}/variants/B", json={"body_format": "visual", "body": EXPORT, "body_project": project}
    )
    assert visual.status_code == 200, visual.get_json()
    b = visual.get_json()["variants"][1]
    assert (b["body_format"], b["visual_design"], b["own_content"]) == ("visual", True, True)
    shown = api.get(f"/campaigns/{cid}/preview", query_string={"variant": "B"}).get_json()
    assert "Pears, Jane!" in shown["html"]
    stale = api.patch(f"{path}/variants/B", json={"body": "<p>Edited as HTML</p>"})
    assert stale.get_json()["variants"][1]["visual_design"] is False  # the design no longer makes the body
    broken = api.patch(f"{path}/variants/B", json={"subject": "{{ contact.first_name"})
    assert broken.status_code == 422 and "Variant B" in broken.get_json()["error"]

    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404 and api.get(f"/campaigns/{cid}").get_json()["ab_test"] is None
