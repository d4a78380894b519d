"""Merge tags: what the editor's picker offers (built-in fields and ordinary custom fields, never sensitive
ones), the tag it inserts, the refusal of a sensitive field in a template, and template errors located on the
marketer's own line and column (not the compiled email's, which counts the layout's lines too)."""

import re
from dataclasses import dataclass

from jinja2 import TemplateError, TemplateSyntaxError

from mailer.contacts.fields import all_fields

BUILT_IN = (
    ("first_name", "First name", "there"),
    ("last_name", "Last name", ""),
    ("name", "Full name", "there"),
    ("email", "Email address", ""),
)
# contact.fields.key, contact.fields["key"] or contact.fields['key'] anywhere in a template.
_FIELD_REFERENCE = re.compile(r"contact\s*\.\s*fields\s*(?:\.\s*(\w+)|\[\s*[\"'](\w+)[\"']\s*\])")
_QUOTED = re.compile(r"'([^']{1,60})'")


@dataclass(frozen=True)
class MergeTag:
    """One entry of the picker: what a marketer reads, and the expression it stands for."""

    label: str
    expression: str
    fallback: str = ""

    def tag(self, fallback: str | None = None) -> str:
        """The tag to insert, with a fallback for contacts who have no value."""
        value = self.fallback if fallback is None else fallback
        if not value:
            return f"{{{{ {self.expression} }}}}"
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{{{{ {self.expression} | default("{quoted}") }}}}'


def picker_tags() -> list[MergeTag]:
    """Every field a campaign may use: built-in ones, then the active ordinary custom fields by label."""
    tags = [MergeTag(label, f"contact.{key}", fallback) for key, label, fallback in BUILT_IN]
    tags += [
        MergeTag(field.label, f"contact.fields.{field.key}")
        for field in all_fields()
        if field.category != "sensitive" and field.key.isidentifier()
    ]
    return tags


def sensitive_references(text: str) -> list[str]:
    """Labels of sensitive fields a template names (never given to templates: refused on save)."""
    keys = {a or b for a, b in _FIELD_REFERENCE.findall(text or "")}
    if not keys:
        return []
    return sorted(
        f.label for f in all_fields(active_only=False) if f.category == "sensitive" and f.key in keys
    )


def locate(exc: TemplateError, source: str) -> tuple[int, int, str]:
    """(line, column, that line) of a template error in `source`; column 0 when it can't be told."""
    line_no = getattr(exc, "lineno", None) or 1
    lines = (source or "").split("\n")
    line = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
    column = 0
    for token in _QUOTED.findall(str(getattr(exc, "message", "") or exc)):
        found = line.find(token)
        if found >= 0:
            column = found + 1
            break
    if not column:
        starts = [i for i in (line.find("{{"), line.find("{%")) if i >= 0]
        column = min(starts) + 1 if starts else 0
    return line_no, column, line.strip()


def template_problem(env, label: str, source: str, kind: str = "merge-field error") -> str | None:
    """A merge-field error in one field (syntax, unknown filter…) on the marketer's line and column."""
    if "{" not in (source or ""):
        return None
    try:
        env.from_string(source)
    except TemplateSyntaxError as exc:
        line, column, text = locate(exc, source)
        where = f"line {line}, column {column}" if column else f"line {line}"
        excerpt = f" (“{text[:80]}”)" if text else ""
        return f"The {label} has a {kind} on {where}{excerpt}: {(exc.message or '').rstrip('.')}."
    except RecursionError:
        return f"The {label} nests brackets or tags too deeply to be read."
    return None


def part_problem(env, label: str, source: str) -> str | None:
    """What stops one part (subject, body, layout…) from rendering, said for the marketer, or None."""
    if problem := template_problem(env, label, source):
        return problem
    if sensitive := sensitive_references(source):
        return (
            f"The {label} uses the sensitive field “{sensitive[0]}”: sensitive fields are never put in an "
            "email. Remove it."
        )
    return None
