"""A lean path, in front of Flask, for the three endpoints every campaign message makes hot: the open pixel,
the click redirect and the RFC 8058 one-click unsubscribe POST.

Their own work is small (a signed token, then an in-memory buffer or a group commit). Most of what such a
request costs under Flask goes to the framework and its extensions: request context, session, rate limiter,
before- and after-request hooks, none of which these requests use (no cookies, exempt from rate limits and
CSRF, one fixed form field at most). This WSGI middleware answers the regular case of each directly, with the
views' own service calls and response builders and the same security headers. Anything else goes on to Flask
unchanged and is answered as before: another method (HEAD), a query string, a token the route would not
match, a token that does not verify, a one-click body other than the urlencoded `List-Unsubscribe=One-Click`,
or an error on the way (Flask then does the same idempotent work again, and handles the error as it would).
"""

import io
import logging
import re
import time

from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from mailer.consent.ledger import RequestContext
from mailer.core import logs, metrics
from mailer.core.web import PATH_CHARACTER, apply_security_headers
from mailer.public.tracking import pixel_response
from mailer.public.unsubscribe import one_click_answer
from mailer.subscriptions import unsubscribe as unsubscribe_service
from mailer.tracking import events as tracking

log = logging.getLogger(__name__)

TOKEN = re.compile(PATH_CHARACTER + "+")  # what the routes' <token> matches (web.TextConverter)
ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"
KINDS = {"/t/o": "open", "/t/c": "click"}  # metrics' name of each path (the rest, under /u/: unsubscribe)
FORM_TYPE = "application/x-www-form-urlencoded"


class RecipientFastPath:
    """WSGI middleware: the regular pixel, click and one-click
    unsubscribe requests without Flask's request cycle."""

    def __init__(self, app, flask_wsgi_app):
        self.app = app
        self.flask = flask_wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path[:3] not in ("/t/", "/u/") or environ.get("QUERY_STRING"):
            return self.flask(environ, start_response)
        started = time.perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID")
        token = logs.set_request_id(logs.request_id_for(given))
        try:
            response = self._answer(environ.get("REQUEST_METHOD"), path, environ)
        except Exception:  # Flask does it again, and answers an error as it always does
            log.exception("recipient fast path failed for %s; handing the request to Flask", path[:3])
            response = None
        finally:
            logs.reset_request_id(token)
        if response is None:
            return self.flask(environ, start_response)
        apply_security_headers(response, "public", environ.get("wsgi.url_scheme") == "https")
        if given and logs.REQUEST_ID.fullmatch(given):  # echoed as Flask's answers echo it (core.logs)
            response.headers["X-Request-ID"] = given
        metrics.recipient_request(KINDS.get(path[:4], "unsubscribe"), time.perf_counter() - started)
        return response(environ, start_response)

    def _answer(self, method: str | None, path: str, environ) -> Response | None:
        user_agent = environ.get("HTTP_USER_AGENT")
        if method == "GET" and path.startswith("/t/o/") and TOKEN.fullmatch(path, 5):
            with self.app.app_context():
                tracking.track_open(path[5:], user_agent)
            return pixel_response()
        if method == "GET" and path.startswith("/t/c/") and TOKEN.fullmatch(path, 5):
            with self.app.app_context():
                target = tracking.track_click(path[5:], user_agent)
            return redirect(target.url, code=302) if target is not None else None
        if (
            method == "POST"
            and path.startswith("/u/")
            and TOKEN.fullmatch(path, 3)
            and _one_click_body(environ)
        ):
            ctx = RequestContext(
                "one-click-unsubscribe", environ.get("REMOTE_ADDR"), (user_agent or "")[:512]
            )
            with self.app.app_context():
                outcome = unsubscribe_service.unsubscribe(path[3:], ctx)
                if outcome.status == "invalid":
                    return None  # nothing changed; Flask answers the bad link
                return Response(one_click_answer(outcome), 200, content_type="text/plain; charset=utf-8")
        return None


def _one_click_body(environ) -> bool:
    """Whether the body is exactly the RFC 8058 urlencoded
    one; the body stays readable for Flask either way."""
    length = environ.get("CONTENT_LENGTH") or ""
    content_type = (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower()
    if content_type != FORM_TYPE or not length.isdigit() or int(length) > 2 * len(ONE_CLICK_BODY):
        return False
    body = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(body)
    return body == ONE_CLICK_BODY
