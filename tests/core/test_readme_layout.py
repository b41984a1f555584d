"""README's map of the code ("Layout") stays true to the tree: every module it names exists in
the package it is listed under, and every module of the apps is named there."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "config", "accounts", "integrations", "campaigns", "participants", "demo")
# Modules every Django app or package has, that the map need not name.
PLUMBING = {"__init__.py", "apps.py", "__main__.py"}


def layout_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1]
    return section.split("```\n", 2)[1].splitlines()


def listed_modules() -> dict[Path, set[str]]:
    """{directory: module file names the map lists under it}, from the indentation."""
    listed: dict[Path, set[str]] = {}
    stack: list[tuple[int, Path]] = []
    where = Path()
    for line in layout_block():
        indent = len(line) - len(line.lstrip(" "))
        if indent < 10:  # an entry; deeper lines continue the entry above
            while stack and stack[-1][0] >= indent:
                stack.pop()
            head = line.strip().split(" ", 1)[0]
            if head.endswith("/") and "." not in head:
                parent = stack[-1][1] if stack else Path()
                stack.append((indent, parent / head.rstrip("/")))
            where = stack[-1][1] if stack else Path()
        for name in re.findall(r"(?<![\w/.])([a-z_][a-z0-9_.]*\.py)\b", line):
            listed.setdefault(where, set()).add(name)
    return listed


def test_every_module_the_map_names_exists_where_it_says():
    missing = []
    for directory, names in listed_modules().items():
        if not directory.parts or directory.parts[0] not in APPS:
            continue
        for name in names:
            # Names in a package's line may sit in its subfolders (management/commands/…).
            if not (ROOT / directory / name).exists() and not list((ROOT / directory).rglob(name)):
                missing.append(str(directory / name))
    assert missing == []


def test_every_module_of_the_apps_is_on_the_map():
    listed = listed_modules()
    unlisted = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or "commands" in relative.parts:
                continue
            if path.name in PLUMBING or "templatetags" in relative.parts:
                continue
            names = set().union(
                *(names for d, names in listed.items() if relative.parent.is_relative_to(d))
            )
            if path.name not in names:
                unlisted.append(str(relative))
    assert unlisted == []
