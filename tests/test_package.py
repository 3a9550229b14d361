"""A real install, as a user makes it: `pip install .` (a wheel, not editable) into a clean venv,
python-daemon beside it, and jamd run from another folder finds its shipped models."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]


def run(*args, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, args))}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv holding the jamd wheel and python-daemon (which installs a top-level `daemon`)."""
    root = tmp_path_factory.mktemp("install")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=root)
    # A copy of the checkout: a build leaves build/ and egg-info behind in the folder it builds.
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "cache", "build", "*.egg-info",
                                                                "__pycache__", ".pytest_cache", ".hypothesis"))
    run(venv / "bin" / "pip", "install", "-q", source, "python-daemon", cwd=root)
    away = root / "elsewhere"
    away.mkdir()
    return venv, away


def test_the_installed_jamd_finds_its_shipped_models_from_any_folder(installed):
    venv, away = installed
    doctor = subprocess.run([venv / "bin" / "jamd", "doctor", "--model", "folk"], cwd=away, capture_output=True,
                            text=True, timeout=120)
    assert "Traceback" not in doctor.stderr, doctor.stderr
    model_line = next(line for line in doctor.stdout.splitlines() if line.startswith("model "))
    assert model_line.startswith("model folk (") and "site-packages" in model_line and " tokens, one step " in model_line
    listed = run(venv / "bin" / "python", "-c",
                 "from jamd.daemon.model import shipped_models; print(' '.join(shipped_models()))", cwd=away)
    assert set(listed.stdout.split()) >= {"folk", "nottingham", "nottingham-chords", "piano"}


def test_python_daemon_and_jamd_live_side_by_side(installed):
    venv, away = installed
    code = ("import daemon, jamd.daemon.cli; "
            "assert hasattr(daemon, 'DaemonContext'), daemon.__file__; "  # python-daemon's, untouched
            "print(daemon.__file__, jamd.daemon.cli.__file__)")
    both = run(venv / "bin" / "python", "-c", code, cwd=away)
    theirs, ours = both.stdout.split()
    assert "site-packages/daemon/" in theirs and "site-packages/jamd/daemon/" in ours
    assert "usage: jamd" in run(venv / "bin" / "jamd", "--help", cwd=away).stdout


def test_the_wheel_carries_the_licence_and_the_systemd_unit(installed):
    venv, away = installed
    code = ("from importlib.metadata import files; "
            "print('\\n'.join(str(f) for f in files('jamd')))")
    listed = run(venv / "bin" / "python", "-c", code, cwd=away).stdout.splitlines()
    assert any(name.endswith("licenses/LICENSE") for name in listed), listed
    assert "jamd/systemd/jamd.service" in listed and "jamd/systemd/jamd.toml.example" in listed
