"""A/B tested campaigns for the tests, built through the real operations."""

from mailer.campaigns import ab_testing
from mailer.campaigns.models import Campaign
from mailer.core.extensions import db
from mailer.subscriptions.lists import create_list, ensure_tracking_purposes
from tests.support.campaigns import make_campaign, subscriber

TRACKING = ("tracking:open", "tracking:click")


def ab_campaign(n: int, *, percent: int = 50, variants: int = 2, criterion: str = "clicks") -> Campaign:
    """n subscribers who consent to tracking, and an A/B tested campaign to them (variant X: 'Subject X')."""
    ensure_tracking_purposes()
    news = create_list("News")
    for i in range(n):
        subscriber(news, f"p{i}@example.net", f"P{i} Test", tracking=TRACKING)
    campaign = make_campaign([news], track_opens=True, track_clicks=True, from_email="news@example.org")
    ab_testing.configure(campaign, enabled=True, test_percent=percent, wait_minutes=60, criterion=criterion)
    while len(campaign.ab_variants) < variants:
        ab_testing.add_variant(campaign)
    for variant in campaign.ab_variants:
        letter = ab_testing.letter(variant.position)
        ab_testing.update_variant(
            campaign, variant.position, subject=f"Subject {letter}", from_name=f"Team {letter}"
        )
    db.session.commit()
    return campaign


def by_address(smtp_server) -> dict[str, list]:
    found: dict[str, list] = {}
    for message in smtp_server.messages:
        found.setdefault(message.rcpt_tos[0], []).append(message.message)
    return found
