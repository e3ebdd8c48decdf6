"""The house's one-way dependencies: metamer ← inversion ← surveys ← analysis, with the
Django-free ``science`` package beneath them all (imports at the top of a module and inside
functions alike; tests and migrations aside)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("metamer", "inversion", "surveys", "analysis")
FORBIDDEN = {
    "science": ("django", "rest_framework", "celery", *APPS),
    "inversion": ("surveys", "analysis"),
    "surveys": ("analysis",),
    "metamer": ("inversion", "surveys", "analysis"),
}
ROUTERS = {Path("metamer/urls.py"), Path("metamer/api.py")}
"""metamer's URL and API routers gather every app's views."""


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _violations(package: str) -> list[str]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT)
        if "migrations" in relative.parts or relative in ROUTERS:
            continue
        for line, module in _imports(path):
            if module.split(".")[0] in FORBIDDEN[package]:
                out.append(f"{relative}:{line} imports {module}")
    return out


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_dependencies_run_one_way(package):
    assert _violations(package) == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from analysis.selectors import judgements\n    import surveys.models\n")
    assert [m for _, m in _imports(module)] == ["analysis.selectors", "surveys.models"]


def test_science_runs_without_django_settings():
    probe = (
        "import sys, torch; "
        "from science import alignment, engine, networks, perceptual, regularizers, seeding; "
        "x = engine.invert(lambda x: x.mean((2, 3)), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), steps=2); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'celery')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
