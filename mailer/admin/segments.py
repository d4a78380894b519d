"""Segments: the list, the builder (a plain form; segments.js adds rows and a live count) and deletion."""

import re
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_number, gettext, ngettext
from flask_login import current_user
from sqlalchemy import select

from mailer.admin.blueprint import bp
from mailer.admin.privacy_forms import ActionForm
from mailer.campaigns.models import Campaign, CampaignStatus
from mailer.core.extensions import db
from mailer.core.sentences import shown
from mailer.segments.catalogue import catalogue
from mailer.segments.conditions import MATCHES, Count, SegmentError, count
from mailer.segments.models import Segment
from mailer.segments.operations import all_segments, delete_segment, save_segment, segment_by_public_id

ROW_KEY = re.compile(r"^g(\d{1,3})-r(\d{1,3})-(field|op|value)$")
GROUP_KEY = re.compile(r"^g(\d{1,3})-match$")
EMPTY_ROW = {"field": "", "op": "", "value": ""}


def _campaign_options() -> list[tuple[str, str]]:
    """Campaigns whose opens and clicks a condition can name (those that have gone out, newest first)."""
    rows = db.session.execute(
        select(Campaign.public_id, Campaign.name)
        .where(Campaign.status != CampaignStatus.DRAFT)
        .order_by(Campaign.id.desc())
        .limit(200)
    )
    return [(public_id, name) for public_id, name in rows]


def _form_groups(form: Any) -> tuple[str, list[dict]]:
    """The builder's fields as groups of rows, in page order (rows may be added or removed in between)."""
    groups: dict[int, dict] = {}
    for key in form:
        if match := GROUP_KEY.match(key):
            groups.setdefault(int(match[1]), {"rows": {}})["match"] = form.get(key)
        elif match := ROW_KEY.match(key):
            group = groups.setdefault(int(match[1]), {"rows": {}})
            group["rows"].setdefault(int(match[2]), dict(EMPTY_ROW))[match[3]] = form.get(key, "")[:300]
    ordered = []
    for _, group in sorted(groups.items()):
        rows = [row for _, row in sorted(group["rows"].items())]
        ordered.append(
            {"match": group.get("match") if group.get("match") in MATCHES else "all", "rows": rows}
        )
    top = form.get("match")
    return (top if top in MATCHES else "all"), ordered


def _tree(top: str, groups: list[dict]) -> dict:
    """The condition tree the rows describe; rows without a field are left out."""
    rules = []
    for group in groups:
        chosen = [
            {"field": row["field"], "op": row["op"], "value": row["value"] or None}
            for row in group["rows"]
            if row.get("field")
        ]
        if chosen:
            rules.append({"match": group["match"], "rules": chosen})
    return {"match": top, "rules": rules}


def _groups_of(tree: dict) -> tuple[str, list[dict]]:
    """A stored tree as builder groups (a rule outside a group gets a group of its own)."""
    groups = []
    for item in tree.get("rules", []):
        if "rules" in item:
            rows = [
                {
                    "field": r.get("field", ""),
                    "op": r.get("op", ""),
                    "value": "" if r.get("value") is None else str(r.get("value")),
                }
                for r in item["rules"]
                if "field" in r
            ]
            groups.append({"match": item.get("match", "all"), "rows": rows})
        else:
            value = "" if item.get("value") is None else str(item.get("value"))
            groups.append(
                {"match": "all", "rows": [{"field": item["field"], "op": item["op"], "value": value}]}
            )
    return tree.get("match", "all"), groups or [{"match": "all", "rows": [dict(EMPTY_ROW)]}]


def _apply_action(action: str, groups: list[dict]) -> None:
    """The no-script buttons: add or remove a condition or a group."""
    if action == "add-group":
        groups.append({"match": "all", "rows": [dict(EMPTY_ROW)]})
    elif match := re.match(r"^add-rule-(\d{1,3})$", action):
        if int(match[1]) < len(groups):
            groups[int(match[1])]["rows"].append(dict(EMPTY_ROW))
    elif match := re.match(r"^remove-(\d{1,3})-(\d{1,3})$", action):
        g, r = int(match[1]), int(match[2])
        if g < len(groups) and r < len(groups[g]["rows"]):
            del groups[g]["rows"][r]
            if not groups[g]["rows"]:
                del groups[g]
    if not groups:
        groups.append({"match": "all", "rows": [dict(EMPTY_ROW)]})


def _builder(segment: Segment | None):
    """The builder page: GET shows the segment; POST counts, saves, or adds and removes rows."""
    name = segment.name if segment is not None else ""
    top, groups = _groups_of(segment.tree) if segment is not None else ("all", [])
    if not groups:
        groups = [{"match": "all", "rows": [dict(EMPTY_ROW)]}]
    counted: Count | None = None
    error, status = "", 200
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400, gettext("The form expired. Please reload the page and try again."))
        name = request.form.get("name", "")[:200]
        top, groups = _form_groups(request.form)
        action = request.form.get("action", "count")[:40]
        if action in ("save", "count"):
            try:
                if action == "save":
                    saved = save_segment(
                        name, _tree(top, groups), current_user, segment, ip=request.remote_addr
                    )
                    db.session.commit()
                    flash(gettext("Segment “%(name)s” saved.", name=saved.name), "success")
                    return redirect(url_for("admin.segment_edit", public_id=saved.public_id))
                counted = count(_tree(top, groups))
            except SegmentError as exc:
                db.session.rollback()
                error, status = shown(exc), 400
        else:
            _apply_action(action, groups)
    elif segment is not None:
        try:
            counted = count(segment.tree)
        except SegmentError as exc:  # a list or tag it named was deleted since
            error = shown(exc)
    named_lists = {row["value"] for group in groups for row in group["rows"] if row.get("field") == "list"}
    options = catalogue(_campaign_options(), named_lists)
    return render_template(
        "admin/segments/edit.html",
        segment=segment,
        name=name,
        top=top,
        groups=groups,
        options=options,
        by_name={o.name: o for o in options},
        catalogue_json=[o.as_json() for o in options],
        counted=counted,
        error=error,
        form=ActionForm(),
    ), status


@bp.get("/segments")
def segments():
    """Saved segments."""
    return render_template("admin/segments/index.html", segments=all_segments(), form=ActionForm())


@bp.route("/segments/new", methods=["GET", "POST"])
def segment_new():
    """Build a new segment."""
    return _builder(None)


@bp.route("/segments/<public_id>", methods=["GET", "POST"])
def segment_edit(public_id: str):
    """Change a saved segment, see how many contacts it holds now."""
    segment = segment_by_public_id(public_id)
    if segment is None:
        abort(404)
    return _builder(segment)


@bp.post("/segments/count")
def segment_count():
    """The live count for the builder's script: JSON {count, unseen, count_text, unseen_text} or {error}, the
    texts in the page's language."""
    if not ActionForm().validate_on_submit():
        return jsonify(error=gettext("The form expired. Please reload the page.")), 400
    top, groups = _form_groups(request.form)
    tree = _tree(top, groups)
    if not tree["rules"]:
        return jsonify(error=gettext("Choose a field to start.")), 400
    try:
        counted = count(tree)
    except SegmentError as exc:
        return jsonify(error=shown(exc)), 400
    return jsonify(
        count=counted.matching,
        unseen=counted.unseen,
        count_text=ngettext(
            "%(count)s contact matches",
            "%(count)s contacts match",
            counted.matching,
            count=format_number(counted.matching),
        ),
        unseen_text=" ".join(
            ngettext(
                "%(count)s contact did not agree to %(purpose)s: activity conditions cannot see them.",
                "%(count)s contacts did not agree to %(purpose)s: activity conditions cannot see them.",
                n,
                count=format_number(n),
                purpose=purpose.lower(),
            )
            for purpose, n in counted.unseen.items()
        ),
    )


@bp.post("/segments/<public_id>/delete")
def segment_delete(public_id: str):
    """Delete a saved segment (the contacts stay)."""
    segment = segment_by_public_id(public_id)
    if segment is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400, gettext("The form expired. Please reload the page and try again."))
    try:
        delete_segment(segment, current_user, ip=request.remote_addr)
    except SegmentError as exc:
        db.session.rollback()
        flash(shown(exc), "danger")
        return redirect(url_for("admin.segments"))
    db.session.commit()
    flash(gettext("Segment “%(name)s” deleted.", name=segment.name), "success")
    return redirect(url_for("admin.segments"))
