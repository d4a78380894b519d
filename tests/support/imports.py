"""The CSV import as staff use it: upload the file, then confirm the mapping of its columns."""

import io
import re

from tests.support.http import csrf_token

SELECT_RE = re.compile(r'<select[^>]*name="(column-\d+)"[^>]*>(.*?)</select>', re.S)
SELECTED_RE = re.compile(r'<option value="([^"]*)" selected>')


def proposed_mapping(html: str) -> dict[str, str]:
    """The mapping page's choice for each column (name of the select -> selected value, "" when none)."""
    found = {}
    for name, options in SELECT_RE.findall(html):
        selected = SELECTED_RE.search(options)
        found[name] = selected.group(1) if selected else ""
    return found


def upload_file(client, list_id, data, mode="double_opt_in", statement="", filename="people.csv"):
    """Post the upload form; the answer is the redirect to the mapping step (or the refusal)."""
    page = client.get("/admin/imports/new")
    return client.post(
        "/admin/imports/new",
        data={
            "csrf_token": csrf_token(page.text),
            "list_id": list_id,
            "mode": mode,
            "consent_statement": statement,
            "file": (io.BytesIO(data), filename),
        },
        content_type="multipart/form-data",
    )


def confirm_mapping(client, mapping_url, choices=None, unknown="ignore"):
    """Accept the proposed mapping, with `choices` (select name -> value) changed and the columns left
    without a proposal set to `unknown`; returns the answer to the form."""
    page = client.get(mapping_url)
    mapping = {name: value or unknown for name, value in proposed_mapping(page.text).items()}
    mapping.update(choices or {})
    return client.post(mapping_url, data={"csrf_token": csrf_token(page.text), **mapping})


def upload_and_map(client, list_id, data, mode="double_opt_in", statement="", filename="people.csv"):
    """Upload, then confirm the proposed mapping (unknown columns ignored); the last answer (302 to the
    import's page when queued, or the upload's refusal)."""
    response = upload_file(client, list_id, data, mode, statement, filename)
    if response.status_code != 302 or "/mapping" not in response.location:
        return response
    return confirm_mapping(client, response.location)
