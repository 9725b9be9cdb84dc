"""The layering rules CI enforces beyond import-linter's contracts (pyproject.toml): no
module reaches into another app's private names, and the contracts themselves hold."""

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("leadflow", "campaigns", "leads", "sales")


def modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield package, path


def private_imports(package, path):
    """(line, name) of every private name this module takes from another app."""
    tree = ast.parse(path.read_text(), str(path))
    imported_modules = {}  # alias -> what it names in the other app
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            app = node.module.split(".")[0]
            if app in PACKAGES and app != package:
                for alias in node.names:
                    if alias.name.startswith("_"):
                        found.append((node.lineno, f"{node.module}.{alias.name}"))
                    else:
                        imported_modules[alias.asname or alias.name] = (
                            f"{node.module}.{alias.name}"
                        )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES and alias.name.split(".")[0] != package:
                    imported_modules[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and node.attr != "_meta"  # Django's public model API
            and isinstance(node.value, ast.Name)
            and node.value.id in imported_modules
        ):
            found.append((node.lineno, f"{imported_modules[node.value.id]}.{node.attr}"))
    return found


def test_no_module_uses_another_apps_private_names():
    offences = [
        f"{path.relative_to(ROOT)}:{line} uses {name}"
        for package, path in modules()
        for line, name in private_imports(package, path)
    ]
    assert offences == []


def test_the_private_name_check_catches_both_spellings(tmp_path):
    module = tmp_path / "views.py"
    module.write_text(
        "from leads.services import _save, lead_intake\n"
        "from leads import services\n"
        "services._note_assignment(1, 2)\n"
        "from .models import _local\n"
    )
    assert private_imports("sales", module) == [
        (1, "leads.services._save"),
        (3, "leads.services._note_assignment"),
    ]


@pytest.mark.skipif(
    not shutil.which("lint-imports", path=str(ROOT / ".venv/bin"))
    and not shutil.which("lint-imports"),
    reason="import-linter not installed",
)
def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(ROOT / ".venv/bin")) or "lint-imports"
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
