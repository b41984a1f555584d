"""Reading what the admin shows in one field or column, rather than anywhere on the page (which
also names the logged-in user)."""

import re


def readonly_value(html: str, field: str) -> str:
    """The text of the read-only field `field` on an admin change page."""
    match = re.search(rf'field-{field}".*?<div class="readonly">(.*?)</div>', html, re.S)
    assert match, f"no read-only field {field!r} on the page"
    return match.group(1).strip()


def column_values(html: str, field: str) -> list[str]:
    """The cells of the list column `field` on an admin changelist, top to bottom."""
    cells = re.findall(rf'<td class="field-{field}[^"]*">(.*?)</td>', html, re.S)
    return [cell.strip() for cell in cells]
