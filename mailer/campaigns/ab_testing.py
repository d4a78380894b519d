"""A/B tests of campaigns: 2-4 variants to a random test share of the audience, then the winner to the rest.

The test share is drawn when the campaign starts sending: every eligible contact gets a pseudo-random key
from the test's recorded seed (a two-round multiplicative hash of the contact id, computed in SQL, so the same
seed draws the same people and memory stays flat for any audience); the lowest keys form the share, dealt
round-robin to the variants (an even split, sizes differ by one at most), each batch holding one variant.
The campaign stays "sending" while it waits: planning is not done until the winner is known. The winner is
the variant with the highest click rate among recipients who consented to click tracking (unique human
clickers / consenting recipients), chosen by the scheduler after the wait or picked by a person; the rest of
the audience (eligibility checked again when planned and when sent) then gets the winner. A contact has at
most one delivery per campaign (a unique key), so nobody gets two variants.

Decisive rule: every variant has at least MIN_CONSENTING consenting recipients, and the leader's click rate
beats the runner-up's in a two-sided two-proportion z-test at 95 % (|z| >= 1.96). Otherwise the decision is
flagged as too small to decide (the leader still wins an automatic test; the page says so).
"""

import math
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, cast

from flask_babel import gettext, lazy_gettext
from sqlalchemy import BigInteger, CursorResult, and_, case, func, literal, select, update
from sqlalchemy import cast as sql_cast

from mailer.campaigns import eligibility, merge_tags, visual
from mailer.campaigns.models import AbCriterion, AbTest, AbVariant, Campaign, CampaignStatus
from mailer.campaigns.rendering import CampaignError, html_env, text_env
from mailer.consent.models import ConsentState
from mailer.core.broker import enqueue_after_commit
from mailer.core.clock import utcnow
from mailer.core.extensions import db
from mailer.core.text import TextRefused, one_line
from mailer.delivery import engine
from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.segments import hooks as activity_hooks

LETTERS = "ABCD"
MIN_VARIANTS, MAX_VARIANTS = 2, 4
MIN_PERCENT, MAX_PERCENT = 5, 50
MIN_WAIT_MINUTES, MAX_WAIT_MINUTES = 10, 7 * 24 * 60
MIN_CONSENTING = 30
Z_95 = 1.959963984540054
_PRIME = 2147483647  # 2^31 - 1: keys stay below it, products below 2^62 (no overflow in either database)
_MULTIPLIERS = (1103515245, 48271)
BODY_FORMATS = ("markdown", "html", "visual")


class VariantView:
    """The campaign as one variant sends it: the variant's subject, sender name and content where it has them,
    the campaign's own everywhere else (layout, lists, preheader, sender address, tracking)."""

    def __init__(self, campaign: Campaign, variant: AbVariant):
        self._campaign = campaign
        self.variant = variant
        own_body = bool((variant.body or "").strip())
        self.subject = variant.subject or campaign.subject
        self.from_name = variant.from_name or campaign.from_name
        self.body = variant.body if own_body else campaign.body
        self.body_format = variant.body_format if own_body else campaign.body_format
        self.text_body = variant.text_body if own_body else campaign.text_body
        self.compiled_html = variant.compiled_html
        self.compiled_text = variant.compiled_text

    def __getattr__(self, name: str) -> Any:
        return getattr(self._campaign, name)


def letter(position: int) -> str:
    """A variant's letter (0 = A)."""
    return LETTERS[position]


def variant_name(variant: AbVariant) -> str:
    """A variant's stored name: its label, else "Variant A" (kept in a decision, given by the API)."""
    return variant.label or f"Variant {letter(variant.position)}"


def variant_title(variant: AbVariant) -> str:
    """A variant's name on a page: its label, else "Variant A" in the reader's language."""
    return variant.label or default_title(variant.position)


def default_title(position: int) -> str:
    """ "Variant A" in the reader's language."""
    return gettext("Variant %(letter)s", letter=letter(position))


def view_of(campaign: Campaign, position: int) -> VariantView:
    """The campaign as the variant at `position` sends it."""
    for variant in campaign.ab_variants:
        if variant.position == position:
            return VariantView(campaign, variant)
    name = letter(position) if 0 <= position < len(LETTERS) else str(position + 1)  # no IndexError for 7
    raise CampaignError(gettext("This campaign has no variant %(letter)s.", letter=name))


# --- editing (drafts only; the caller commits) --------------------------------------------------------------


def _editable(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignError(
            gettext("This campaign is no longer a draft; only a draft's A/B test can be changed.")
        )


def configure(
    campaign: Campaign,
    *,
    enabled: bool,
    test_percent: int = 20,
    wait_minutes: int = 240,
    criterion: str = "clicks",
) -> AbTest | None:
    """Turn the A/B test on (with variants A and B, both the campaign's own content at first) or off, and set
    its test share, wait and criterion."""
    _editable(campaign)
    if not enabled:
        campaign.ab_test = None
        campaign.ab_variants = []
        return None
    if not MIN_PERCENT <= test_percent <= MAX_PERCENT:
        raise CampaignError(
            gettext(
                "The test share must be between %(min)s and %(max)s %(percent)s of the audience.",
                min=MIN_PERCENT,
                max=MAX_PERCENT,
                percent="%",
            )
        )
    if not MIN_WAIT_MINUTES <= wait_minutes <= MAX_WAIT_MINUTES:
        raise CampaignError(
            gettext(
                "The wait before choosing the winner must be between %(min)s minutes and 7 days.",
                min=MIN_WAIT_MINUTES,
            )
        )
    if criterion not in tuple(AbCriterion):
        raise CampaignError(gettext("Choose how the winner is picked: by clicks or by hand."))
    test = campaign.ab_test or AbTest()
    test.test_percent, test.wait_minutes, test.criterion = test_percent, wait_minutes, criterion
    campaign.ab_test = test
    while len(campaign.ab_variants) < MIN_VARIANTS:
        add_variant(campaign)
    return test


def add_variant(campaign: Campaign) -> AbVariant:
    """Another variant (at most four), starting as the campaign's own content."""
    _editable(campaign)
    if len(campaign.ab_variants) >= MAX_VARIANTS:
        raise CampaignError(gettext("An A/B test has at most %(max)s variants.", max=MAX_VARIANTS))
    variant = AbVariant(position=len(campaign.ab_variants), body_format=campaign.body_format or "markdown")
    campaign.ab_variants.append(variant)
    return variant


def remove_variant(campaign: Campaign, position: int) -> None:
    """Remove a variant (at least two stay); the later ones move up a letter."""
    _editable(campaign)
    if len(campaign.ab_variants) <= MIN_VARIANTS:
        raise CampaignError(gettext("An A/B test needs at least %(min)s variants.", min=MIN_VARIANTS))
    variant = view_of(campaign, position).variant
    campaign.ab_variants.remove(variant)
    db.session.flush()  # the removed row goes before the others take over its position
    for index, other in enumerate(sorted(campaign.ab_variants, key=lambda v: v.position)):
        other.position = index
        db.session.flush()


# What the too-long refusal calls each one-line field of a variant.
FIELD_NAMES = {
    "label": lazy_gettext("the name"),
    "subject": lazy_gettext("the subject"),
    "from_name": lazy_gettext("the sender name"),
}


def update_variant(campaign: Campaign, position: int, **fields: str) -> AbVariant:
    """Set a variant's label, subject, sender name and content (empty: the campaign's own); the same rules as
    the campaign's own fields (one-line headers, no address in the sender name, merge fields that render)."""
    _editable(campaign)
    variant = view_of(campaign, position).variant
    name = f"Variant {letter(position)}"  # the merge-field and control-code messages are English (core)
    title = default_title(position)
    limits = {"label": 60, "subject": 300, "from_name": 120}
    for key, value in fields.items():
        value = value or ""
        if key in limits:
            try:
                value = one_line(value, f"{name}: the {key.replace('_', ' ')}")
            except TextRefused as exc:
                raise CampaignError(str(exc)) from None
            if len(value) > limits[key]:
                raise CampaignError(
                    gettext(
                        "%(variant)s: %(field)s is too long (%(max)s characters at most).",
                        variant=title,
                        field=FIELD_NAMES[key],
                        max=limits[key],
                    )
                )
        if key == "from_name" and any(sign in value for sign in ("@", "<", ">", "\uff20", "\ufe6b")):
            raise CampaignError(
                gettext(
                    "%(variant)s: the sender name can't contain an email address, “@”, “<” or “>”.",
                    variant=title,
                )
            )
        if key == "body_format" and value not in BODY_FORMATS:
            raise CampaignError(
                gettext("%(variant)s: unknown content format “%(format)s”.", variant=title, format=value)
            )
        env = html_env if key == "body" else text_env
        if key in ("subject", "body", "text_body") and (
            problem := merge_tags.part_problem(env, f"{name}'s {key.replace('_', ' ')}", value)
        ):
            raise CampaignError(problem)
        setattr(variant, key, value)
    return variant


def set_variant_content(
    campaign: Campaign, position: int, *, body_format: str, body: str, body_project: str, text_body: str
) -> AbVariant:
    """A variant's own content, from the visual editor (its design kept beside the exported HTML while it
    still made it) or as HTML / Markdown; an empty body sends the campaign's own content."""
    project = ""
    if body_format == "visual":
        body = visual.clean_exported_html(body)
        try:
            project = visual.clean_project(body_project, body)
        except visual.ProjectError as exc:
            raise CampaignError(f"{default_title(position)}: {exc}") from None
    variant = update_variant(campaign, position, body_format=body_format, body=body, text_body=text_body)
    variant.body_project = project if (body or "").strip() else ""
    return variant


def copy_test(source: Campaign, copy: Campaign) -> None:
    """A copied campaign keeps its A/B test's settings and variants (not its seed, share or winner)."""
    test = source.ab_test
    if test is None:
        return
    copy.ab_test = AbTest(
        test_percent=test.test_percent, wait_minutes=test.wait_minutes, criterion=test.criterion
    )
    copy.ab_variants = [
        AbVariant(
            position=v.position,
            label=v.label,
            subject=v.subject,
            from_name=v.from_name,
            body_format=v.body_format,
            body=v.body,
            body_project=v.body_project,
            text_body=v.text_body,
        )
        for v in source.ab_variants
    ]


# --- starting (lifecycle.start_campaign) --------------------------------------------------------------------


def problems(campaign: Campaign) -> list[str]:
    """What stops the campaign's A/B test from being sent (empty: nothing, or no test)."""
    if campaign.ab_test is None:
        return []
    found = []
    if not MIN_VARIANTS <= len(campaign.ab_variants) <= MAX_VARIANTS:
        found.append(
            gettext("An A/B test needs %(min)s to %(max)s variants.", min=MIN_VARIANTS, max=MAX_VARIANTS)
        )
    for variant in campaign.ab_variants:
        view = VariantView(campaign, variant)
        if not (view.subject or "").strip():
            found.append(gettext("%(variant)s has no subject line.", variant=variant_title(variant)))
        if not (view.body or "").strip():
            found.append(gettext("%(variant)s has no content.", variant=variant_title(variant)))
    return found


def prepare(campaign: Campaign) -> None:
    """Draw and record the seed of the test share; the planner draws it (the caller compiled the variants)."""
    test = campaign.ab_test
    test.seed = secrets.randbelow(_PRIME - 1) + 1
    test.sample_size = test.last_test_batch = 0
    test.sample_planned_at = test.decide_at = test.winner = test.decided_at = test.decided_by_id = None
    test.decision = {}


# --- planning and sending (mailer.campaigns.sending) --------------------------------------------------------


def _key(contact_id: Any, seed: int) -> Any:
    """A contact's pseudo-random key under the seed (the same in SQLite and PostgreSQL)."""
    first = (sql_cast(contact_id, BigInteger) * _MULTIPLIERS[0] + seed) % _PRIME
    return (first * _MULTIPLIERS[1] + seed // 7 + 1) % _PRIME


def plan_test_share(campaign: Campaign, size: int) -> None:
    """Create the test share's deliveries (once: a second planner message finds them planned) and queue their
    batches after the caller's commit. Batch b holds variant (b - 1) % n."""
    test = campaign.ab_test
    now = utcnow()
    claimed = db.session.execute(
        update(AbTest)
        .where(AbTest.campaign_id == campaign.id, AbTest.sample_planned_at.is_(None))
        .values(sample_planned_at=now, decide_at=now + timedelta(minutes=test.wait_minutes))
        .execution_options(synchronize_session=False)
    )
    if not cast(CursorResult[Any], claimed).rowcount:
        return
    n = len(campaign.ab_variants)
    eligible = eligibility.eligible_in_range(campaign.id, 0, None).subquery()
    audience = db.session.execute(select(func.count()).select_from(eligible)).scalar_one()
    share = min(audience, max(math.ceil(audience * test.test_percent / 100), n))
    ranked = select(
        eligible.c.contact_id,
        eligible.c.list_id,
        (
            func.row_number().over(
                order_by=(_key(eligible.c.contact_id, test.seed or 1), eligible.c.contact_id)
            )
            - 1
        ).label("rank"),
    ).subquery()
    batch = literal(campaign.planned_batches + 1) + ranked.c.rank % n + n * (ranked.c.rank // n // size)
    rows = select(ranked.c.contact_id, ranked.c.list_id, batch, ranked.c.rank % n).where(
        ranked.c.rank < share
    )
    created = engine.plan_rows(campaign.id, rows)
    total = sum(created.values())
    last = max(created, default=campaign.planned_batches)
    db.session.execute(
        update(AbTest)
        .where(AbTest.campaign_id == campaign.id)
        .values(sample_size=total, last_test_batch=last)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(planned_batches=last, open_deliveries=Campaign.open_deliveries + total, progress_at=now)
        .execution_options(synchronize_session=False)
    )
    for number in sorted(created):
        enqueue_after_commit(db.session, "send_batch", campaign.id, number)


def batch_variant(campaign_id: int, batch: int) -> int | None:
    """The variant a batch's deliveries carry (None: not an A/B tested campaign)."""
    return db.session.execute(
        select(Delivery.variant).where(Delivery.campaign_id == campaign_id, Delivery.batch == batch).limit(1)
    ).scalar()


# --- results and the decision -------------------------------------------------------------------------------


@dataclass
class VariantStats:
    """One variant's test-share figures; opens and clicks only among those consenting to that tracking."""

    position: int
    name: str
    recipients: int  # deliveries in the test share
    sent: int
    open_consenting: int
    openers: int
    click_consenting: int
    clickers: int

    @property
    def click_rate(self) -> float:
        return self.clickers / self.click_consenting if self.click_consenting else 0.0

    @property
    def open_rate(self) -> float:
        return self.openers / self.open_consenting if self.open_consenting else 0.0


def variant_stats(campaign: Campaign) -> list[VariantStats]:
    """Each variant's figures in the test share (one query): sent, and unique human openers and clickers among
    the sent recipients who consent to that tracking now."""
    test = campaign.ab_test
    if test is None:
        return []
    opens_id = eligibility.purpose_id(eligibility.TRACKING_OPEN) or -1
    clicks_id = eligibility.purpose_id(eligibility.TRACKING_CLICK) or -1
    opened = activity_hooks.activity("open", campaign.public_id, None)
    clicked = activity_hooks.activity("click", campaign.public_id, None)
    open_ok = ConsentState.__table__.alias("open_ok")
    click_ok = ConsentState.__table__.alias("click_ok")
    sent = Delivery.status == DeliveryStatus.SENT
    may_open = and_(sent, open_ok.c.status == "granted")
    may_click = and_(sent, click_ok.c.status == "granted")

    def total(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = db.session.execute(
        select(
            Delivery.variant,
            func.count(),
            total(sent),
            total(may_open),
            total(and_(may_open, Delivery.contact_id.in_(opened))) if opened is not None else literal(0),
            total(may_click),
            total(and_(may_click, Delivery.contact_id.in_(clicked))) if clicked is not None else literal(0),
        )
        .select_from(Delivery)
        .outerjoin(
            open_ok, and_(open_ok.c.contact_id == Delivery.contact_id, open_ok.c.purpose_id == opens_id)
        )
        .outerjoin(
            click_ok, and_(click_ok.c.contact_id == Delivery.contact_id, click_ok.c.purpose_id == clicks_id)
        )
        .where(Delivery.campaign_id == campaign.id, Delivery.batch <= test.last_test_batch)
        .group_by(Delivery.variant)
    ).all()
    found = {row[0]: [int(value) for value in row[1:]] for row in rows}
    return [
        VariantStats(variant.position, variant_name(variant), *found.get(variant.position, [0] * 6))
        for variant in campaign.ab_variants
    ]


def judge(stats: list[VariantStats]) -> dict:
    """The leader by click rate (ties: the earlier letter), the z-score against the runner-up, and whether the
    figures decide it (the module's rule)."""
    ranked = sorted(stats, key=lambda s: (-s.click_rate, s.position))
    leader = ranked[0]
    runner = ranked[1] if len(ranked) > 1 else None
    z = None
    if runner is not None and leader.click_consenting and runner.click_consenting:
        pooled = (leader.clickers + runner.clickers) / (leader.click_consenting + runner.click_consenting)
        spread = pooled * (1 - pooled) * (1 / leader.click_consenting + 1 / runner.click_consenting)
        z = (leader.click_rate - runner.click_rate) / math.sqrt(spread) if spread > 0 else 0.0
    small = [s.name for s in stats if s.click_consenting < MIN_CONSENTING]
    tie = runner is not None and runner.click_rate == leader.click_rate
    return {
        "leader": leader.position,
        "z": round(z, 2) if z is not None else None,
        "decisive": not small and z is not None and abs(z) >= Z_95,
        "too_small": small,
        "tie": tie,
    }


def _decide(campaign: Campaign, position: int, method: str, staff_id: int | None) -> bool:
    """Record the winner once (a guarded UPDATE: the scheduler and a person can race) and queue the planner
    for the rest of the audience; False when a winner was already chosen."""
    stats = variant_stats(campaign)
    decision = {"method": method, **judge(stats), "stats": [asdict(s) for s in stats]}
    chosen = db.session.execute(
        update(AbTest)
        .where(
            AbTest.campaign_id == campaign.id, AbTest.winner.is_(None), AbTest.sample_planned_at.is_not(None)
        )
        .values(winner=position, decided_at=utcnow(), decided_by_id=staff_id, decision=decision)
        .execution_options(synchronize_session=False)
    )
    if not cast(CursorResult[Any], chosen).rowcount:
        return False
    db.session.refresh(campaign)
    if campaign.status == CampaignStatus.SENDING:
        enqueue_after_commit(db.session, "plan_campaign", campaign.id)
    return True


def pick_winner(campaign: Campaign, position: int, staff_id: int | None) -> None:
    """A person chooses the winner (any criterion, once the test share is out); the rest then gets it."""
    test = campaign.ab_test
    if test is None:
        raise CampaignError(gettext("This campaign has no A/B test."))
    view_of(campaign, position)
    if (
        campaign.status not in (CampaignStatus.SENDING, CampaignStatus.PAUSED)
        or test.sample_planned_at is None
    ):
        raise CampaignError(
            gettext("The winner can be chosen once the test share has been sent, while the campaign runs.")
        )
    if not _decide(campaign, position, "manual", staff_id):
        raise CampaignError(gettext("The winner of this A/B test has already been chosen."))


def decide_due_tests() -> int:
    """Choose the winner by clicks of each sending campaign whose wait is over (scheduled each minute)."""
    due = db.session.execute(
        select(AbTest.campaign_id)
        .join(Campaign, Campaign.id == AbTest.campaign_id)
        .where(
            Campaign.status == CampaignStatus.SENDING,
            AbTest.criterion == AbCriterion.CLICKS,
            AbTest.winner.is_(None),
            AbTest.decide_at <= utcnow(),
        )
    ).scalars()
    decided = 0
    for campaign_id in list(due):
        campaign = db.session.get_one(Campaign, campaign_id)
        leader = judge(variant_stats(campaign))["leader"]
        decided += _decide(campaign, leader, "clicks", None)
        db.session.commit()
    db.session.commit()
    return decided
