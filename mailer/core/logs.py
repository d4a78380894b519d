"""Logging: plain text or one JSON object per line (MAILER_LOG_FORMAT), with the request id and, where known,
the campaign and delivery ids of what is being done.

The ids live in context variables: a request sets its id (from a valid `X-Request-ID` header, which the answer
carries back, else a new one); the send engine and the bounce handling name their campaign and delivery with
`log_context`. A job queued while ids are known carries them to its worker (`broker.LogContextMiddleware`),
so the worker's lines for that job name the same request, and the jobs it queues in turn carry them on.
Log messages never carry personal data (addresses, names): ids only.
"""

import contextlib
import contextvars
import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime

from flask import Flask, g, request

CONTEXT_FIELDS = ("request_id", "campaign_id", "delivery_id")
_context: dict[str, contextvars.ContextVar] = {
    name: contextvars.ContextVar(name, default=None) for name in CONTEXT_FIELDS
}
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "mailer"


@contextlib.contextmanager
def log_context(**fields):
    """Name the campaign or delivery (ids only) in every log line written inside the block."""
    tokens = bind_context(fields)
    try:
        yield
    finally:
        unbind_context(tokens)


def current_context() -> dict:
    return {name: value for name, variable in _context.items() if (value := variable.get()) is not None}


def bind_context(fields: dict) -> list[tuple[contextvars.ContextVar, contextvars.Token]]:
    """Name the ids carried by a job (known fields only) until unbind_context; for the worker middleware."""
    return [(_context[name], _context[name].set(value)) for name, value in fields.items() if name in _context]


def unbind_context(tokens: list[tuple[contextvars.ContextVar, contextvars.Token]]) -> None:
    for variable, token in reversed(tokens):
        variable.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current ids onto each record (so the text format and the JSON one can both show them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, _context[name].get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids known, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                event[name] = value
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=str)


def configure(log_format: str, level: str) -> None:
    """Install (once per process, replaced when called again) the root handler in the chosen format."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    if log_format == "json":  # one format per line: a plain stream handler set up earlier (dramatiq's) goes
        for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
            root.removeHandler(handler)
    if log_format == "text" and any(h.get_name() != HANDLER_NAME for h in root.handlers):
        quiet_libraries()
        return  # someone (a test runner, gunicorn's own set-up) already handles text logging
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    quiet_libraries()


def quiet_libraries() -> None:
    """aiosmtpd (our bounce listener) logs each recipient at INFO and every line of a message at DEBUG:
    addresses and whole reports. Only its warnings and errors are logged."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def request_id_for(given: str | None) -> str:
    """The request's id: the one the client or proxy sent when it is sane, else a new one."""
    return given if given and REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def set_request_id(request_id: str) -> contextvars.Token:
    """Name this request in log lines until reset_request_id (for the WSGI fast path, outside Flask)."""
    return _context["request_id"].set(request_id)


def reset_request_id(token: contextvars.Token) -> None:
    _context["request_id"].reset(token)


def _start_request() -> None:
    given = request.headers.get("X-Request-ID")
    request_id = request_id_for(given)
    g.request_id_token = set_request_id(request_id)
    g.echo_request_id = request_id if request_id == given else None


def _answer_request(response):
    """A request id the proxy sent comes back in the answer (one made here is for the logs only, so equal
    requests still get byte-equal answers)."""
    request_id = g.get("echo_request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def _end_request(_exc) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        _context["request_id"].reset(token)


def init_app(app: Flask) -> None:
    """The format and level from the settings, and a request id for every request."""
    log_format = app.config["MAILER_LOG_FORMAT"]
    if log_format not in ("json", "text"):
        raise RuntimeError(f"MAILER_LOG_FORMAT must be json or text, not {log_format!r}")
    configure(log_format, app.config["MAILER_LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_answer_request)
    app.teardown_request(_end_request)
