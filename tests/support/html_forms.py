"""Fill and submit an HTML form the way a browser would: every field's current value, changed where asked."""

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from werkzeug.datastructures import MultiDict

SKIPPED_INPUTS = {"submit", "button", "image", "reset", "file"}


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self._select: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {
                "action": a.get("action", ""),
                "method": a.get("method", "get").lower(),
                "fields": [],
            }
        elif self._form is None:
            return
        elif tag == "input" and a.get("name") and a.get("type", "text").lower() not in SKIPPED_INPUTS:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form["fields"].append((a["name"], a.get("value", "on")))
            else:
                self._form["fields"].append((a["name"], a.get("value", "")))
        elif tag == "textarea" and a.get("name"):
            self._textarea = (a["name"], [])
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "multiple": "multiple" in a, "first": None, "chosen": []}
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in a:
                self._select["chosen"].append(value)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag):
        if self._form is None:
            return
        if tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)  # a browser drops the newline right after <textarea>
            self._form["fields"].append(
                (name, text[2:] if text.startswith("\r\n") else text.removeprefix("\n"))
            )
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = self._select["chosen"]
            if not chosen and not self._select["multiple"] and self._select["first"] is not None:
                chosen = [self._select["first"]]
            self._form["fields"].extend((self._select["name"], v) for v in chosen)
            self._select = None
        elif tag == "form":
            self.forms.append(self._form)
            self._form = None


def forms_on(html: str) -> list[dict]:
    """Every form on a page: action, method and the (name, value) pairs a browser would submit."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def submit_form(client, page_url: str, html: str, index: int = -1, **changes):
    """Submit a page's form (by default the last one, i.e.
    the page's own form below the navigation's logout form).

    `changes` replace a field's values (a list for several values, None removes the field). Returns the
    response.
    """
    form = [f for f in forms_on(html) if f["method"] == "post"][index]
    data = MultiDict(form["fields"])
    for name, value in changes.items():
        data.poplist(name)
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            data.add(name, str(item))
    action = urljoin(page_url, form["action"] or page_url)
    parts = urlsplit(action)
    return client.post(parts.path + (f"?{parts.query}" if parts.query else ""), data=data)
