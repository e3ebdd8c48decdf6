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


def _code_modules() -> list[Path]:
    return [
        p
        for package in (*APPS, "science")
        for p in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in p.relative_to(ROOT).parts
    ]


def _names(path: Path, members: dict[str, str], choices: str) -> set[str]:
    """The members of ``choices`` (``Kind`` or ``Recruiter``) this module names: as
    ``<choices>.MEMBER``, or by value where it defines one (``value=``/``name =``) or branches on
    one (``==``, ``!=``, ``in``)."""
    values = {v: k for k, v in members.items()}
    named = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in members:
            owner = node.value
            if (isinstance(owner, ast.Attribute) and owner.attr == choices) or (
                isinstance(owner, ast.Name) and owner.id == choices
            ):
                named.add(node.attr)
        constants = []
        if isinstance(node, ast.Compare):
            constants = [node.left, *node.comparators]
            constants += [e for c in node.comparators if isinstance(c, ast.Tuple | ast.List | ast.Set) for e in c.elts]
        elif (isinstance(node, ast.keyword) and node.arg == "value") or (
            isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "name" for t in node.targets)
        ):
            constants = [node.value]
        named |= {values[c.value] for c in constants if isinstance(c, ast.Constant) and c.value in values}
    return named


@pytest.mark.parametrize("choices", ["Kind", "Recruiter"])
def test_each_survey_kind_and_recruiter_has_one_home(choices):
    from surveys.models import Study, Survey

    members = {m.name: m.value for m in (Survey.Kind if choices == "Kind" else Study.Recruiter)}
    homes: dict[str, list[str]] = {name: [] for name in members}
    for path in _code_modules():
        for name in _names(path, members, choices):
            homes[name].append(str(path.relative_to(ROOT)))
    crowded = {name: where for name, where in homes.items() if len(where) > 3}
    assert not crowded, f"named in more than 3 modules (branch on the spec instead): {crowded}"


def test_no_module_is_too_large_to_hold():
    large = {str(p.relative_to(ROOT)): n for p in _code_modules() if (n := len(p.read_text().splitlines())) > 450}
    assert not large, f"split these by concern: {large}"
