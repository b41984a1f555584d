"""Reading what the admin shows in one field or column, rather than anywhere on the page (which
also names the logged-in user)."""

import re
from html.parser import HTMLParser


def readonly_value(html: str, field: str) -> str:
    """The text of the read-only field `field` on an admin change page."""
    match = re.search(rf'field-{field}".*?<div class="readonly">(.*?)</div>', html, re.S)
    assert match, f"no read-only field {field!r} on the page"
    return match.group(1).strip()


def column_values(html: str, field: str) -> list[str]:
    """The cells of the list column `field` on an admin changelist, top to bottom."""
    cells = re.findall(rf'<td class="field-{field}[^"]*">(.*?)</td>', html, re.S)
    return [cell.strip() for cell in cells]


class _ElementText(HTMLParser):
    """Collects the text inside the first element whose id is `element_id`."""

    VOID = frozenset({"br", "img", "input", "meta", "link", "hr", "source", "wbr", "col"})
    # Tags that separate words; text in inline ones (a, strong, code, span) runs on.
    BREAKS = frozenset(
        {"br", "p", "div", "li", "tr", "th", "td", "caption", "h1", "h2", "h3", "h4", "option"}
        | {"section", "figure", "figcaption", "table", "ul", "ol", "label", "select", "form"}
        | {"dl", "dt", "dd"}
    )

    def __init__(self, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0  # > 0 while inside the element
        self.found = False
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if self.depth and tag in self.BREAKS:
            self.parts.append(" ")
        if tag in self.VOID:
            return
        if self.depth:
            self.depth += 1
        elif not self.found and dict(attrs).get("id") == self.element_id:
            self.depth = 1
            self.found = True

    def handle_endtag(self, tag):
        if self.depth and tag in self.BREAKS:
            self.parts.append(" ")
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_of(html: str, selector: str) -> str:
    """The text of the element `#id`, white space collapsed, as a person reads it."""
    assert selector.startswith("#"), "only #id selectors"
    parser = _ElementText(selector[1:])
    parser.feed(html)
    assert parser.found, f"no element {selector} on the page"
    return " ".join("".join(parser.parts).split())
