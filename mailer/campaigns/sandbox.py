"""The Jinja sandbox every marketer template is compiled in, bounded by template_limits' per-render Budget.

Counting instead of tracing: the compiled code iterates every `for` through `bounded_iter`, writes macro
and block output into a size-checked buffer, and routes `~` through `bounded_concat`; calls, filters and
the `* + % **` operators are checked before they run (widths, repeat counts, replacements) and after (the
size of the result).
"""

import functools
import math
import re

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg

from mailer.campaigns.template_limits import TemplateLimitError, current

MAX_CALL_DEPTH = 40  # macros within macros: far beyond any real layout, far below Python's recursion limit
TIME_CHECK_EVERY = 256  # loop steps between two looks at the clock
# Widths and precisions in format strings: `%-10.3s`, `{:>10.3}`; `{:{}}` takes them from the arguments.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\d*)(?:\.(\d*))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
# Arguments that size what a call builds (a width, a fill count): str methods and filters by name.
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_WIDTH_FILTERS = frozenset({"center", "indent", "batch", "slice", "tojson", "wordwrap"})


class _BoundedBuffer(list):
    """The output buffer of macros, call/filter blocks and `{% set %}` blocks: each piece counts as work."""

    def append(self, item):
        limits = current()
        limits.add_work(len(item))
        super().append(item)

    def extend(self, items):
        items = tuple(items)
        limits = current()
        limits.add_work(sum(len(item) for item in items))
        limits.check_time()
        super().extend(items)


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with the three hooks above; everything else is compiled as usual."""

    def visit_For(self, node, frame):  # noqa: N802 - Jinja dispatches visit_<NodeClass>
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("bounded_iter"), [node.iter], [], None, None, lineno=node.lineno
        )
        super().visit_For(node, frame)

    def buffer(self, frame):
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.bounded_buffer()")

    def visit_Concat(self, node, frame):  # noqa: N802 - Jinja dispatches visit_<NodeClass>
        self.write("environment.bounded_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


def _size(value) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple, dict, set)) else None


def _check_format(text, args=(), kwargs=None) -> None:
    """Refuse format strings whose widths or precisions exceed the output limit (nested ones too)."""
    if not isinstance(text, str):
        return
    numbers = [n for match in _PERCENT_SPEC.finditer(text) for n in match.groups() if n]
    nested = "*" in text  # `%*s`: the width is an argument
    for spec in _BRACE_SPEC.findall(text):
        numbers += re.findall(r"\d+", spec)
        nested = nested or "{" in spec
    if nested:
        _check_numbers(args, kwargs or {})
    limit = current().max_output
    if any(len(n) > 12 or int(n) > limit for n in numbers):
        raise current().too_large()


def _check_numbers(args, kwargs) -> None:
    """Widths, counts and fills (center, indent, batch, ljust, zfill…) larger than the output may be."""
    limit = current().max_output
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > limit:
            raise current().too_large()


def _check_replace(text: str, old, new, count=None) -> None:
    if not isinstance(old, str) or not isinstance(new, str):
        return
    hits = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    current().check_size(len(text) + hits * (len(new) - len(old)))


def _check_join(items) -> list:
    items = list(items)
    current().check_size(sum(len(item) for item in items if isinstance(item, str)))
    return items


def _guarded_filter(name: str, func):
    offset = (
        1 if _PassArg.from_obj(func) is None else 2
    )  # the value, after the context or environment if passed

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        limits = current()
        limits.check_time()
        value = args[offset - 1] if len(args) >= offset else None
        if name in _WIDTH_FILTERS:
            _check_numbers(args[offset:], kwargs)
        if name == "format":
            _check_format(value, args[offset:], kwargs)
        elif name == "replace" and isinstance(value, str) and len(args) >= offset + 2:
            _check_replace(value, *args[offset : offset + 3])
        elif name == "join" and value is not None:
            args = (*args[: offset - 1], _check_join(value), *args[offset:])
        result = func(*args, **kwargs)
        if (size := _size(result)) is not None:
            limits.check_size(size)
            limits.add_work(size)
        return result

    return guarded


def _str_owner(obj):
    """The string a called method belongs to (str.format comes wrapped by the sandbox), else None."""
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, str):
        return owner
    owner = getattr(getattr(obj, "__wrapped__", None), "__self__", None)
    return owner if isinstance(owner, str) else None


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox every marketer template is compiled in (see the module docstring)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "+", "%", "**"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters = {name: _guarded_filter(name, func) for name, func in self.filters.items()}
        self.globals.pop("lipsum", None)  # placeholder text of any length, without a hook to stop it

    def bounded_iter(self, iterable):
        """Every `for` iterates through here: the clock is read every TIME_CHECK_EVERY steps."""
        limits = current()
        limits.check_time()
        for step, item in enumerate(iterable, 1):
            if not step % TIME_CHECK_EVERY:
                limits.check_time()
            yield item

    @staticmethod
    def bounded_buffer() -> list:
        return _BoundedBuffer()

    @staticmethod
    def bounded_concat(value):
        limits = current()
        limits.check_size(len(value))
        limits.add_work(len(value))
        return value

    def call_binop(self, context, operator, left, right):
        limits = current()
        limits.check_time()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if _size(seq) is not None and isinstance(times, int):
                    limits.check_size(len(seq) * max(times, 0))
        elif operator == "%":
            _check_format(left, right if isinstance(right, tuple) else (right,))
        elif (
            operator == "**"
            and isinstance(left, (int, float))
            and isinstance(right, (int, float))
            and abs(left) > 1
            and right > 0
            and right * math.log2(abs(left)) > 4096
        ):
            raise TemplateLimitError("The template computes a number too large to show (a huge `**` power).")
        result = super().call_binop(context, operator, left, right)
        if (size := _size(result)) is not None:
            limits.check_size(size)
            limits.add_work(size)
        return result

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's own signature
        limits = current()
        limits.check_time()
        owner = _str_owner(__obj)
        if owner is not None:
            name = getattr(__obj, "__name__", "")
            if name in _WIDTH_METHODS:
                _check_numbers(args, kwargs)
            if name in ("format", "format_map"):
                _check_format(owner, args, kwargs)
            elif name == "replace" and args:
                _check_replace(owner, *args[:3])
            elif name == "join" and args:
                args = (_check_join(args[0]), *args[1:])
        if isinstance(__obj, LoopContext) and args:  # `loop(children)` of a recursive for
            args = (__self.bounded_iter(args[0]), *args[1:])
        if limits.depth >= MAX_CALL_DEPTH:
            raise TemplateLimitError(
                f"The template calls macros (or a recursive loop) more than {MAX_CALL_DEPTH} "
                "levels deep; does something call itself without end?"
            )
        limits.depth += 1
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            limits.depth -= 1
        container = getattr(__obj, "__self__", None)
        for value in (result, container if isinstance(container, (list, dict, set)) else None):
            if (size := _size(value)) is not None:
                limits.check_size(size)
        if (size := _size(result)) is not None:
            limits.add_work(size)
        return result
