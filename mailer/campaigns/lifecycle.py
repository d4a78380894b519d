"""Campaign operations for people: compliance preview, test send, start / schedule / pause / resume / cancel,
progress.

The moves themselves are mailer.campaigns.states; this module checks what people ask for and queues the work.
The caller commits; messages to workers go out only after that commit. Workers send
(mailer.campaigns.sending).
"""

import logging
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import case, func, select

from mailer.campaigns import ab_testing, audience_count, rendering, sending, states
from mailer.campaigns.composition import sender_address
from mailer.campaigns.models import Campaign, CampaignStatus, Link
from mailer.campaigns.rendering import CampaignError
from mailer.campaigns.sending import STORE
from mailer.contacts.operations import AddressError, normalise_email
from mailer.core import counters, urls
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.sentences import N_, Sentence
from mailer.delivery import engine
from mailer.delivery.models import FINAL_DELIVERY_STATUSES, Delivery, DeliveryStatus
from mailer.organisation import settings as organisation_settings

__all__ = ["CampaignError"]  # raised by every operation here

log = logging.getLogger(__name__)
MAX_TEST_ADDRESSES = 10
RATE_WINDOW_SECONDS = 60  # the live rate (and so the ETA) is over this recent window, not since the start


# Refusals in English (the API's words); the admin shows them in the staff member's language (core.sentences).
NO_AUDIENCE = Sentence(N_("Choose at least one list or segment to send to."))
NOBODY_MAY_RECEIVE = Sentence(
    N_("Nobody on the chosen lists may receive this campaign right now (see the exclusions).")
)
UNKNOWN_ZONE = Sentence(N_("Unknown time zone “%(zone)s”."))
TIME_PASSED = Sentence(N_("That time has already passed. Choose a time in the future."))
NO_TEST_ADDRESS = Sentence(N_("Enter at least one address for the test."))
TOO_MANY_TEST_ADDRESSES = Sentence(N_("Send a test to at most %(limit)s addresses at once."))


def _problems(campaign: Campaign) -> list[str]:
    """Everything that stops this campaign from being sent, in words for people."""
    problems = []
    if not organisation_settings.postal_address().strip():
        problems.append(
            "No postal address is set: add it under Settings → Organisation; marketing email must show one."
        )
    if campaign.layout is None:
        problems.append("Choose a layout.")
    elif not campaign.layout.verified or rendering.validate_layout(campaign.layout.html):
        problems.append(
            f"The layout “{campaign.layout.name}” is missing required footer parts; fix it first."
        )
    if not (campaign.subject or "").strip():
        problems.append("Write a subject line.")
    if not (campaign.body or "").strip():
        problems.append("Write the campaign's content.")
    try:
        sender_address(campaign)
    except ValueError:
        problems.append("The sender address is not a valid email address.")
    if insecure := urls.insecure_links_problem():
        problems.append(insecure)
    problems += ab_testing.problems(campaign)
    for variant in campaign.ab_variants if campaign.ab_test is not None else ():
        try:
            sender_address(cast(Campaign, ab_testing.VariantView(campaign, variant)))
        except ValueError:
            problems.append(
                f"The sender name of {ab_testing.variant_name(variant)} is not valid in an address."
            )
    return problems


def require_sendable(campaign: Campaign, need_lists: bool = True) -> None:
    problems = _problems(campaign)
    if need_lists and not campaign.lists and not campaign.segments:
        problems.append(NO_AUDIENCE())
    # A deleted list (its subscriptions perhaps still being ended by its deletion job) is sent to by nobody.
    problems += [f"The list “{lst.name}” was deleted: untick it." for lst in campaign.lists if lst.deleted_at]
    if problems:
        raise CampaignError(" ".join(problems))


def compliance_preview(campaign: Campaign, for_page: bool = False, again: bool = False) -> dict:
    """Count who would receive the campaign now and who is excluded, by reason; stored with the campaign.

    The stored count is kept while nothing it counts has changed (mailer/campaigns/audience_count.py).
    `for_page`/`again` (a page, or its Count again button): a large audience is counted in the background,
    and the stored preview shows that count's progress until it is done; `again` counts even if the stored
    one holds.
    """
    if not campaign.lists and not campaign.segments:
        raise CampaignError(NO_AUDIENCE())
    db.session.flush()
    if for_page or again:
        return audience_count.preview_for_page(campaign, again=again)
    if audience_count.is_fresh(campaign):  # counted (in the background, say) and nothing changed since
        return campaign.compliance
    return audience_count.count_now(campaign)


def compile_for_sending(campaign: Campaign) -> rendering.CompiledCampaign:
    """Compile and CSS-inline once (and each A/B test variant once); create the campaign's Link rows; prove
    each renders for a sample person."""
    compiled = _compile_source(campaign)
    campaign.compiled_html, campaign.compiled_text = compiled.html_source, compiled.text_source
    for variant in campaign.ab_variants if campaign.ab_test is not None else ():
        try:
            own = _compile_source(cast(Campaign, ab_testing.VariantView(campaign, variant)))
        except CampaignError as exc:
            raise CampaignError(f"{ab_testing.variant_name(variant)}: {exc}") from None
        variant.compiled_html, variant.compiled_text = own.html_source, own.text_source
    return compiled


def _compile_source(campaign: Campaign) -> rendering.CompiledCampaign:
    """Compile one source (the campaign, or a variant's view of it) with tracked links; render a sample."""

    def link_ids(urls: list[str]) -> dict[str, int]:
        known = {link.url: link for link in campaign.links}
        for url in urls:
            if url not in known:
                known[url] = Link(url=url)
                campaign.links.append(known[url])
        db.session.flush()
        return {url: known[url].id for url in urls}

    compiled = rendering.compile_campaign(campaign, link_ids)
    context = rendering.base_context(campaign)
    context.update(
        contact=dict(rendering.SAMPLE_CONTACT),
        unsubscribe_url="https://example.invalid/u",
        preferences_url="https://example.invalid/p",
        _links=compiled.links,
    )
    try:
        compiled.render(context)
    except Exception as exc:
        raise CampaignError(rendering.failure_message(exc)) from None
    return compiled


def start_campaign(campaign: Campaign) -> None:
    """Send now: check, store the compliance preview, compile once, and hand over to the planner."""
    if campaign.status not in states.MOVES["start"].sources:
        raise CampaignError(states.ONLY_DRAFT_OR_SCHEDULED_SENT(status=str(campaign.status)))
    require_sendable(campaign)
    preview = compliance_preview(campaign)
    if not preview["recipients"]:
        raise CampaignError(NOBODY_MAY_RECEIVE())
    compile_for_sending(campaign)
    if campaign.ab_test is not None:
        ab_testing.prepare(campaign)
    states.start(campaign)
    enqueue_after_commit(db.session, STORE.plan_actor, campaign.id)


def schedule_campaign(campaign: Campaign, local_dt: datetime, tz_name: str) -> None:
    """Send at a local time in a time zone; the scheduler starts it when due."""
    if campaign.status not in states.MOVES["schedule"].sources:
        raise CampaignError(states.ONLY_DRAFT_SCHEDULED(status=str(campaign.status)))
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignError(UNKNOWN_ZONE(zone=tz_name)) from None
    aware = local_dt.replace(tzinfo=zone) if local_dt.tzinfo is None else local_dt
    when = aware.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    if when <= utcnow():
        raise CampaignError(TIME_PASSED())
    require_sendable(campaign)
    compliance_preview(campaign)
    rendering.render_campaign(
        campaign
    )  # refuse now, not at send time, if the email can't render (or too slowly)
    for variant in campaign.ab_variants if campaign.ab_test is not None else ():
        try:
            rendering.render_campaign(ab_testing.VariantView(campaign, variant))
        except CampaignError as exc:
            raise CampaignError(f"{ab_testing.variant_name(variant)}: {exc}") from None
    states.schedule(campaign, when, tz_name)


def start_due_campaigns() -> int:
    """Start every scheduled campaign whose time has come (the scheduler runs this each minute)."""
    due = (
        db.session.execute(
            select(Campaign.id).where(
                Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_at <= utcnow()
            )
        )
        .scalars()
        .all()
    )
    started = 0
    for campaign_id in due:
        campaign = db.session.get_one(Campaign, campaign_id)
        try:
            start_campaign(campaign)
            started += 1
        except CampaignError as exc:
            db.session.rollback()
            states.miss_schedule(campaign_id, states.NOT_SENT_AT_TIME(reason=exc))
            log.warning("Scheduled campaign %s not started: %s", campaign_id, exc)
        db.session.commit()
    return started


def unschedule_campaign(campaign: Campaign) -> None:
    """Take a scheduled campaign back to draft (schedule cleared) to edit it; the scheduler won't start it."""
    states.unschedule(campaign)


def pause_campaign(campaign: Campaign) -> None:
    """Stop sending within seconds; queued deliveries stay queued for resume."""
    states.pause(campaign)


def resume_campaign(campaign: Campaign) -> None:
    """Carry on: re-queue the planner and every batch that still has queued deliveries."""
    states.resume(campaign)
    _requeue(campaign)


def _requeue(campaign: Campaign) -> None:
    """Messages for the unfinished work of a campaign (duplicates are harmless: claiming is atomic)."""
    if not campaign.planning_done:
        enqueue_after_commit(db.session, STORE.plan_actor, campaign.id)
    batches = db.session.execute(
        select(Delivery.batch)
        .where(Delivery.campaign_id == campaign.id, Delivery.status == DeliveryStatus.QUEUED)
        .distinct()
    ).scalars()
    for batch in sorted(batches):
        enqueue_after_commit(db.session, STORE.batch_actor, campaign.id, batch)
    enqueue_after_commit(db.session, "finish_campaign_if_done", campaign.id)


def cancel_campaign(campaign: Campaign) -> None:
    """Stop for good: nothing still queued is sent (those deliveries become skipped: cancelled)."""
    states.cancel(campaign)
    STORE.count_open(campaign.id, -engine.skip_queued(campaign.id, "cancelled"))


def progress(campaign: Campaign) -> dict:
    """Live numbers for the UI: counts by delivery status, what is left, rate and ETA.

    While sending, the rate is that of the last RATE_WINDOW_SECONDS (a pause, a slow start or a change of the
    send rate would make an average since the start lie about the ETA); once finished, the average of the run.
    """
    now = utcnow()
    recent_since = now - timedelta(seconds=RATE_WINDOW_SECONDS)
    rows: list[tuple[str, int, int]]
    if campaign.status == CampaignStatus.SENDING:
        rows = [
            tuple(row)
            for row in db.session.execute(
                select(
                    Delivery.status,
                    func.count(),
                    func.sum(case((Delivery.finished_at >= recent_since, 1), else_=0)),
                )
                .where(Delivery.campaign_id == campaign.id)
                .group_by(Delivery.status)
            )
        ]
    else:  # no recent rate needed: the totals from the counter table, not a count of a million deliveries
        deltas = counters.totals("delivery_counts", campaign_id=campaign.id)
        rows = [(status, n, 0) for (status,), n in deltas.items()]
    counts = {status: count for status, count, _ in rows}
    recent = sum(int(finished or 0) for status, _, finished in rows if status in FINAL_DELIVERY_STATUSES)
    planned = sum(counts.values())
    expected = int((campaign.compliance or {}).get("recipients") or 0)
    total = (
        planned
        if campaign.planning_done or campaign.status in (CampaignStatus.SENT, CampaignStatus.CANCELLED)
        else max(planned, expected)
    )
    final = sum(counts.get(status, 0) for status in FINAL_DELIVERY_STATUSES)
    remaining = max(0, total - final)
    if campaign.status == CampaignStatus.CANCELLED:
        remaining = counts.get(DeliveryStatus.QUEUED, 0) + counts.get(DeliveryStatus.SENDING, 0)
    end = campaign.finished_at or now
    elapsed = (end - campaign.started_at).total_seconds() if campaign.started_at else 0
    rate = final / elapsed if elapsed > 0 else 0.0
    if campaign.status == CampaignStatus.SENDING and elapsed > 0:
        rate = recent / min(elapsed, RATE_WINDOW_SECONDS)
    eta = remaining / rate if rate > 0 and campaign.status == CampaignStatus.SENDING and remaining else None
    return {
        "status": campaign.status,
        "status_reason": campaign.status_reason or "",
        "total": total,
        "queued": counts.get("queued", 0),
        "sending": counts.get("sending", 0),
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "skipped": counts.get("skipped", 0),
        "bounced": counts.get("bounced", 0),
        "uncertain": counts.get("uncertain", 0),
        "remaining": remaining,
        "rate_per_s": round(rate, 1),
        "eta_s": round(eta) if eta is not None else None,
    }


def send_test(campaign: Campaign, addresses: list[str]) -> int:
    """Queue test messages (marked "[TEST]" and X-Mailer-Test) to a few addresses; else the real build."""
    cleaned = []
    for raw in addresses:
        try:
            cleaned.append(normalise_email(raw))
        except AddressError as exc:
            raise CampaignError(f"{raw}: {exc}") from None
    cleaned = list(dict.fromkeys(cleaned))
    if not cleaned:
        raise CampaignError(NO_TEST_ADDRESS())
    if len(cleaned) > MAX_TEST_ADDRESSES:
        raise CampaignError(TOO_MANY_TEST_ADDRESSES(limit=MAX_TEST_ADDRESSES))
    require_sendable(campaign, need_lists=False)
    rendering.render_campaign(campaign)  # refuse now if it can't render, or not within the template limits
    db.session.flush()
    enqueue_after_commit(db.session, "send_campaign_test", campaign.id, cleaned)
    return len(cleaned)


def recover_stuck(stuck_after_s: float | None = None, scheduled: bool = False) -> dict:
    """Recover what dead workers left (mailer.delivery.recovery); the scheduler runs it every few seconds."""
    return sending.recover(stuck_after_s, scheduled)
