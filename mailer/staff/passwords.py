"""The staff password policy: long enough, and not guessable (zxcvbn score 3 or more)."""

import re

from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MIN_SCORE = 3  # zxcvbn: "safely unguessable: moderate protection from offline slow-hash scenario"
ZXCVBN_INPUT_LIMIT = (
    100  # zxcvbn's matching grows fast with length; longer passwords are judged on their start
)


class WeakPasswordError(ValueError):
    """A password the policy refuses; the message says why and how to do better."""


def _user_inputs(email: str, name: str | None) -> list[str]:
    """Words from the person's own address and name: a password made of them is easy to guess."""
    local = (email or "").split("@")[0]
    words = [email, local, re.sub(r"[._+\-]+", "", local), *re.split(r"[@._+\-]+", email or "")]
    if name:
        words += [name, *name.split()]
    return [word for word in words if word]


def check_password(password: str, email: str, name: str | None = None) -> None:
    """Raise WeakPasswordError with a clear message unless the password is acceptable for this person."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError("The password is too long.")
    result = zxcvbn(password[:ZXCVBN_INPUT_LIMIT], user_inputs=_user_inputs(email, name))
    if result["score"] >= MIN_SCORE:
        return
    feedback = result["feedback"]
    parts = ["This password is too easy to guess."]
    if feedback.get("warning"):
        parts.append(feedback["warning"].rstrip(".") + ".")
    parts += [tip.rstrip(".") + "." for tip in feedback.get("suggestions", [])]
    if not feedback.get("warning") and not feedback.get("suggestions"):
        parts.append("Try a few unrelated words together.")
    raise WeakPasswordError(" ".join(parts))
