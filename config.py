"""Configuration classes: every setting comes from an environment variable with a safe default."""

import os
import tempfile
from typing import ClassVar

DEFAULT_SECRET_KEY = "dev-insecure-change-me"


def _env_list(name: str) -> list[str]:
    """Split a comma-separated environment variable into a list, ignoring blanks."""
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def _env_int(name: str, default: int) -> int:
    """Read an integer environment variable, falling back to a default."""
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    # Older keys that still verify tokens after a rotation (newest last is not required: SECRET_KEY signs).
    SECRET_KEY_FALLBACKS: ClassVar[list[str]] = _env_list("SECRET_KEY_FALLBACKS")
    # Key for the blind index of e-mail addresses and suppression hashes. Must never change once data exists.
    MAILER_HASH_KEY = os.environ.get("MAILER_HASH_KEY", "")
    # Fernet keys (newest first) wrapping each contact's data key for sensitive fields; rotate with
    # `flask keys reencrypt`. Empty: one key derived from SECRET_KEY (fine for development only).
    MAILER_DATA_KEYS = _env_list("MAILER_DATA_KEYS")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "")
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "")
    # Namespace for every Redis key the app writes (broker queues, rate limits).
    REDIS_NAMESPACE = os.environ.get("REDIS_NAMESPACE", "mailer")
    SMTP_URL = os.environ.get("SMTP_URL", "")
    SMTP_TIMEOUT = _env_int("SMTP_TIMEOUT", 30)
    MAILER_BASE_URL = os.environ.get("MAILER_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    # The organisation's sender, postal address, name, reply-to and website are settings in the admin
    # (Settings → Organisation); each variable, when set, overrides the page's value
    # (mailer/organisation/settings.py).
    MAILER_FROM = os.environ.get("MAILER_FROM", "")
    MAILER_POSTAL_ADDRESS = os.environ.get("MAILER_POSTAL_ADDRESS", "")
    MAILER_ORGANISATION = os.environ.get("MAILER_ORGANISATION", "")
    MAILER_REPLY_TO = os.environ.get("MAILER_REPLY_TO", "")
    MAILER_WEBSITE_URL = os.environ.get("MAILER_WEBSITE_URL", "")
    MAILER_TIMEZONE = os.environ.get("MAILER_TIMEZONE", "UTC")

    # Worker: run dramatiq inside the web process when there is no Redis (embedded mode).
    WORKER_EMBEDDED = os.environ.get("WORKER_EMBEDDED", "").lower() in ("1", "true", "yes")
    WORKER_THREADS = _env_int("WORKER_THREADS", 4)
    SCHEDULER_EMBEDDED = os.environ.get("SCHEDULER_EMBEDDED", "").lower() in ("1", "true", "yes")
    AUTO_MIGRATE = False
    SEED_DEMO = False

    # Double opt-in and sign-up protection (REQUIREMENTS G3, J1-J3).
    CONFIRM_TOKEN_MAX_AGE = _env_int("CONFIRM_TOKEN_MAX_AGE", 7 * 24 * 3600)
    # Unsubscribe / preference / tracking links keep working long after the send (CAN-SPAM: at least 30 days).
    RECIPIENT_TOKEN_MAX_AGE = _env_int("RECIPIENT_TOKEN_MAX_AGE", 400 * 24 * 3600)
    UNCONFIRMED_RETENTION_DAYS = _env_int("UNCONFIRMED_RETENTION_DAYS", 30)
    # Up to this many contacts a page counts a campaign's compliance preview while it waits; above, the count
    # runs in the background and the page shows its progress (mailer/campaigns/audience_count.py).
    COMPLIANCE_INLINE_CONTACTS = _env_int("COMPLIANCE_INLINE_CONTACTS", 50_000)
    SIGNUP_MIN_FILL_SECONDS = _env_int("SIGNUP_MIN_FILL_SECONDS", 3)
    SIGNUP_MAX_FILL_SECONDS = _env_int("SIGNUP_MAX_FILL_SECONDS", 24 * 3600)
    SIGNUP_RESPONSE_FLOOR_MS = _env_int("SIGNUP_RESPONSE_FLOOR_MS", 250)
    SIGNUP_RATE_LIMIT_IP = os.environ.get("SIGNUP_RATE_LIMIT_IP", "20 per 10 minutes")
    SIGNUP_RATE_LIMIT_ADDRESS = os.environ.get("SIGNUP_RATE_LIMIT_ADDRESS", "10 per hour")
    SIGNUP_RATE_LIMIT_GLOBAL = os.environ.get("SIGNUP_RATE_LIMIT_GLOBAL", "2000 per hour")
    CONFIRM_EMAIL_PER_ADDRESS = os.environ.get("CONFIRM_EMAIL_PER_ADDRESS", "1 per 24 hours")
    CONFIRM_EMAIL_PER_DOMAIN = os.environ.get("CONFIRM_EMAIL_PER_DOMAIN", "200 per hour")
    PUBLIC_RATE_LIMIT = os.environ.get("PUBLIC_RATE_LIMIT", "60 per minute")

    # Preference centre and tracking. Fresh preference-centre links sent on request, per address
    # (the form's answer never says whether it exists).
    PREFERENCES_LINK_PER_ADDRESS = os.environ.get("PREFERENCES_LINK_PER_ADDRESS", "3 per 24 hours")
    # Public URL of the privacy notice linked from the preference centre (empty: /privacy on this site).
    PRIVACY_NOTICE_URL = os.environ.get("PRIVACY_NOTICE_URL", "")
    # Days tracking events are kept (Art. 5(1)(e)); applied by the retention job.
    TRACKING_RETENTION_DAYS = _env_int("TRACKING_RETENTION_DAYS", 365)
    # Tracking events are buffered in memory and written in batches by a background thread.
    TRACKING_FLUSH_SECONDS = float(os.environ.get("TRACKING_FLUSH_SECONDS", "1.0"))
    TRACKING_BATCH_SIZE = _env_int("TRACKING_BATCH_SIZE", 1000)
    # An open or click this soon after the message was sent is likely a proxy prefetch or a link scanner.
    TRACKING_MACHINE_SECONDS = _env_int("TRACKING_MACHINE_SECONDS", 10)
    # Anonymous per-campaign link counts (no recipient part) for contacts without click consent; off by
    # default.
    TRACKING_ANONYMOUS_COUNTS = os.environ.get("TRACKING_ANONYMOUS_COUNTS", "").lower() in (
        "1",
        "true",
        "yes",
    )
    # Inbound bounces and complaints (REQUIREMENTS E1-E5, B4). Address registered with mailbox providers'
    # feedback loops (ARF reports); empty: only VERP and bounce address.
    MAILER_COMPLAINTS_ADDRESS = os.environ.get("MAILER_COMPLAINTS_ADDRESS", "")
    BOUNCE_MAX_REPORT_BYTES = _env_int("BOUNCE_MAX_REPORT_BYTES", 256 * 1024)  # larger reports are refused
    BOUNCE_HARD_LIMIT = _env_int("BOUNCE_HARD_LIMIT", 1)  # hard bounces that suppress an address
    BOUNCE_SOFT_LIMIT = _env_int("BOUNCE_SOFT_LIMIT", 3)  # soft bounces within the window that suppress
    BOUNCE_SOFT_WINDOW_DAYS = _env_int("BOUNCE_SOFT_WINDOW_DAYS", 30)
    BOUNCE_LOG_RETENTION_DAYS = _env_int("BOUNCE_LOG_RETENTION_DAYS", 365)
    # The bounce mailbox, for relays that deliver reports to a mailbox (deliverability/mailbox.py):
    # imaps://user:password@host[:993] or imap://…[:143] (STARTTLS, required); empty: no mailbox polled.
    BOUNCE_IMAP_URL = os.environ.get("BOUNCE_IMAP_URL", "")
    BOUNCE_IMAP_FOLDER = os.environ.get("BOUNCE_IMAP_FOLDER", "INBOX")
    BOUNCE_IMAP_PROCESSED_FOLDER = os.environ.get("BOUNCE_IMAP_PROCESSED_FOLDER", "Processed")
    BOUNCE_IMAP_IGNORED_FOLDER = os.environ.get("BOUNCE_IMAP_IGNORED_FOLDER", "Not reports")
    # A private CA to trust besides the system's (a PEM file).
    BOUNCE_IMAP_CA_FILE = os.environ.get("BOUNCE_IMAP_CA_FILE", "")
    BOUNCE_IMAP_POLL_SECONDS = _env_int("BOUNCE_IMAP_POLL_SECONDS", 60)  # the scheduler's interval
    BOUNCE_IMAP_BATCH = _env_int("BOUNCE_IMAP_BATCH", 500)  # messages taken per poll at most
    BOUNCE_IMAP_TIMEOUT = _env_int("BOUNCE_IMAP_TIMEOUT", 30)  # seconds per IMAP command
    # Provider event webhooks (POST /hooks/providers/<provider>; README, Deliverability). A provider is on
    # when its secret is set: SES via SNS takes messages only from these topic ARNs (comma-separated).
    SES_SNS_TOPIC_ARNS = _env_list("SES_SNS_TOPIC_ARNS")
    SENDGRID_WEBHOOK_PUBLIC_KEY = os.environ.get("SENDGRID_WEBHOOK_PUBLIC_KEY", "")  # base64 DER or PEM
    POSTMARK_WEBHOOK_USERNAME = os.environ.get("POSTMARK_WEBHOOK_USERNAME", "")
    POSTMARK_WEBHOOK_PASSWORD = os.environ.get("POSTMARK_WEBHOOK_PASSWORD", "")  # basic auth, if set
    # Postmark's token: header X-Webhook-Token or ?token=, if set.
    POSTMARK_WEBHOOK_TOKEN = os.environ.get("POSTMARK_WEBHOOK_TOKEN", "")
    MAILGUN_WEBHOOK_SIGNING_KEY = os.environ.get("MAILGUN_WEBHOOK_SIGNING_KEY", "")
    PROVIDER_WEBHOOK_MAX_AGE_SECONDS = _env_int("PROVIDER_WEBHOOK_MAX_AGE_SECONDS", 600)  # older: stale
    PROVIDER_WEBHOOK_MAX_BYTES = _env_int("PROVIDER_WEBHOOK_MAX_BYTES", 1024 * 1024)  # larger: 413
    # Per client address (providers post from a few addresses, in bursts).
    PROVIDER_WEBHOOK_RATE_LIMIT = os.environ.get("PROVIDER_WEBHOOK_RATE_LIMIT", "6000 per minute")
    # Complaint and bounce rates (percent of messages sent in the last 24 hours, per sending domain) that
    # pause the domain's campaigns, and draw the threshold lines on the Deliverability page.
    COMPLAINT_RATE_PAUSE_THRESHOLD = float(os.environ.get("COMPLAINT_RATE_PAUSE_THRESHOLD", "0.3"))
    BOUNCE_RATE_PAUSE_THRESHOLD = float(os.environ.get("BOUNCE_RATE_PAUSE_THRESHOLD", "5"))
    # Below this many messages in the window both rates are taken over this many, so one report about a tiny
    # send does not stop everything.
    COMPLAINT_RATE_MIN_VOLUME = _env_int("COMPLAINT_RATE_MIN_VOLUME", 1000)
    # DNS for the deliverability check: "host" or "host:port", comma-separated; empty: the system resolver.
    DNS_NAMESERVERS = _env_list("DNS_NAMESERVERS")
    DNS_TIMEOUT_SECONDS = float(os.environ.get("DNS_TIMEOUT_SECONDS", "3"))
    # Outbound HTTP to URLs people type (webhooks, RSS feeds; mailer/core/outbound.py) reaches public
    # addresses only. Hosts, addresses or CIDR networks listed here (comma-separated) are allowed although
    # private or loopback: an intranet receiver on purpose, or a test's receiver on 127.0.0.1. Empty by
    # default.
    MAILER_OUTBOUND_ALLOW_HOSTS: ClassVar[list[str]] = _env_list("MAILER_OUTBOUND_ALLOW_HOSTS")
    # Outgoing webhooks (README, Webhooks): seconds per request; the waits before each retry (the list's
    # length is the number of retries); an endpoint failing this many attempts in a row for at least this
    # many hours is disabled (with an email to owners and admins); how long the previous secret signs after
    # a rotation; how often the scheduler looks for due deliveries; days the delivery log is kept.
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
    WEBHOOK_RETRY_SCHEDULE = os.environ.get("WEBHOOK_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000")
    WEBHOOK_DISABLE_AFTER_FAILURES = _env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 20)
    WEBHOOK_DISABLE_AFTER_HOURS = float(os.environ.get("WEBHOOK_DISABLE_AFTER_HOURS", "24"))
    WEBHOOK_SECRET_GRACE_HOURS = float(os.environ.get("WEBHOOK_SECRET_GRACE_HOURS", "24"))
    WEBHOOK_TICK_SECONDS = _env_int("WEBHOOK_TICK_SECONDS", 5)
    WEBHOOK_LOG_RETENTION_DAYS = _env_int("WEBHOOK_LOG_RETENTION_DAYS", 30)
    # JSON API for integrations: requests per API key (shared by every endpoint) and the largest request body.
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "300 per minute")
    API_MAX_BODY_BYTES = _env_int("API_MAX_BODY_BYTES", 32 * 1024)
    # Idempotency-Keys (mailer/api/idempotency.py): hours a key and its stored answer are kept (the retention
    # run removes them after); seconds after which a first try that never finished (its process died) counts
    # as abandoned, so a retry with its key runs again.
    API_IDEMPOTENCY_HOURS = _env_int("API_IDEMPOTENCY_HOURS", 24)
    API_IDEMPOTENCY_STALE_SECONDS = _env_int("API_IDEMPOTENCY_STALE_SECONDS", 300)
    # Campaign sending.
    # Global send rate in messages per second, shared by every worker through Redis (0: unlimited).
    SEND_RATE_PER_SECOND = float(os.environ.get("SEND_RATE_PER_SECOND", "50"))
    # Caps per group of recipient domains (mailer/delivery/throttles.py), e.g.
    # "gmail.com+googlemail.com=600/min; outlook.com+hotmail.com=5/s"; empty: none.
    SEND_DOMAIN_THROTTLES = os.environ.get("SEND_DOMAIN_THROTTLES", "")
    # New sending (From) domains in warm-up and the day it began, e.g. "news.example.com=2026-12-01"; on day k
    # such a domain sends at most SEND_WARMUP_SCHEDULE[k] messages (no cap after the last step).
    SEND_WARMUP = os.environ.get("SEND_WARMUP", "")
    SEND_WARMUP_SCHEDULE = os.environ.get(
        "SEND_WARMUP_SCHEDULE", "50,100,200,400,800,1600,3200,6400,12800,25600,51200"
    )
    # Marketers' templates (layouts, bodies, subjects): each render of one email may take this long and
    # produce this many characters (mailer/services/template_limits.py), in the preview and when sending
    # alike.
    TEMPLATE_RENDER_SECONDS = float(os.environ.get("TEMPLATE_RENDER_SECONDS", "2"))
    TEMPLATE_MAX_OUTPUT = _env_int("TEMPLATE_MAX_OUTPUT", 1_048_576)
    SEND_BATCH_SIZE = _env_int("SEND_BATCH_SIZE", 500)  # deliveries per planner page and batch message
    SEND_CHUNK_SIZE = _env_int("SEND_CHUNK_SIZE", 50)  # deliveries claimed at once (requeued on a crash)
    SEND_MAX_ATTEMPTS = _env_int("SEND_MAX_ATTEMPTS", 5)  # temporary SMTP failures before giving up
    SEND_RETRY_BACKOFF_SECONDS = float(
        os.environ.get("SEND_RETRY_BACKOFF_SECONDS", "60")
    )  # doubles per attempt
    SEND_STUCK_AFTER_SECONDS = _env_int(
        "SEND_STUCK_AFTER_SECONDS", 900
    )  # backstop for a live but stuck thread
    SEND_PIPELINE_DEPTH = _env_int(
        "SEND_PIPELINE_DEPTH", 50
    )  # messages handed to the relay at once, per thread
    SEND_RELAY_RETRY_SECONDS = float(
        os.environ.get("SEND_RELAY_RETRY_SECONDS", "5")
    )  # first wait for a dead relay
    SEND_WORKER_DEAD_AFTER_SECONDS = _env_int(
        "SEND_WORKER_DEAD_AFTER_SECONDS", 10
    )  # heartbeat age of a dead worker
    SEND_RECOVERY_SECONDS = _env_int("SEND_RECOVERY_SECONDS", 5)  # how often the scheduler runs recovery
    # Journeys: how often the scheduler moves due enrolments on, and how many one transaction takes.
    JOURNEY_TICK_SECONDS = _env_int("JOURNEY_TICK_SECONDS", 15)
    JOURNEY_BATCH_SIZE = _env_int("JOURNEY_BATCH_SIZE", 500)
    # A transactional message's merge data, as compact JSON, in bytes (the whole API body has its own cap).
    TX_MAX_DATA_BYTES = _env_int("TX_MAX_DATA_BYTES", 16 * 1024)
    # How often a segment-triggered journey re-evaluates its segment, and a date-triggered one its day.
    JOURNEY_TRIGGER_SECONDS = _env_int("JOURNEY_TRIGGER_SECONDS", 60)
    # A campaign waiting for the relay this long alerts owners and admins (once per wait; checked every
    # minute).
    ALERT_RELAY_WAIT_MINUTES = float(os.environ.get("ALERT_RELAY_WAIT_MINUTES", "5"))
    SEND_ERROR_PAUSE_MIN = _env_int("SEND_ERROR_PAUSE_MIN", 20)  # errors in one batch before the ratio counts
    SEND_ERROR_PAUSE_RATIO = float(os.environ.get("SEND_ERROR_PAUSE_RATIO", "0.5"))
    SEND_POLICY_PAUSE = _env_int("SEND_POLICY_PAUSE", 3)  # 5.7.x refusals (our setup) that pause a campaign
    MAILER_BOUNCE_ADDRESS = os.environ.get(
        "MAILER_BOUNCE_ADDRESS", ""
    )  # VERP base; default bounces@<From domain>
    MAILER_FEEDBACK_ID = os.environ.get(
        "MAILER_FEEDBACK_ID", ""
    )  # sender id for Gmail's Feedback-ID; empty: none
    # Reverse proxies in front of the app (werkzeug's ProxyFix): how many hops of X-Forwarded-For,
    # X-Forwarded-Proto and X-Forwarded-Host to trust. 0 trusts none; the proxy must set or append each header
    # it is trusted for, or a client could forge it. The scheme follows the proxies by default (TLS ends
    # there); the host only when asked, since a proxy that passes `Host` on needs no X-Forwarded-Host.
    PROXY_FIX_X_FOR = _env_int("PROXY_FIX_X_FOR", 0)
    PROXY_FIX_X_PROTO = _env_int("PROXY_FIX_X_PROTO", min(PROXY_FIX_X_FOR, 1))
    PROXY_FIX_X_HOST = _env_int("PROXY_FIX_X_HOST", 0)
    # Prometheus metrics at /metrics: open to clients in these networks (CIDRs, comma-separated; the client's
    # address as the proxy settings above resolve it) or bearing this token; with neither, /metrics is 404.
    MAILER_METRICS_ALLOW: ClassVar[list[str]] = _env_list("MAILER_METRICS_ALLOW")
    MAILER_METRICS_TOKEN = os.environ.get("MAILER_METRICS_TOKEN", "")
    # A copy of the erasure register outside the database (JSON lines, ids and keyed hashes only), appended
    # at every erasure, read by `flask privacy reapply-erasures` after restoring a backup. Empty: none.
    MAILER_ERASURE_REGISTER_FILE = os.environ.get("MAILER_ERASURE_REGISTER_FILE", "")
    # Logs: "text" or "json" (one event per line with request, campaign and delivery ids), and the level.
    MAILER_LOG_FORMAT = os.environ.get("MAILER_LOG_FORMAT", "text").strip().lower()
    MAILER_LOG_LEVEL = os.environ.get("MAILER_LOG_LEVEL", "INFO").strip().upper()
    # Staff accounts: per-account lockout after this many wrong passwords or codes (from any address), for
    # STAFF_LOCKOUT_SECONDS, doubling with each further lock up to a day; the account's owner gets an email.
    STAFF_LOCKOUT_THRESHOLD = _env_int("STAFF_LOCKOUT_THRESHOLD", 5)
    STAFF_LOCKOUT_SECONDS = _env_int("STAFF_LOCKOUT_SECONDS", 60)
    STAFF_LOGIN_FLOOR_MS = _env_int("STAFF_LOGIN_FLOOR_MS", 400)  # a login answers no sooner (no enumeration)
    STAFF_SESSION_MAX_AGE = _env_int(
        "STAFF_SESSION_MAX_AGE", 12 * 3600
    )  # idle time after which a session ends
    MAX_CONTENT_LENGTH = 256 * 1024  # every request but the CSV import's upload
    IMPORT_MAX_MB = _env_int("IMPORT_MAX_MB", 200)  # the largest CSV file an import accepts
    # Where uploaded CSV files wait for the worker and rejected-row reports are kept (default:
    # instance/imports).
    IMPORT_DIR = os.environ.get("IMPORT_DIR", "")
    # Rows an import writes and commits together (with its progress): a fault loses at most this batch, and
    # a resumed import starts after the last committed one (0: imports.BATCH_ROWS, 5,000).
    IMPORT_BATCH_ROWS = _env_int("IMPORT_BATCH_ROWS", 0)
    # Batches of one import written at once on PostgreSQL, each on a connection of its own and committed in
    # file order (imports.py); 1 writes one batch after the other. SQLite always writes one at a time.
    IMPORT_LANES = _env_int("IMPORT_LANES", 2)
    # Media library: where images are stored (empty: instance/media), the largest upload, the largest side in
    # pixels, and the widths of the resized copies made of each image.
    MEDIA_DIR = os.environ.get("MEDIA_DIR", "")
    MEDIA_MAX_MB = _env_int("MEDIA_MAX_MB", 5)
    MEDIA_MAX_DIMENSION = _env_int("MEDIA_MAX_DIMENSION", 6000)
    MEDIA_WIDTHS: ClassVar[list[int]] = [int(w) for w in _env_list("MEDIA_WIDTHS") or ["600", "1200"]]
    # Media in an S3-compatible bucket instead of MEDIA_DIR (set the bucket to turn it on): the endpoint for a
    # service other than AWS (MinIO, R2, Ceph…), the region, the public URL images are read from (a CDN, or
    # the bucket's own URL by default) and a key prefix. Credentials: boto3's chain (AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, a profile, or an instance role).
    MAILER_MEDIA_S3_BUCKET = os.environ.get("MAILER_MEDIA_S3_BUCKET", "")
    MAILER_MEDIA_S3_ENDPOINT_URL = os.environ.get("MAILER_MEDIA_S3_ENDPOINT_URL", "")
    MAILER_MEDIA_S3_REGION = os.environ.get("MAILER_MEDIA_S3_REGION", "")
    MAILER_MEDIA_S3_PUBLIC_URL = os.environ.get("MAILER_MEDIA_S3_PUBLIC_URL", "")
    MAILER_MEDIA_S3_PREFIX = os.environ.get("MAILER_MEDIA_S3_PREFIX", "")
    # Test sends per staff member (each to at most 10 addresses), so a compromised or careless account can't
    # mail arbitrary addresses in bulk through the test button.
    TEST_SEND_RATE_LIMIT = os.environ.get("TEST_SEND_RATE_LIMIT", "20 per hour")
    MAX_FORM_MEMORY_SIZE = 128 * 1024

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    RATELIMIT_HEADERS_ENABLED = True
    # How staff passwords are hashed: werkzeug's default, scrypt with N=2**15, r=8, p=1 (about 0.1 s and 32 MB
    # a hash, which is the point: it slows down guessing from a stolen database).
    PASSWORD_HASH_METHOD = "scrypt"


class DevelopmentConfig(Config):
    """Embedded defaults for a newcomer: SQLite in instance/, in-process worker, local outbox."""

    WORKER_EMBEDDED = True
    SCHEDULER_EMBEDDED = True
    AUTO_MIGRATE = True
    SEED_DEMO = True


class TestingConfig(Config):
    """Tests build their own database, broker and worker; nothing reaches the outside world."""

    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SECRET_KEY_FALLBACKS: ClassVar[list[str]] = []
    MAILER_HASH_KEY = "testing-hash-key"
    SMTP_URL = ""
    REDIS_URL = ""
    WORKER_EMBEDDED = False
    SCHEDULER_EMBEDDED = False
    SIGNUP_MIN_FILL_SECONDS = 0
    SIGNUP_RESPONSE_FLOOR_MS = 0
    STAFF_LOGIN_FLOOR_MS = 0
    MAILER_BASE_URL = "http://localhost"
    MAILER_POSTAL_ADDRESS = "Mailer Demo Ltd, 1 Test Street, 10115 Berlin, Germany"
    IMPORT_DIR = os.path.join(tempfile.gettempdir(), "mailer-test-imports")
    MAILER_FROM = "Mailer Demo <newsletter@example.com>"
    MAILER_ORGANISATION = "Mailer Demo"
    MEDIA_DIR = os.path.join(tempfile.gettempdir(), "mailer-test-media")
    # The same algorithm at a 32 times smaller work factor (N=2**10): the suite creates and logs in thousands
    # of accounts, and at the production cost their hashes were a large part of its CPU time. Production and
    # development keep the default (tests/test_app_factory.py).
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"


class ProductionConfig(Config):
    """Production: PostgreSQL, Redis and a real SMTP relay; secure cookies."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
