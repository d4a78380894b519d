"""Marketer templates rendered within limits: time, output size and depth, each with a message for the
marketer; templates within the limits render exactly as before."""

import threading
import time

import pytest

from mailer import create_app
from mailer.campaigns import rendering
from mailer.campaigns.models import Campaign, Layout
from mailer.campaigns.rendering import CampaignError
from mailer.core.extensions import db
from tests.support.campaigns import LAYOUT, make_campaign
from tests.support.proxy import app_config_from_environment

NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
SLOW = "The template takes too long to render"
LARGE = "The template produces more than"
# (name, body, what the marketer is told)
HOSTILE = [
    ("nested loops of 10^10 steps", NESTED_LOOPS, SLOW),
    ("string multiplication", "{{ 'a' * 30000000 }}", LARGE + " 1 MB"),
    ("list multiplication", "{{ ([1] * 30000000)|length }}", LARGE),
    (
        "doubling concatenation",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        LARGE,
    ),
    ("huge width", "{{ 'a'|center(1000000000) }}", LARGE),
    ("huge format width", "{{ '%999999999s' % 'a' }}", LARGE),
    ("width passed as an argument", "{{ '{:{}}'.format('a', 1000000000) }}", LARGE),
    ("huge ljust", "{{ 'a'.ljust(2000000) }}", LARGE),
    (
        "doubling list",
        "{% set l = [1] %}{% for i in range(64) %}{% set _ = l.extend(l) %}{% endfor %}",
        LARGE,
    ),
    (
        "macro output in a loop",
        "{% macro m() %}{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}{% endmacro %}"
        "{% set l = [] %}{% for i in range(1000) %}{% set _ = l.append(m()) %}{% endfor %}",
        LARGE,
    ),
    ("recursive macro", "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "levels deep"),
    (
        "self-containing recursive loop",
        "{% set l = [] %}{% set _ = l.append(l) %}{% for x in l recursive %}{{ loop(x) }}{% endfor %}",
        "levels deep",
    ),
    ("range over the sandbox's maximum", "{{ range(1000000)|list|length }}", "too large: Range too big"),
    ("huge power", "{{ 10 ** 100000 }}", "a number too large"),
]


@pytest.mark.parametrize("name,body,message", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_bodies_fail_with_a_clear_message(app, app_ctx, name, body, message):
    campaign = make_campaign([], body=body)
    started = time.monotonic()
    with pytest.raises(CampaignError) as refused:
        rendering.render_campaign(campaign)
    assert message in str(refused.value)
    assert time.monotonic() - started < app.config["TEMPLATE_RENDER_SECONDS"] + 1.5


def test_a_layout_that_renders_too_slowly_is_refused_with_the_reason(app, app_ctx):
    from mailer.campaigns.layouts import LayoutError, save_layout
    from tests.support.campaigns import LAYOUT

    with pytest.raises(LayoutError) as refused:
        save_layout("Slow", LAYOUT.replace("{{ content }}", "{{ content }}" + NESTED_LOOPS))
    assert any(problem.startswith(SLOW) for problem in refused.value.problems)
    with pytest.raises(LayoutError) as refused:
        save_layout(
            "Deep",
            LAYOUT.replace("{{ content }}", "{{ content }}" + "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"),
        )
    assert any("nested too deeply" in problem for problem in refused.value.problems)


def test_ordinary_templates_render_as_before(app, app_ctx):
    body = (
        "{% macro greet(name) %}Hello {{ name }}!{% endmacro %}{{ greet(contact.first_name) }} "
        "{% for item in ['a', 'b', 'c'] %}{{ loop.index }}{{ item }}{% endfor %} {{ '-' * 10 }} "
        "{{ '%s has %d' % ('Jane', 3) }} {{ '{} {}'.format('x', 'y') }} {{ ['p', 'q']|join(',') }} "
        "{{ 'a-b'.replace('-', '+') }} {{ 2 ** 10 }} {{ 'x' ~ 'y' }} {{ '{:,}'.format(1234567890) }} "
        "{{ 'Call 08001234567 %s' % 'now' }} {{ 5000000000|filesizeformat }}"
    )
    campaign = make_campaign([], body=body)
    rendered = rendering.render_campaign(campaign)
    assert (
        "Hello Jane! 1a2b3c ---------- Jane has 3 x y p,q a+b 1024 xy 1,234,567,890 Call 08001234567 now "
        "5.0 GB"
    ) in " ".join(rendered.text.split())  # the text part wraps long lines


def test_limits_hold_per_render_in_concurrent_threads(app, app_ctx):
    """Eight threads at once: the slow ones stop at their own deadline; a quick one between is unaffected."""
    slow = rendering.compile_campaign(make_campaign([], body=NESTED_LOOPS))
    quick_campaign = make_campaign([])
    quick = rendering.compile_campaign(quick_campaign)
    context = rendering.base_context(quick_campaign)
    context.update(
        contact=dict(rendering.SAMPLE_CONTACT), unsubscribe_url="u", preferences_url="p", _links={}
    )
    outcomes: dict[str, str] = {}

    def run(name, compiled):
        with app.app_context():
            try:
                compiled.render(dict(context))
                outcomes[name] = "ok"
            except Exception as exc:  # the test records whatever the render raised
                outcomes[name] = str(exc)

    threads = [threading.Thread(target=run, args=(f"slow{i}", slow)) for i in range(7)]
    threads.append(threading.Thread(target=run, args=("quick", quick)))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes["quick"] == "ok"
    assert all(outcomes[f"slow{i}"].startswith(SLOW) for i in range(7)), outcomes
    assert (
        time.monotonic() - started < 7 * app.config["TEMPLATE_RENDER_SECONDS"]
    )  # in parallel, not one by one


def test_limits_are_read_from_the_environment(monkeypatch):
    app_config_from_environment(monkeypatch, TEMPLATE_RENDER_SECONDS="0.3", TEMPLATE_MAX_OUTPUT="5000")
    app = create_app({"MAILER_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["TEMPLATE_RENDER_SECONDS"] == 0.3 and app.config["TEMPLATE_MAX_OUTPUT"] == 5000
    with app.app_context():
        db.create_all()  # rendering reads the organisation's brand settings
        campaign = Campaign(
            public_id="envlimits",
            name="Env",
            subject="Hi",
            body="{{ 'a' * 6000 }}",
            body_format="markdown",
            layout=Layout(name="L", html=LAYOUT),
        )  # never stored
        with pytest.raises(CampaignError, match="produces more than 5,000 characters"):
            rendering.render_campaign(campaign)
        campaign.body = NESTED_LOOPS
        started = time.monotonic()
        with pytest.raises(CampaignError, match=r"stopped after 0\.3 seconds"):
            rendering.render_campaign(campaign)
        assert time.monotonic() - started < 1.5
