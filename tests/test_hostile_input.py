"""Hostile-input sweep: every route in app.url_map gets
malformed, oversized and hostile input; none answers 5xx.

Public, embed, API (with a valid key, and with garbage ones) and admin routes (logged in as the owner, with a
valid CSRF token) are walked from the live URL map, so a route added later is swept too. Path parameters get
real ids and hostile ones (NUL, invalid UTF-8, traversal, huge and negative numbers, truncated tokens); query
strings get every parameter name the code reads; POST forms get the fields their page shows, filled with
invalid UTF-8, NUL bytes, huge numbers, traversal strings and long values; bodies come as JSON that is not an
object, broken JSON, XML and multipart; and every route is tried with the methods it does not accept. A POST
refused with a 4xx must not have written anything (row counts of the main tables are compared).
"""

import logging
import re
import traceback
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, quote_from_bytes, urlsplit

import pytest
from sqlalchemy import text

from mailer.campaigns.drafts import DraftFields, create_draft
from mailer.campaigns.layouts import default_layout, ensure_builtin_layouts
from mailer.core.extensions import db
from mailer.core.urls import click_url, open_pixel_url, preferences_url, unsubscribe_url
from mailer.staff.accounts import create_staff
from mailer.staff.api_keys import create_key
from mailer.subscriptions.signup import confirmation_token
from tests.support.audience import subscriber
from tests.support.http import csrf_token

ROOT = Path(__file__).resolve().parents[1]
ARG_RE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HUGE = "9" * 30
HOSTILE_PATH = [
    "%00",
    "%FF%FE",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "....%2F%2F....%2F%2Fetc",
    "-1",
    HUGE,
    "1e400",
    "%E2%80%AE%C3%A9",
    "'%20OR%201=1--",
    "null",
    "%25",
    "A" * 600,
]
HOSTILE_INT_PATH = ["0", "2147483648", "9223372036854775808", HUGE]
# Values for query parameters and form fields (bytes are sent as they are: invalid UTF-8).
HOSTILE_VALUES = [
    b"\xff\xfe\xc3(",
    "\x00",
    "a\x00b",
    "a\x1b[2J\x07\x85b",
    "-1",
    HUGE,
    "-" + HUGE,
    "1e400",
    "NaN",
    "../../../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\u202e\ufeff",
    "A" * 20_000,
]
BODIES = [
    ("application/json", b"[1, 2, 3]"),
    ("application/json", b'"a string"'),
    ("application/json", b"null"),
    ("application/json", b"{"),
    ("application/json", b'{"email": {"$ne": 1}, "lists": "x", "name": [1]}'),
    ("application/json", b"\xff\xfe"),
    ("application/xml", b"<?xml version='1.0'?><x>&lt;</x>"),
    ("text/plain", b"\x00\x01\x02"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nbroken"),
    ("application/x-www-form-urlencoded", b"%%%&&&==%ZZ"),
]
GARBAGE_KEYS = [
    "Bearer",
    "Bearer x",
    "Bearer " + "A" * 5000,
    "Basic Zm9vOmJhcg==",
    "Bearer \x7f",
    "Token %00",
]
# Later in the walk: these end the session or remove the records the other routes use.
LAST = (
    "logout",
    "delete",
    "erase",
    "revoke",
    "active",
    "role",
    "cancel",
    "unsubscribe",
    "restrict",
    "refuse",
)
SKIP = {"static", "admin.logout"}  # logout is tried last, separately
COUNTED_TABLES = (
    "contacts",
    "subscriptions",
    "consent_events",
    "consent_states",
    "outbox_messages",
    "campaigns",
    "mailing_lists",
    "forms",
    "layouts",
    "staff_users",
    "api_keys",
    "privacy_requests",
    "deliveries",
    "contact_imports",
    "dkim_keys",
)


def _code_parameter_names() -> list[str]:
    """Every query/form parameter name the code reads with request.args/form/values."""
    names = set()
    pattern = re.compile(
        r"(?:args|form|values)\.(?:get|getlist)\(\s*[\"'](\w+)[\"']|(?:args|form)\[[\"'](\w+)[\"']\]"
    )
    for path in (ROOT / "mailer").rglob("*.py"):
        for match in pattern.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    return sorted(names | {"page", "q", "after", "limit", "per_page", "sort", "next", "token", "email", "id"})


class _Forms(HTMLParser):
    """The POST forms of a page: action and field names (with a value each, as a browser would send)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.forms.append({"action": attrs.get("action") or "", "fields": {}})
        elif tag in ("input", "select", "textarea", "button") and self.forms and attrs.get("name"):
            self.forms[-1]["fields"].setdefault(attrs["name"], attrs.get("value") or "")


def _forms(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def _encode(fields: dict) -> bytes:
    """application/x-www-form-urlencoded, bytes values kept raw (invalid UTF-8 stays invalid)."""
    parts = []
    for name, values in fields.items():
        for value in values if isinstance(values, list) else [values]:
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
            parts.append(f"{quote(name)}={quote_from_bytes(raw)}")
    return "&".join(parts).encode()


def _table_counts() -> tuple:
    present = set(db.inspect(db.engine).get_table_names())
    names = [t for t in COUNTED_TABLES if t in present]
    db.session.rollback()
    query = "SELECT " + ", ".join(f"(SELECT count(*) FROM {name})" for name in names)
    row = db.session.execute(text(query)).one()
    db.session.rollback()
    return tuple(zip(names, row, strict=False))


class _LastError(logging.Handler):
    """Keeps the traceback the app's error handler logged for the last 500."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.text = ""

    def emit(self, record):
        if record.exc_info:
            kind, exc, tb = record.exc_info
            ours = [frame for frame in traceback.extract_tb(tb) if "site-packages" not in frame.filename]
            self.text = (
                "".join(traceback.format_list(ours[-3:]))
                + traceback.format_exception_only(kind, exc)[0][:300]
            )


class Sweep:
    """Sends requests, records every 5xx (or exception) and every refused POST that changed row counts."""

    def __init__(self, client, api_key: str):
        self.client = client
        self.api_key = api_key
        self.failures: list[str] = []
        self.half_written: list[str] = []
        self.requests = 0
        self.errors = _LastError()
        client.application.logger.addHandler(self.errors)
        client.application.logger.disabled = (
            False  # Alembic's fileConfig disables loggers that existed before it
        )

    def send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: dict | None = None,
        check_writes: bool = False,
    ):
        headers = dict(headers or {})
        if url.startswith("/api/") and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.api_key}"
        before = _table_counts() if check_writes else None
        self.requests += 1
        try:
            response = self.client.open(
                url, method=method, data=body, content_type=content_type, headers=headers
            )
        except Exception:  # an unhandled exception is what a 500 would have been
            db.session.rollback()
            self.failures.append(f"{method} {url[:160]} [{what}] raised:\n{traceback.format_exc(limit=-6)}")
            return None
        if response.status_code >= 500:
            self.failures.append(
                f"{method} {url[:160]} [{what}] -> {response.status_code}\n{self.errors.text}"
            )
            self.errors.text = ""
        elif check_writes and 400 <= response.status_code < 500 and response.status_code != 429:
            after = _table_counts()
            if after != before:
                changed = {n: (b, a) for (n, b), (_, a) in zip(before, after, strict=False) if a != b}
                self.half_written.append(
                    f"{method} {url[:160]} [{what}] -> {response.status_code} wrote {changed}"
                )
        return response

    def report(self) -> str:
        return "\n".join(self.failures + self.half_written)


def _urls(rule, real: dict) -> list[tuple[str, str]]:
    """(url, what) for a rule: real values for every argument, then each argument in turn made hostile."""
    args = [(m.group(2), m.group(1) or "string") for m in ARG_RE.finditer(rule.rule)]

    def build(values: dict) -> str:
        return ARG_RE.sub(lambda m: values[m.group(2)], rule.rule)

    base = {name: real.get(name) or ("1" if conv == "int" else "x") for name, conv in args}
    urls = [(build(base), "real ids" if all(real.get(n) for n, _ in args) else "placeholder ids")]
    for name, conv in args:
        for value in HOSTILE_INT_PATH if conv == "int" else HOSTILE_PATH + _token_variants(real.get(name)):
            urls.append((build({**base, name: value}), f"{name}={value[:30]}"))
    return urls


def _token_variants(token: str | None) -> list[str]:
    if not token or len(token) < 12:
        return []
    return [
        token[:-4],
        token[: len(token) // 2],
        token + "x",
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        token.replace(".", "%00", 1),
        token * 40,
    ]


@pytest.fixture
def world(app, app_ctx, client, staff_user, demo_form):
    """An owner logged in, an API key, a confirmed subscriber,
    a draft campaign and the ids and tokens to use."""
    from tests.support.http import login

    ensure_builtin_layouts()
    ann = subscriber(demo_form, "ann@example.com", "Ann")
    pending = subscriber(demo_form, "pat@example.com", "Pat", confirmed=False)
    other = create_staff("marketer@example.com", "correct horse battery", "marketer")
    _, api_secret = create_key("Sweep", "read_write", staff_user)
    layout = default_layout()
    mailing_list = demo_form.lists[0]
    campaign = create_draft(
        DraftFields(
            name="Sweep",
            subject="Hi",
            from_email="news@example.com",
            body="Hello [x](https://example.org/)",
            layout_id=layout.id,
            list_ids=[mailing_list.id],
        ),
        staff_user.id,
    )
    db.session.commit()
    login(client, "owner@example.com", "correct horse battery")
    path = lambda url: urlsplit(url).path  # noqa: E731
    tokens = {
        "confirm": confirmation_token(pending),
        "preferences": path(preferences_url(ann.public_id)).rsplit("/", 1)[1],
        "unsubscribe": path(
            unsubscribe_url(ann.public_id, mailing_list.public_id, campaign.public_id)
        ).rsplit("/", 1)[1],
        "open": path(open_pixel_url(ann.public_id, campaign.public_id)).rsplit("/", 1)[1],
        "click": path(click_url(ann.public_id, campaign.public_id, 1)).rsplit("/", 1)[1],
    }
    key_prefix = db.session.execute(text("SELECT prefix FROM api_keys")).scalar()
    by_endpoint = {
        "admin.campaign": {"public_id": campaign.public_id},
        "admin.analytics_campaign": {"public_id": campaign.public_id},
        "admin.contact": {"public_id": ann.public_id},
        "admin.privacy_contact": {"public_id": ann.public_id},
        "admin.form": {"public_id": demo_form.public_id},
        "admin.layout": {"public_id": layout.public_id},
        "admin.list": {"public_id": mailing_list.public_id},
        "admin.analytics_list": {"public_id": mailing_list.public_id},
        "admin.staff": {"user_id": str(other.id)},
        "admin.api_key": {"prefix": key_prefix},
        "api.contact": {"public_id": ann.public_id, "list_id": mailing_list.public_id},
        "api.list": {"public_id": mailing_list.public_id},
        "api.campaign": {"public_id": campaign.public_id},
        "public.confirm": {"token": tokens["confirm"]},
        "public.preferences": {"token": tokens["preferences"]},
        "public.privacy_request": {"token": tokens["preferences"], "kind": "access"},
        "public.unsubscribe": {"token": tokens["unsubscribe"]},
        "public.track_open": {"token": tokens["open"]},
        "public.track_click": {"token": tokens["click"]},
        "public.track_anonymous_click": {"campaign_public_id": campaign.public_id, "link_id": "1"},
        "embed.": {"slug": "demo"},
    }

    def real_values(endpoint: str) -> dict:
        for prefix in sorted(by_endpoint, key=len, reverse=True):
            if endpoint.startswith(prefix):
                return by_endpoint[prefix]
        return {}

    return {
        "api_secret": api_secret,
        "real": real_values,
        "csrf": csrf_token(client.get("/admin/campaigns/new").text),
    }


def _rules(app, area: str) -> list:
    def in_area(rule) -> bool:
        blueprint = rule.endpoint.split(".")[0]
        return {
            "admin": blueprint == "admin",
            "api": blueprint == "api",
            "embed": blueprint == "embed",
            "public": blueprint == "public",
        }[area]

    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in SKIP and in_area(r)]
    return sorted(rules, key=lambda r: (any(word in r.endpoint for word in LAST), r.rule))


def _collect_forms(sweep: Sweep, rules: list, world: dict) -> dict[str, dict]:
    """action path → fields, from every POST form on every page of the area (GET with real ids)."""
    forms: dict[str, dict] = {}
    for rule in rules:
        if "GET" not in rule.methods:
            continue
        url = _urls(rule, world["real"](rule.endpoint))[0][0]
        page = sweep.client.get(url)
        if page.status_code == 200 and "html" in (page.content_type or ""):
            for form in _forms(page.text):
                action = urlsplit(form["action"]).path or urlsplit(url).path
                forms.setdefault(action, {}).update(form["fields"])
    return forms


def _post_fields(forms: dict, url: str, csrf: str) -> dict:
    """The fields of the form that posts to url (as some page of the app shows it), CSRF token included."""
    return {**forms.get(urlsplit(url).path, {}), "csrf_token": csrf}


def _sweep_rule(sweep: Sweep, rule, world: dict, names: list[str], forms: dict) -> None:
    real = world["real"](rule.endpoint)
    allowed = rule.methods - {"HEAD", "OPTIONS"}
    urls = _urls(rule, real)
    real_url = urls[0][0]
    for url, what in urls:  # every path variant, plainly
        for method in sorted(allowed):
            body = _encode({"csrf_token": world["csrf"]}) if method == "POST" else None
            sweep.send(
                method,
                url,
                what,
                body=body,
                content_type="application/x-www-form-urlencoded" if body else None,
            )
    for method in METHODS:  # methods the route does not take
        if method not in allowed:
            sweep.send(
                method,
                real_url,
                "unexpected method",
                body=b"x=1",
                content_type="application/x-www-form-urlencoded",
            )
    if "GET" in allowed:
        for value in HOSTILE_VALUES:
            query = _encode(dict.fromkeys(names, value)).decode()
            sweep.send("GET", f"{real_url}?{query}", f"query={value[:20]!r}")
        sweep.send("GET", f"{real_url}?page=1&page=2&after=&after=%FF", "repeated query")
    for method in sorted(allowed - {"GET"}):
        fields = _post_fields(forms, real_url, world["csrf"])
        for value in HOSTILE_VALUES:
            hostile = {name: (value if name != "csrf_token" else world["csrf"]) for name in fields}
            sweep.send(
                method,
                real_url,
                f"form={value[:20]!r}",
                body=_encode(hostile),
                content_type="application/x-www-form-urlencoded",
                check_writes=True,
            )
        lists = {
            name: ([value, b"\xff"] if name != "csrf_token" else value) for name, value in fields.items()
        }
        sweep.send(
            method,
            real_url,
            "repeated fields",
            body=_encode(lists),
            content_type="application/x-www-form-urlencoded",
            check_writes=True,
        )
        for content_type, body in BODIES:
            sweep.send(
                method,
                real_url,
                f"body {content_type}: {body[:20]!r}",
                body=body,
                content_type=content_type,
                headers={"X-CSRFToken": world["csrf"]},
                check_writes=True,
            )
        response = sweep.send(
            method,
            real_url,
            "1 MB field",
            body=_encode({**fields, "x": "A" * 1_048_576}),
            content_type="application/x-www-form-urlencoded",
            check_writes=True,
        )
        if response is not None and response.status_code not in (413, 429):  # a rate limit may answer first
            sweep.failures.append(
                f"{method} {real_url}: a 1 MB body answered {response.status_code}, not 413"
            )


@pytest.fixture
def no_rate_limits(app):
    """Reach the code behind the rate limits. The limiter is one object shared by every app (a config setting
    would stay off for the apps of later tests), so it is switched off here and back on afterwards."""
    from mailer.core.extensions import limiter

    was = limiter.enabled
    limiter.enabled = False
    yield
    limiter.enabled = was


@pytest.mark.slow
@pytest.mark.parametrize("area", ["public", "embed", "api", "admin"])
def test_no_route_answers_5xx_to_hostile_input(app, world, client, no_rate_limits, area):
    sweep = Sweep(client, world["api_secret"])
    names = _code_parameter_names()
    rules = _rules(app, area)
    assert rules, f"no {area} routes found"
    forms = _collect_forms(sweep, rules, world)
    if area == "admin":
        assert {"name", "subject", "body", "lists"} <= set(forms.get("/admin/campaigns/new", {})), (
            "editor not found"
        )
    for rule in rules:
        _sweep_rule(sweep, rule, world, names, forms)
    if area == "api":
        for key in [*GARBAGE_KEYS, f"Bearer {world['api_secret'][:-3]}", f"Bearer {world['api_secret']}\x00"]:
            for rule in rules:
                url = _urls(rule, world["real"](rule.endpoint))[0][0]
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    sweep.send(
                        method,
                        url,
                        f"api key {key[:20]!r}",
                        headers={"Authorization": key},
                        body=b"{}",
                        content_type="application/json",
                    )
    assert sweep.requests > 5 * len(rules)
    assert not sweep.failures and not sweep.half_written, (
        f"{len(sweep.failures)} 5xx and "
        f"{len(sweep.half_written)} half-written of "
        f"{sweep.requests} requests:\n{sweep.report()}"
    )


def test_logout_with_hostile_input_then_admin_pages_redirect_to_login(app, world, client):
    sweep = Sweep(client, world["api_secret"])
    for value in HOSTILE_VALUES[:6]:
        sweep.send(
            "POST",
            "/admin/logout",
            f"form={value!r}",
            body=_encode({"csrf_token": world["csrf"], "x": value}),
            content_type="application/x-www-form-urlencoded",
        )
    assert not sweep.failures, sweep.report()
    assert client.get("/admin/").status_code == 302


def test_an_oversized_body_gets_a_readable_413_page(app, world, client):
    assert app.config["MAX_CONTENT_LENGTH"] and app.config["MAX_CONTENT_LENGTH"] <= 1_048_576
    response = client.post(
        "/admin/campaigns/new", data={"csrf_token": world["csrf"], "body": "A" * 1_048_576}
    )
    assert response.status_code == 413
    assert "What you sent is too large." in response.text and "<html" in response.text.lower()
    api = client.post(
        "/api/v1/subscriptions",
        data=b"{" + b" " * 1_048_576 + b"}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {world['api_secret']}"},
    )
    assert api.status_code == 413 and api.get_json()["error"]


def test_the_fixed_cases_answer_clearly(app, world, client):
    """What the sweep found once, answered on purpose: 404 for ids no database holds, 400/415 for bodies no
    form sends."""
    assert (
        client.get(f"/t/a/x/{HUGE}").status_code == 404
    )  # <int:> beyond a database integer matches no route
    assert client.get("/admin/campaigns/a%00b").status_code == 404  # control characters match no <id>
    assert client.get(f"/privacy?version={HUGE}").status_code == 200  # an out-of-range number is no number
    assert client.get(f"/admin/audit?actor={HUGE}").status_code == 200
    refused = client.get("/admin/contacts?q=ann%00")
    assert refused.status_code == 400 and "NUL character" in refused.text
    for value in ("News\x1b[2J", "News\x07", "News\x85", "News\x00"):  # ESC, BEL, C1, NUL in a staff form
        response = client.post(
            "/admin/lists/new",
            data={"csrf_token": world["csrf"], "name": value, "description": "", "visibility": "public"},
        )
        assert response.status_code == 400 and "control character" in response.text, value
    for body in (b"[1, 2]", b'"x"', b'{"name": {"a": 1}}'):
        response = client.post(
            "/admin/lists/new",
            data=body,
            content_type="application/json",
            headers={"X-CSRFToken": world["csrf"]},
        )
        assert response.status_code == 415 and "accepts only what its own form sends" in response.text
