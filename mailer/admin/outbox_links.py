"""Which personal links of a stored message the outbox shows to the staff member reading it.

The outbox (owners and admins) keeps every message as it would have been sent. Its links act as their
recipient: a privacy verification proves someone's identity, a download hands over their data, a preference or
unsubscribe link changes their consent. Staff must not act as the person, so those links are hidden in every
view (HTML, text, headers, raw source). Tracking links grant nothing; the HTML view already replaces them
(outbox.py) and the raw source keeps them as sent. Two stay visible, because the person reading the outbox is
the one who needs them in embedded mode: confirmation links (README, First steps 3: the operator tries the
double opt-in on themself) and a staff invitation the reader could have issued themself (an owner: any; an
admin: any but an owner's), while it can still be used.
"""

import re
from email import policy
from email.message import MIMEPart
from email.parser import BytesParser

from flask import current_app

from mailer.staff import management as staff_accounts

HIDDEN = "[personal link hidden: only its recipient may use it]"
HIDDEN_HREF = "about:blank"
TOKEN = r"[A-Za-z0-9_\-.]+"
# Paths under MAILER_BASE_URL whose next segment is a signed token; group "kind" tells which rule applies.
_PERSONAL_PATHS = r"(?P<kind>confirm|admin/invite|p|u|privacy/(?:verify|download|keep|address))"


class LinkFilter:
    """Hides the personal links of stored messages that a
    reader with `role` may not use; counts what it hid."""

    def __init__(self, role: str):
        self.role = role
        self.hidden = 0
        base = re.escape(current_app.config["MAILER_BASE_URL"].rstrip("/"))
        self._link = re.compile(base + "/" + _PERSONAL_PATHS + "/(?P<token>" + TOKEN + r")(?:/[^\s\"'<>]*)?")
        self._href = re.compile(
            r"(?P<open>\bhref=[\"'])(?P<url>" + self._link.pattern + r")(?P<close>[\"'])", re.I
        )

    def visible(self, match: re.Match) -> bool:
        """Confirmation links, and invitations this reader could have sent; nothing else."""
        kind = match.group("kind")
        if kind == "confirm":
            return True
        if kind == "admin/invite":
            invite = staff_accounts.invite_for_token(match.group("token")).invite
            return invite is not None and (self.role == "owner" or invite.role != "owner")
        return False

    def _replace(self, match: re.Match, replacement: str) -> str:
        if self.visible(match):
            return match.group(0)
        self.hidden += 1
        return replacement

    def text(self, value: str) -> str:
        """A text part, a header value or any other string."""
        return self._link.sub(lambda m: self._replace(m, HIDDEN), value)

    def html(self, value: str) -> str:
        """An HTML part: hidden links lead nowhere (about:blank), hidden text reads as such."""

        def href(match: re.Match) -> str:
            if self.visible(match):
                return match.group(0)
            self.hidden += 1
            return match.group("open") + HIDDEN_HREF + match.group("close")

        return self.text(self._href.sub(href, value))

    def message(self, raw: bytes) -> str:
        """The raw source; when something is hidden, re-encoded from the filtered parts (so no encoding such
        as quoted-printable can split a link past the filter)."""
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        before = self.hidden
        self._filter_part(msg)
        if self.hidden == before:
            return raw.decode("utf-8", errors="replace")
        return msg.as_string()

    def _filter_part(self, part: MIMEPart) -> None:
        for name, value in list(part.items()):
            filtered = self.text(str(value))
            if filtered != str(value):
                part.replace_header(name, filtered)
        if part.is_multipart():
            for sub in part.iter_parts():
                self._filter_part(sub)
            return
        if part.get_content_maintype() != "text":
            return
        content = part.get_content()
        subtype = part.get_content_subtype()
        filtered = self.html(content) if subtype == "html" else self.text(content)
        if filtered != content:
            base64 = part.get("Content-Transfer-Encoding", "").lower() == "base64"
            part.set_content(
                filtered, subtype=subtype, charset="utf-8", cte="base64" if base64 else "quoted-printable"
            )
