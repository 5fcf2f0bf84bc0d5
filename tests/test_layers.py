"""The apps depend one way: ciie_portal ← registration ← delegations ← credentials ← payments ←
invoicing. No module imports an app above its own — not at the top, not inside a function.

The project's wiring is the exception that proves the rule: ``ciie_portal/settings.py`` names the
apps, and ``ciie_portal/urls.py`` includes each app's URLconf (by module path, which is what a
project URLconf is for); ``ciie_portal/celery.py`` discovers the apps' tasks by name.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["ciie_portal", "registration", "delegations", "credentials", "payments", "invoicing"]
RANK = {app: rank for rank, app in enumerate(LAYERS)}
WIRING = {
    Path("ciie_portal/urls.py"),
    Path("ciie_portal/settings.py"),
    Path("ciie_portal/celery.py"),
}


def _modules():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or relative in WIRING:
                continue
            yield app, relative


def upward_imports(app: str, source: str) -> list[tuple[int, str]]:
    """Every import in ``source`` (any depth: functions too) of an app above ``app``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in RANK and RANK[top] > RANK[app]:
                found.append((node.lineno, name))
    return found


def test_the_check_sees_an_import_inside_a_function():
    source = "def f():\n    from payments.services import payment_create\n"
    assert upward_imports("credentials", source) == [(2, "payments.services")]
    assert upward_imports("invoicing", source) == []


@pytest.mark.parametrize("app", LAYERS)
def test_no_app_imports_one_above_it(app):
    wrong = [
        f"{path}:{line} imports {name}"
        for module_app, path in _modules()
        if module_app == app
        for line, name in upward_imports(app, (ROOT / path).read_text())
    ]
    assert not wrong, "\n".join(wrong)
