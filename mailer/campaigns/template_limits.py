"""Limits of one render of a marketer's template: a deadline, an output size and a call depth, in any thread.

Jinja's sandbox stops unsafe attribute access but not work: nested loops of 10¹⁰ steps, `'a' * 30000000`, a
doubling `~` in a loop or a macro calling itself. template_sandbox.BoundedSandbox checks its work against
the Budget here, which holds per render (`with budget(): …`, a context variable, so threads never share
one); over a limit the render stops with a TemplateLimitError whose message is written for the marketer.
"""

import math
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from flask import current_app, has_app_context
from jinja2 import TemplateError, TemplateSyntaxError

DEFAULT_SECONDS = 2.0
DEFAULT_MAX_OUTPUT = 1_048_576  # characters of rendered output
WORK_FACTOR = 16  # text built along the way (macros, blocks, `~`, `+`) may be this many times the output


class TemplateLimitError(TemplateError):
    """A template needed more time, output or depth than a render may use; the message says which."""


def failure_message(exc: Exception, prefix: str = "The email can't be rendered") -> str:
    """What went wrong while compiling or rendering a marketer's template, in words for the marketer."""
    if isinstance(exc, TemplateLimitError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return (
            "The template is nested too deeply to render; does a macro or a recursive loop call itself "
            "without end?"
        )
    if isinstance(exc, MemoryError):
        return "The template needs more memory than rendering an email may use."
    if isinstance(exc, OverflowError):
        return f"The template asks for a number or range that is too large: {exc}"
    if isinstance(exc, TemplateSyntaxError):
        return f"The template has an error on line {exc.lineno}: {exc.message}"
    return f"{prefix}: {getattr(exc, 'message', None) or exc}"


def _size_text(chars: int) -> str:
    return f"{chars / 1_048_576:g} MB" if chars >= 1_048_576 else f"{chars:,} characters"


@dataclass
class Budget:
    """What one render may still use."""

    seconds: float
    max_output: int
    deadline: float
    output: int = 0
    work: int = 0
    depth: int = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(
                f"The template takes too long to render: it was stopped after {self.seconds:g} "
                "seconds. Look for loops inside loops, or loops over very long sequences."
            )

    def too_large(self) -> TemplateLimitError:
        return TemplateLimitError(
            f"The template produces more than {_size_text(self.max_output)}; an email must "
            "be far smaller. Look for repeated text (`*`, `~`, loops) or very large numbers."
        )

    def check_size(self, size: int) -> None:
        if size > self.max_output:
            raise self.too_large()

    def add_output(self, size: int) -> None:
        self.output += size
        if self.output > self.max_output:
            raise self.too_large()

    def add_work(self, size: int) -> None:
        self.work += size
        if self.work > self.max_output * WORK_FACTOR:
            raise self.too_large()


_BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def _limits() -> tuple[float, int]:
    if has_app_context():
        config = current_app.config
        return (
            float(config.get("TEMPLATE_RENDER_SECONDS", DEFAULT_SECONDS)),
            int(config.get("TEMPLATE_MAX_OUTPUT", DEFAULT_MAX_OUTPUT)),
        )
    return DEFAULT_SECONDS, DEFAULT_MAX_OUTPUT


def current() -> Budget:
    """The render's budget; outside one (Jinja folding constants when compiling) only size limits apply."""
    active = _BUDGET.get()
    if active is not None:
        return active
    seconds, max_output = _limits()
    return Budget(seconds, max_output, deadline=math.inf)


@contextmanager
def budget():
    """One render's limits (TEMPLATE_RENDER_SECONDS, TEMPLATE_MAX_OUTPUT), for everything rendered inside."""
    seconds, max_output = _limits()
    token = _BUDGET.set(Budget(seconds, max_output, deadline=time.monotonic() + seconds))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def render(template, context: dict) -> str:
    """Render within the active budget (or a fresh one), counting the output as it is produced."""
    if _BUDGET.get() is None:
        with budget():
            return render(template, context)
    limits = current()
    room = limits.max_output - limits.output
    chunks = []
    size = 0
    try:
        for chunk in template.root_render_func(template.new_context(context)):
            size += len(chunk)
            if size > room:
                raise limits.too_large()
            chunks.append(chunk)
    except Exception:  # as Template.render: re-raised with the template's line numbers
        template.environment.handle_exception()
    limits.output += size
    limits.check_time()
    return "".join(chunks)
