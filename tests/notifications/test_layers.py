"""`notifications` sits below `alerts`, `reports` and `integrations`, and the two domains beside
each other do not know each other: read from the source, every import statement counted
(function-local ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TRACKER = Path(__file__).resolve().parents[2] / "tracker"

FORBIDDEN = {
    "notifications": {"alerts", "reports", "integrations", "web"},
    "alerts": {"reports", "integrations", "web"},
    "reports": {"alerts", "integrations", "web"},
}


def imported_apps(app: str) -> dict[str, set[str]]:
    """{module path: tracker apps it imports}, migrations left out (they name other apps'
    migrations as dependencies, not imports)."""
    found = {}
    for path in (TRACKER / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        apps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            apps |= {n.split(".")[1] for n in names if n.startswith("tracker.") and "." in n}
        found[str(path.relative_to(TRACKER))] = apps
    return found


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_no_app_imports_one_above_or_beside_it(app):
    wrong = {
        module: apps & FORBIDDEN[app]
        for module, apps in imported_apps(app).items()
        if apps & FORBIDDEN[app]
    }
    assert not wrong
