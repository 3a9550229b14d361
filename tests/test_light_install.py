"""The light install (what `make run` and the Pi guide make: no TensorFlow, music21, matplotlib):
a `jamd-train` command that needs the train extra says so in one line, exit code 2.

Each case runs `jamd-train` in a subprocess where the module cannot be imported, as in a venv
that never installed it (``sys.modules[name] = None`` makes ``import name`` raise
ModuleNotFoundError, the error a missing package gives).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
KERN = FIXTURES / "kindr183.krn"
MIDI = FIXTURES / "nottingham" / "melody" / "ashover1.mid"

WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as if never installed
from jamd.training.cli import main
sys.exit(main(sys.argv[2:]))
"""


def jamd_train_without(modules: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT, modules, *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def assert_one_line_naming_the_extra(result: subprocess.CompletedProcess, module: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("jamd-train: error: "), result.stderr
    assert module in lines[0] and "jamd[train]" in lines[0], lines[0]


def test_fit_without_tensorflow_says_to_install_the_train_extra(tmp_path):
    result = jamd_train_without("tensorflow,tf_keras,tf2onnx", "fit", str(KERN), "--name", "x",
                                "-o", str(tmp_path / "x.onnx"), "--workdir", str(tmp_path / "run"))
    assert_one_line_naming_the_extra(result, "tensorflow")
    assert not (tmp_path / "x.onnx").exists()


def test_generate_plot_without_matplotlib_says_so_before_writing_anything(folk_model_path, tmp_path):
    out = tmp_path / "out.mid"
    result = jamd_train_without("matplotlib", "generate", str(folk_model_path), "--prime", str(MIDI), "-o", str(out),
                                "--plot", str(tmp_path / "out.png"), "--seed", "1")
    assert_one_line_naming_the_extra(result, "matplotlib")
    assert not out.exists(), "the MIDI file was written before the plot failed"


def test_a_kern_prime_without_music21_says_to_install_the_train_extra(folk_model_path, tmp_path):
    result = jamd_train_without("music21", "generate", str(folk_model_path), "--prime", str(KERN),
                                "-o", str(tmp_path / "out.mid"), "--seed", "1")
    assert_one_line_naming_the_extra(result, "music21")


def test_generate_from_a_midi_prime_needs_nothing_of_the_train_extra(folk_model_path, tmp_path):
    out = tmp_path / "out.mid"
    result = jamd_train_without("tensorflow,music21,matplotlib,tqdm", "generate", str(folk_model_path),
                                "--prime", str(MIDI), "-o", str(out), "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert out.exists()


@pytest.mark.parametrize("command", ["fit", "generate", "evaluate", "compare", "render", "fit-chords"])
def test_help_works_without_the_train_extra(command):
    result = jamd_train_without("tensorflow,music21,matplotlib,tqdm", command, "--help")
    assert result.returncode == 0, result.stderr
