"""`jamd-train fit --kind chords` (alias fit-chords) end to end on the fixture tunes: Keras -> ONNX (parity-checked) -> the daemon."""

import json
from pathlib import Path

import numpy as np
import pytest

from jamd.daemon import chords
from jamd.daemon.model import load_model
from jamd.training.tasks import chord_tables

NOTTINGHAM = Path(__file__).parent / "fixtures" / "nottingham"


def test_transposing_a_chord_id_moves_its_root():
    vocabulary = chords.chord_vocabulary()
    ids = {c: i for i, c in enumerate(vocabulary)}
    tables = chord_tables(vocabulary, (-5, 2))
    assert vocabulary[tables[2][ids["C"]]] == "D" and vocabulary[tables[-5][ids["Am7"]]] == "Em7"
    assert tables[2][ids["N"]] == ids["N"]
    assert sorted(tables[2]) == list(range(len(vocabulary))), "a transposition permutes the chords"


@pytest.mark.train
def test_fit_chords_exports_a_chords_model_the_daemon_runs(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from jamd.training.cli import main

    out = tmp_path / "tiny-chords.onnx"
    code = main(["fit-chords", str(NOTTINGHAM), "-o", str(out), "--workdir", str(tmp_path / "run"),
                 "--epochs", "1", "--units", "16", "--embedding", "8", "--val-fraction", "0.34"])
    assert code == 0
    assert "chord accuracy" in capsys.readouterr().out, "the held-out table is printed"
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["kind"] == "chords" and sidecar["extra"]["chords"] == list(chords.chord_vocabulary())
    assert sidecar["metrics"]["parity_max_abs_logit_diff"] <= 1e-4
    assert set(sidecar["metrics"]["held_out"]) >= {"model", "baseline_before_beat", "baseline_on_beat"}
    model = load_model(out)
    probs = model.step(model.vocab.nearest_id([67]))
    assert probs.shape == (61,) and np.isclose(probs.sum(), 1.0)
