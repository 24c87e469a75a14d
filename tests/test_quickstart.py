"""The README's quick start is what CI runs, and what a new user installs is the package.

.ci/run performs the two quick-start commands in one fresh virtualenv (it reads them from
the README with .ci/readme_commands.py), then the command line from outside the clone.
These tests pin the pieces that make that run meaningful.
"""
from __future__ import annotations

import fnmatch
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import tomllib

import hyperion

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def readme_commands():
    spec = importlib.util.spec_from_file_location("readme_commands", ROOT / ".ci" / "readme_commands.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.quickstart_commands


def test_quickstart_is_install_and_demo_then_the_test_suite():
    commands = readme_commands()(README)
    assert commands == ['pip install . && hyperion demo', 'pip install -e ".[test]" && python tests/run.py']


def test_extraction_follows_the_readme():
    """Another README, another pair of commands: CI runs whatever the README says."""
    text = "# X\n\n## Quick start\n\nText.\n\n```bash\npip install . && x\n\ny --z\n```\n\n## Next\n\n```bash\nno\n```\n"
    assert readme_commands()(text) == ["pip install . && x", "y --z"]


def test_ci_runs_the_extracted_commands_then_the_cli_outside_the_clone():
    assert "readme_commands.py README.md" in CI
    first, second = CI.index('bash -c "${COMMANDS[0]}"'), CI.index('bash -c "${COMMANDS[1]}"')
    outside = CI.index('cd "$WORK"')
    assert first < second < outside
    tail = CI[outside:]
    for command in ("hyperion --version", "hyperion demo", "hyperion info", 'python "$REPO/examples/sequencer.py" --help'):
        assert command in tail, command
    assert "export HYPERION_REQUIRE_COMPILED=1" in CI[:first]
    assert "ruff check ." in tail
    assert re.search(r"python3 -m venv \.venv", CI[:first])


def test_run_py_runs_both_modes():
    text = (ROOT / "tests" / "run.py").read_text()
    assert '"HYPERION_PUREPYTHON": "1"' in text and '"HYPERION_REQUIRE_COMPILED": "1"' in text


def test_version_has_one_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hyperion.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+)?", hyperion.__version__)
    assert f"## {hyperion.__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_package_find_takes_the_package_only():
    """setuptools matches the dotted names of every folder against the include patterns
    (fnmatch); the demo's ./hyperion-data must not become a package of the wheel."""
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]

    def included(name):
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)

    assert included("hyperion") and included("hyperion.state.trie")
    for name in ("hyperion-data", "hyperion_data", "hyperion-data.data", "tests", "examples"):
        assert not included(name), name


def test_numba_cache_stays_out_of_the_package(tmp_path):
    """In a fresh process without NUMBA_CACHE_DIR: the kernels cache under
    $XDG_CACHE_HOME/hyperion/numba; a user's NUMBA_CACHE_DIR is kept."""
    code = ("from hyperion.precompiles.ai import kernels_nb as k; import os; "
            "print(os.environ['NUMBA_CACHE_DIR']); print(k.k_matvec._cache._cache_path)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), HYPERION_PUREPYTHON="0")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    configured, used = run.stdout.split()
    assert configured == str(tmp_path / "xdg" / "hyperion" / "numba")
    assert used.startswith(configured + os.sep)
    assert any(pathlib.Path(used).glob("*.nbi"))  # the cache was written there
    package = pathlib.Path(hyperion.__file__).parent
    assert not pathlib.Path(used).is_relative_to(package)

    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] == str(tmp_path / "mine")
