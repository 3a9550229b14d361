"""`make run` and `make test` install into .venv only when pyproject.toml changed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]


def make_dry_run(target: str, venv: Path, *flags: str) -> str:
    """What `make TARGET` would run (``make -n``), with the venv at ``venv``."""
    return subprocess.run(["make", "-n", *flags, target, f"VENV={venv}"], capture_output=True, text=True,
                          cwd=REPO, timeout=30, check=True).stdout


@pytest.fixture
def installed_venv(tmp_path) -> Path:
    """A venv as `make setup` leaves it: its python, and the install done after pyproject.toml changed."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    later = (REPO / "pyproject.toml").stat().st_mtime + 10
    for stamp in (".installed-light", ".installed-train"):
        (venv / stamp).touch()
        os.utime(venv / stamp, (later, later))
    return venv


@pytest.mark.parametrize("target", ["run", "test"])
def test_make_does_not_reinstall_an_installed_venv(installed_venv, target):
    assert "pip install" not in make_dry_run(target, installed_venv)


@pytest.mark.parametrize("target, extra", [("run", "-e ."), ("test", '-e ".[train,dev]"')])
def test_make_reinstalls_once_pyproject_changed(installed_venv, target, extra):
    commands = make_dry_run(target, installed_venv, "-W", "pyproject.toml")  # as if it had just been edited
    assert f"pip install -q {extra}" in commands
