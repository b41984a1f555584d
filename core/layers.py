"""The import direction between the apps, checked: `python -m core.layers` (run by `make check`).

The apps are layers, each using only those below it (docs/architecture.md):

    core  <-  accounts  <-  integrations  <-  campaigns  <-  participants

and config, demo and devidp on top, free to import anything. Inside integrations the packages
are layers too: egress (the outbound HTTP guard) uses nothing else of integrations; mapping and
webhooks may use egress; oauth may use egress and mapping. Models are the exception: one app
label, so every package but egress may import any integrations `models` module (an
OAuthIntegration is what a mapping belongs to). The modules directly in integrations/ are
shared by its packages (fields, variables, models) or assemble them (admin, apps, checks,
commands) and are not checked against each other.

The check reads the source with `ast`, never imports it: every `import` and `from … import`,
including those inside functions and under `if TYPE_CHECKING:`, with relative imports resolved.
A string that is a higher app's URL name ("participants:landing",
"admin:participants_loginattempt_changelist") counts as an import too: lower apps ask for such
links by name instead (core/links.py). So does `from module import _name`: a module's
underscored names are its own, and an app module that imports another's is reported. Tests and
migrations are left out (a migration's imports are history). Templates count as their app's
(templates/<app>/…, templates/admin/<app>/…, templates/jinja2/<app>/…): a `{% url %}` (or the
Jinja2 pages' `url()`) there may not name a higher app's URL either; the others (base pages, the
admin's home page) belong to config.
"""

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Bottom first; an app may import its own layer and those before it.
LAYERS = ("core", "accounts", "integrations", "campaigns", "participants")
# On top: they may import anything, and nothing in LAYERS may import them.
TOP = ("config", "demo", "devidp")

# Inside integrations: package -> the sibling packages it may import.
INTEGRATIONS_PACKAGES = {
    "egress": frozenset(),
    "mapping": frozenset({"egress"}),
    "webhooks": frozenset({"egress"}),
    "oauth": frozenset({"egress", "mapping"}),
}
# "namespace:name" or "admin:<app label>_<rest>", the whole string.
URL_NAME = re.compile(r"^(?:admin:(?P<admin_app>[a-z]+)_\w+|(?P<namespace>[a-z]+):[\w-]+)$")
TEMPLATE_URL = re.compile(r"""(?:{%\s*url\s+|\burl\(\s*)(['"])(?P<name>[^'"]+)\1""")
SKIPPED_DIRS = frozenset({"tests", "migrations", "__pycache__", ".venv", "node_modules"})


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    importer: str
    target: str  # "import x.y" or 'URL "app:name"'
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer}: {self.target} ({self.rule})"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(tree: ast.AST, *, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in the tree, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # `from integrations import models` imports integrations.models.
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{target}.{alias.name}"
                else:
                    yield node.lineno, target


def url_names_of(tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    """(line, app, URL name) for every string constant that is a URL name of one of the apps."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = URL_NAME.match(node.value)
            if match is not None:
                app = match["admin_app"] or match["namespace"]
                if app in LAYERS or app in TOP:
                    yield node.lineno, app, node.value


def private_imports_of(tree: ast.AST, *, module: str) -> Iterator[tuple[int, str]]:
    """(line, module.name) for every `from <app module> import _name` (not dunders)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if _rank(node.module) is None or node.module == module:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield node.lineno, f"{node.module}.{alias.name}"


def _rank(module: str) -> int | None:
    top = module.split(".")[0]
    if top in LAYERS:
        return LAYERS.index(top)
    if top in TOP:
        return len(LAYERS)
    return None


def _integrations_package(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "integrations" and parts[1] in INTEGRATIONS_PACKAGES:
        return parts[1]
    return None


def _is_integrations_models(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "integrations" and any(
        part in ("models", "models_common") for part in parts[1:3]
    )


def violation_rule(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None when it may."""
    importer_rank, imported_rank = _rank(importer), _rank(imported)
    if importer_rank is None or imported_rank is None:
        return None  # the standard library, Django, another third party
    if importer_rank >= len(LAYERS):
        return None  # config, demo, devidp
    if imported_rank > importer_rank:
        return f"{importer.split('.')[0]} is below {imported.split('.')[0]}"
    importer_package = _integrations_package(importer)
    imported_package = _integrations_package(imported)
    if importer_package is None or imported_package == importer_package:
        return None
    if importer_package == "egress":
        if imported.split(".")[0] != "integrations":
            return None
        return "integrations.egress uses nothing else of integrations"
    if imported_package is None or _is_integrations_models(imported):
        return None
    if imported_package in INTEGRATIONS_PACKAGES[importer_package]:
        return None
    return f"integrations.{importer_package} may not use integrations.{imported_package}"


def source_files(root: Path) -> Iterator[Path]:
    for app in (*LAYERS, *TOP):
        directory = root / app
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*.py")):
            if not SKIPPED_DIRS.intersection(path.relative_to(root).parts):
                yield path


def template_app(root: Path, path: Path) -> str | None:
    """The app whose pages a template is: templates/<app>/…, templates/admin/<app>/… or
    templates/jinja2/<app>/…."""
    parts = path.relative_to(root / "templates").parts
    if parts[0] in ("admin", "jinja2") and len(parts) > 2:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 and parts[0] in LAYERS else None


def template_violations(root: Path) -> Iterator[Violation]:
    directory = root / "templates"
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*.html")):
        app = template_app(root, path)
        if app is None:
            continue
        text = path.read_text(encoding="utf-8")
        for match in TEMPLATE_URL.finditer(text):
            name = match["name"]
            url = URL_NAME.match(name)
            if url is None:
                continue
            rule = violation_rule(app, url["admin_app"] or url["namespace"])
            if rule is not None:
                line = text.count("\n", 0, match.start()) + 1
                yield Violation(path.relative_to(root), line, app, f'URL "{name}"', rule)


def violations(root: Path) -> list[Violation]:
    """Every import against the direction in the apps under `root`."""
    found = []
    for path in source_files(root):
        module = module_name(root, path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, imported in imports_of(
            tree, module=module, is_package=path.name == "__init__.py"
        ):
            rule = violation_rule(module, imported)
            if rule is not None:
                found.append(
                    Violation(path.relative_to(root), line, module, f"import {imported}", rule)
                )
        for line, imported in private_imports_of(tree, module=module):
            found.append(
                Violation(
                    path.relative_to(root),
                    line,
                    module,
                    f"import {imported}",
                    "a private name of another module",
                )
            )
        for line, app, name in url_names_of(tree):
            rule = violation_rule(module, app)
            if rule is not None:
                found.append(Violation(path.relative_to(root), line, module, f'URL "{name}"', rule))
    found.extend(template_violations(root))
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    found = violations(root)
    for violation in found:
        print(violation)
    if found:
        print(f"{len(found)} import(s) against the direction (docs/architecture.md).")
        return 1
    print("Imports follow the layers.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
