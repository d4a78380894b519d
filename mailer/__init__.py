"""mailer: a self-hosted, GDPR-first email marketing platform."""

import atexit
import logging
import os
import sys
from types import ModuleType

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from config import CONFIGS, DEFAULT_SECRET_KEY
from mailer import admin, api, cli, demo, embed, public
from mailer.admin import login
from mailer.analytics import models as analytics_models
from mailer.audit import models as audit_models
from mailer.bulk import hooks as bulk_hooks
from mailer.bulk import models as bulk_models
from mailer.bulk import tasks as bulk_tasks
from mailer.campaigns import models as campaigns_models
from mailer.campaigns import tasks as campaigns_tasks
from mailer.consent import models as consent_models
from mailer.consent.field_purposes import sensitive_field_purpose
from mailer.consent.ledger import consent_status
from mailer.consent.notices import publish_notice
from mailer.contacts import hooks as contacts_hooks
from mailer.contacts.models import contact, fields, imports, suppression, tags
from mailer.core import broker, counters, domain_events, i18n, logs, web
from mailer.core.extensions import csrf, db, limiter, login_manager, migrate
from mailer.core.urls import external_url
from mailer.deliverability import models as deliverability_models
from mailer.deliverability import tasks as deliverability_tasks
from mailer.deliverability.refusals import record_refusals
from mailer.delivery import hooks as delivery_hooks
from mailer.delivery import models as delivery_models
from mailer.delivery import recovery, transport
from mailer.delivery import tasks as delivery_tasks
from mailer.feeds import models as feeds_models
from mailer.feeds import tasks as feeds_tasks
from mailer.journeys import models as journeys_models
from mailer.journeys import operations as journeys
from mailer.journeys import tasks as journeys_tasks
from mailer.journeys.sending import STORE as JOURNEY_STORE
from mailer.media import models as media_models
from mailer.media import storage as media_storage
from mailer.organisation import models as organisation_models
from mailer.organisation import settings as organisation_settings
from mailer.privacy import tasks as privacy_tasks
from mailer.privacy.domain_hooks import register_privacy_hooks
from mailer.privacy.erasure import anonymise_contact
from mailer.privacy.fulfil import erase_on_staff_decision
from mailer.privacy.models import register, requests, settings
from mailer.privacy.objection import lift_marketing_objection
from mailer.public.fast_path import RecipientFastPath
from mailer.scheduler import build_scheduler
from mailer.segments import hooks as segments_hooks
from mailer.segments import models as segments_models
from mailer.staff import accounts as staff
from mailer.staff import tasks as staff_tasks
from mailer.staff.models import accounts, api_keys, idempotency, security
from mailer.subscriptions import hooks, throttle
from mailer.subscriptions import tasks as subscriptions_tasks
from mailer.subscriptions.models import forms, lists, reconfirmations
from mailer.tracking import models as tracking_models
from mailer.tracking import tasks as tracking_tasks
from mailer.tracking.queries import contacts_with_activity
from mailer.transactional import models as transactional_models
from mailer.transactional import tasks as transactional_tasks
from mailer.webhooks import contact_changes
from mailer.webhooks import models as webhooks_models
from mailer.webhooks import tasks as webhooks_tasks
from mailer.webhooks.outbox import record_events

# Every domain's models, so SQLAlchemy's registry and Alembic's metadata know all tables and relationships.
MODEL_MODULES: tuple[ModuleType, ...] = (
    counters,
    analytics_models,
    bulk_models,
    campaigns_models,
    consent_models,
    contact,
    fields,
    imports,
    journeys_models,
    feeds_models,
    suppression,
    tags,
    deliverability_models,
    delivery_models,
    organisation_models,
    media_models,
    audit_models,
    register,
    requests,
    settings,
    accounts,
    api_keys,
    idempotency,
    security,
    forms,
    lists,
    reconfirmations,
    segments_models,
    tracking_models,
    transactional_models,
    webhooks_models,
)
# Every domain's dramatiq actors, registered by name before the broker binds them in broker.init_app().
TASK_MODULES: tuple[ModuleType, ...] = (
    bulk_tasks,
    campaigns_tasks,
    deliverability_tasks,
    delivery_tasks,
    journeys_tasks,
    feeds_tasks,
    privacy_tasks,
    staff_tasks,
    subscriptions_tasks,
    tracking_tasks,
    transactional_tasks,
    webhooks_tasks,
)

log = logging.getLogger(__name__)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_config(app: Flask, config) -> None:
    """Apply a config name, class or dict of overrides on top of the environment's class."""
    name: str | None = os.environ.get("MAILER_ENV", "development")
    overrides: dict = {}
    if isinstance(config, str):
        name = config
    elif isinstance(config, dict):
        overrides = dict(config)
        name = overrides.pop("MAILER_ENV", name)
    elif config is not None:
        app.config.from_object(config)
        name = None
    if name is not None:
        if name not in CONFIGS:
            raise RuntimeError(f"MAILER_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
        app.config.from_object(CONFIGS[name])
        app.config["MAILER_ENV"] = name
    app.config.update(overrides)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "mailer.db")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgres://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            "postgresql+psycopg://" + app.config["SQLALCHEMY_DATABASE_URI"][11:]
        )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            "postgresql+psycopg://" + app.config["SQLALCHEMY_DATABASE_URI"][13:]
        )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # No JIT compilation: the pages' grouped queries over a large audience cross its cost threshold, and
        # compiling them took seconds (5.4 s of a 5.9 s compliance preview at 100,000 contacts) to save
        # milliseconds. The server's setting is left alone; only this app's sessions turn it off.
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        connect_args = options.get("connect_args", {})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **options,
            "connect_args": {
                **connect_args,
                "options": " ".join(filter(None, [connect_args.get("options", ""), "-c jit=off"])),
            },
        }
    # Statement parameters (addresses, names) never reach a log line or an error message that may be logged.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        "hide_parameters": True,
    }
    if app.config.get("MAILER_ENV") == "production" and app.config["SECRET_KEY"] in ("", DEFAULT_SECRET_KEY):
        raise RuntimeError("Refusing to start in production with the default SECRET_KEY: set SECRET_KEY.")
    if app.config.get("MAILER_ENV") == "production" and not app.config.get("MAILER_HASH_KEY"):
        # Derived from SECRET_KEY otherwise, so rotating that key would silently break every address lookup.
        raise RuntimeError(
            "Refusing to start in production without MAILER_HASH_KEY (the key of the address "
            "index; set it once and never change it)."
        )
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    app.config["RATELIMIT_KEY_PREFIX"] = f"{app.config['REDIS_NAMESPACE']}-ratelimit"
    # Flask-Limiter keeps the first app's RATELIMIT_KEY_PREFIX for good; the storage's own prefix follows each
    # app, so every rate-limit key in Redis starts with this app's namespace.
    app.config["RATELIMIT_STORAGE_OPTIONS"] = (
        {"key_prefix": f"{app.config['REDIS_NAMESPACE']}-ratelimit"} if app.config["REDIS_URL"] else {}
    )


def _sqlite_pragmas(app: Flask) -> None:
    """WAL and foreign keys for SQLite, so the web thread and worker threads can share the file."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():

        @event.listens_for(db.engine, "connect")
        def _on_connect(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()


def create_app(config=None) -> Flask:
    """Build the app from a config name, class or dict of overrides (default: MAILER_ENV, or development)."""
    app = Flask(
        __name__,
        instance_path=os.path.join(ROOT, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    _load_config(app, config)
    logs.init_app(app)
    db.init_app(app)
    _sqlite_pragmas(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login.init_app(app)
    # Registered before the limiter so that it runs after the limiter's header injection (Flask runs
    # after_request functions in reverse order): Flask-Limiter sets Retry-After on every limited response,
    # even a 200.
    app.after_request(web.retry_after_only_when_refused)
    limiter.init_app(app)
    throttle.init_app(app)
    transport.init_app(app)
    register_privacy_hooks(app)
    _connect_domains()
    broker.init_app(app)
    web.init_app(app)
    i18n.init_app(app)
    media_storage.init_app(app)
    app.context_processor(organisation_settings.template_globals)
    _register_blueprints(app)
    cli.init_app(app)
    # Inside ProxyFix, so it sees the client's address. Wrapping wsgi_app is Flask's documented way to add
    # WSGI middleware; mypy sees only a method there.
    app.wsgi_app = RecipientFastPath(app, app.wsgi_app)  # type: ignore[method-assign]
    _trust_proxies(app)

    if app.config["AUTO_MIGRATE"]:
        _prepare_database(app)
    if app.config["WORKER_EMBEDDED"] and not app.config["REDIS_URL"]:
        workers = app.extensions["mailer.workers"]
        workers.start_worker(app.config["WORKER_THREADS"])
        atexit.register(workers.stop_worker)
    if app.config["SCHEDULER_EMBEDDED"]:
        scheduler = build_scheduler(app)
        scheduler.start()
        atexit.register(lambda: scheduler.shutdown(wait=False))
    return app


def _connect_domains() -> None:
    """Hooks through which a lower domain has a higher one act,
    without importing it (the layers stay acyclic)."""
    hooks.connect(
        marketing_requested=lift_marketing_objection,
        signup_abandoned=anonymise_contact,
        subscription_confirmed=journeys.subscription_confirmed,
    )
    contacts_hooks.connect_tag_added(journeys.tag_added)
    recovery.also_recover(JOURNEY_STORE)  # journey steps' deliveries of a dead worker go back to the queue
    contacts_hooks.connect(
        new_purpose=sensitive_field_purpose, consent_status=consent_status, publish_notice=publish_notice
    )
    segments_hooks.connect(activity=contacts_with_activity)
    bulk_hooks.connect(erase=erase_on_staff_decision)
    delivery_hooks.connect(refused=record_refusals)  # send-time refusals in the bounce log
    domain_events.connect(record_events)  # campaigns', journeys' and bounces' events: the webhooks' outbox
    contact_changes.listen()  # contact.updated, from whatever a flush writes


def _register_blueprints(app: Flask) -> None:
    """The four doors: recipients' pages, embeddable forms, the staff admin and the JSON API."""
    app.register_blueprint(public.bp)
    app.register_blueprint(embed.bp)
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(api.bp, url_prefix="/api/v1")


def _trust_proxies(app: Flask) -> None:
    """Take the client's address, scheme and host from the configured number of proxy hops (ProxyFix)."""
    hops = {
        name: int(app.config.get(f"PROXY_FIX_X_{name.upper()}") or 0) for name in ("for", "proto", "host")
    }
    if any(hops.values()):
        proxied = ProxyFix(app.wsgi_app, x_for=hops["for"], x_proto=hops["proto"], x_host=hops["host"])
        app.wsgi_app = proxied  # type: ignore[method-assign]  # Flask's documented middleware hook


def _prepare_database(app: Flask) -> None:
    """Embedded mode: bring the schema up to date, seed the demo, and print the first-run link if needed."""
    with app.app_context():
        upgrade(directory=os.path.join(ROOT, "migrations"))
        if app.config["SEED_DEMO"]:
            demo.seed_demo()
        if staff.needs_setup():
            url = external_url("admin.setup", token=staff.setup_token())
            banner = "=" * 72
            print(
                f"\n{banner}\n  No staff account yet. Create the first one here:\n  {url}\n{banner}\n",
                file=sys.stderr,
                flush=True,
            )
