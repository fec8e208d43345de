"""Read a page's form the way a browser sends it: which fields, with which values.

Used to press a button again on a page the app sent back (an outage page), so a test
proves the page itself kept what was typed, not that the test remembered it.
"""

from __future__ import annotations

from html.parser import HTMLParser

#: Input types a browser never sends as a field of their own.
_BUTTONS = frozenset({"submit", "button", "image", "reset"})


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[dict[str, str | None], list[tuple[str, str]]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._textarea: list[str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self._fields = []
            self.forms.append((found, self._fields))
            return
        if self._fields is None:
            return
        name = found.get("name")
        if tag == "input" and name:
            kind = (found.get("type") or "text").lower()
            if kind in _BUTTONS or (kind in ("radio", "checkbox") and "checked" not in found):
                return
            self._fields.append((name, found.get("value") or ("on" if kind == "checkbox" else "")))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in found:
            self._fields.append((self._select, found.get("value") or ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None
        elif tag == "textarea" and self._textarea is not None and self._fields is not None:
            self._fields.append((self._textarea[0], self._textarea[1]))
            self._textarea = None
        elif tag == "select":
            self._select = None


def forms(html: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Every form of the page: ``(method, action, fields as a browser would send them)``."""
    reader = _Forms()
    reader.feed(html)
    return [
        ((attrs.get("method") or "get").lower(), attrs.get("action") or "", fields)
        for attrs, fields in reader.forms
    ]


class _Addresses(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if not value:
                continue
            if name == "content" and "url=" in value.lower():  # <meta http-equiv="refresh">
                self.found.append(value[value.lower().index("url=") + 4 :].strip())
            elif value.startswith(("/", "http:", "https:", "?", "#")):
                self.found.append(value)


def addresses(html: str) -> list[str]:
    """Every address in the page: links, sources, form actions, data attributes, refreshes."""
    reader = _Addresses()
    reader.feed(html)
    return reader.found


def form_fields(html: str, action_ends: str) -> list[tuple[str, str]]:
    """Return the fields of the page's POST form whose action ends with ``action_ends``.

    :raise AssertionError: when the page has no such form.
    """
    reader = _Forms()
    reader.feed(html)
    for attrs, fields in reader.forms:
        action = (attrs.get("action") or "").split("?")[0]
        if (attrs.get("method") or "").lower() == "post" and action.endswith(action_ends):
            return fields
    raise AssertionError(f"no form posting to …{action_ends} on the page")


def typed(fields: list[tuple[str, str]] | dict) -> list[tuple[str, str]]:
    """The fields that hold something, sorted, without the CSRF token and the button."""
    pairs = fields.items() if isinstance(fields, dict) else fields
    flat = []
    for name, value in pairs:
        for one in value if isinstance(value, list) else [value]:
            if name not in ("csrf_token", "action") and str(one).strip():
                flat.append((name, str(one)))
    return sorted(flat)
