"""A person's authenticator app, for tests: it keeps each
account's TOTP key and recovery codes as a phone would.

The login helpers use it to get past the second factor the way a person does: they read the key from the
enrolment page, type the app's code, keep the recovery codes, and later type a fresh code at the second step.
"""

import html
import re
import time

import pyotp

KEY_RE = re.compile(r'id="manual-key"[^>]*>([^<]+)<')
CODES_RE = re.compile(r'<ul[^>]*id="recovery-codes"[^>]*>(.*?)</ul>', re.S)


class Authenticator:
    """TOTP keys and unused recovery codes by account address, and the newest time step each account used."""

    def __init__(self):
        self.keys: dict[str, str] = {}
        self.recovery_codes: dict[str, list[str]] = {}
        self.used_step: dict[str, int] = {}

    def add(self, email: str, key: str) -> None:
        """Scan a new key (the QR code or the manual key from the enrolment page)."""
        self.keys[email] = "".join(key.split())
        self.used_step.pop(email, None)

    def add_from_page(self, email: str, page_html: str) -> None:
        match = KEY_RE.search(page_html)
        assert match, "the enrolment page shows no manual key"
        self.add(email, html.unescape(match.group(1)))

    def keep_recovery_codes(self, email: str, page_html: str) -> list[str]:
        """Write down the recovery codes a page shows (once)."""
        match = CODES_RE.search(page_html)
        codes = re.findall(r"<li>([^<]+)</li>", match.group(1)) if match else []
        if codes:
            self.recovery_codes[email] = codes
        return codes

    def codes(self, email: str) -> list[str]:
        """Codes the server will accept, oldest step first: the app's code for the step before, now and after
        (the server allows one step of drift) that this account has not used yet."""
        totp = pyotp.TOTP(self.keys[email])
        now = totp.timecode(time.time())
        first = max(now - 1, self.used_step.get(email, now - 2) + 1)
        return [(step, totp.generate_otp(step)) for step in range(first, now + 2)]

    def fresh(self, email: str) -> tuple[int, str]:
        """The unused code that stays valid longest from now on: the current step's (30-60 s left) or, when
        this account used that one, the next step's. The oldest code (the step before) expires at the next
        step boundary, which a busy machine can cross between reading a code and the server checking it."""
        totp = pyotp.TOTP(self.keys[email])
        now = totp.timecode(time.time())
        codes = self.codes(email)
        return next(((step, code) for step, code in codes if step >= now), codes[-1])

    def used(self, email: str, step: int) -> None:
        self.used_step[email] = max(step, self.used_step.get(email, step))

    def take_recovery_code(self, email: str) -> str:
        codes = self.recovery_codes.get(email) or []
        assert codes, f"no TOTP code left in this window and no recovery code for {email}"
        return codes.pop(0)


AUTHENTICATOR = Authenticator()
