"""The project's layout: package importable, modules documented, CI calls the README."""

from __future__ import annotations

import re
import subprocess
import sys


def test_top_level_layout(root):
    for name in ("notebooks", "lib", "params", "outputs", "tests", "environment.yml",
                 "README.md", "ARCHITECTURE.md", ".ci/run", "pyproject.toml"):
        assert (root / name).exists(), name
    ignored = subprocess.run(["git", "check-ignore", "-q", "outputs/some-run/x.ipynb"], cwd=root)
    assert ignored.returncode == 0, "outputs/ must be git-ignored"
    assert (root / "outputs" / ".gitkeep").exists()


def test_ci_runs_the_readme_test_command(root):
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    cmds = re.findall(r"^\s*(make \w+)\s*$", readme, re.M)
    assert "make test" in cmds and "make demo" in cmds
    body = [ln for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")]
    assert any(ln.strip().endswith("make test") for ln in body)


def test_package_and_entry_points():
    out = subprocess.run([sys.executable, "-m", "runbook", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "workload" in out.stdout
    import runbook

    assert runbook.__version__


def test_every_module_has_a_docstring_and_future_annotations(root):
    for py in (root / "lib" / "runbook").rglob("*.py"):
        text = py.read_text()
        assert text.lstrip().startswith('"""'), f"{py} lacks a module docstring"
        if py.name not in ("make_model.py", "make_dataset.py", "patch_torchvision.py") and \
                "def " in text:
            assert "from __future__ import annotations" in text, py
