"""`jamd-train evaluate --stm`: the LSTM with and without the short-term model, on real songs and real ONNX."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("music21", reason="evaluation reads scores through jamd.training.corpus (train extra)")

from jamd.daemon.config import Config  # noqa: E402
from jamd.training.corpus import load_corpus  # noqa: E402
from jamd.training.evaluate import evaluate_songs, format_table  # noqa: E402

pytestmark = pytest.mark.train

FIXTURES = Path(__file__).parent / "fixtures"
SONGS = [p for p in sorted(FIXTURES.glob("*.krn")) if p.name != "kindr053.krn"]  # real Essen songs on the 16th grid
FIGURES = ("bits_per_step", "bits_per_note", "onset_accuracy", "accuracy")


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    return load_corpus([str(p) for p in SONGS], progress=False, workers=1,
                       cache_dir=tmp_path_factory.mktemp("cache")).songs


def test_strength_zero_scores_exactly_the_lstm(folk_model, songs):
    report = evaluate_songs(folk_model, songs, stm=0.0)
    assert {k: report["lstm+stm"][k] for k in FIGURES} == {k: report["lstm"][k] for k in FIGURES}


def test_the_short_term_model_predicts_a_songs_repeat_from_its_first_pass(folk_model, songs):
    """A song played twice: the second time through, its own past says what comes next."""
    twice = [dataclasses.replace(s, tokens=s.tokens + s.tokens[1:]) for s in songs]
    report = evaluate_songs(folk_model, twice, stm=0.25)
    lstm, blended = report["lstm"], report["lstm+stm"]
    print(f"\n{format_table(report)}")
    assert blended["bits_per_note"] < lstm["bits_per_note"] - 0.3
    assert blended["onset_accuracy"] > lstm["onset_accuracy"] + 0.1
    assert blended["strength"] == 0.25 and blended["songs"] == len(songs)
    assert "lstm+stm" in format_table(report)


def test_cli_reports_lstm_stm_and_ngram_side_by_side(tmp_path, songs):
    pytest.importorskip("onnx", reason="the test model is built with onnx (train extra)")
    from constant_model import constant_logits_model
    from jamd.daemon.encoding import Vocabulary

    # A model whose sidecar names no training corpus: the n-gram is cross-validated on the
    # given songs instead of refitted on all of Essen, which takes minutes.
    vocab = Vocabulary.build(s.tokens for s in songs)
    path = constant_logits_model(tmp_path, vocab, np.zeros(len(vocab)))
    out = subprocess.run([sys.executable, "-m", "jamd.training.cli", "evaluate", str(path), *map(str, SONGS),
                          "--stm", "--json"], capture_output=True, text=True, check=True,
                         env={**os.environ, "JAMD_CACHE": str(tmp_path / "cache")}).stdout  # not the user's cache
    report = json.loads(out)
    assert set(report) == {"lstm", "lstm+stm", "ngram"}
    for name in report:
        assert set(FIGURES) <= set(report[name])
    assert report["lstm+stm"]["strength"] == Config().stm_strength
    # A uniform LSTM learns nothing; its own past alone makes the blend better than a guess.
    assert report["lstm+stm"]["bits_per_note"] < report["lstm"]["bits_per_note"]
