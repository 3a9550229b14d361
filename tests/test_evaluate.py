"""`jamd-train evaluate`: held-out figures for a model and the n-gram, on real songs and real ONNX."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("music21", reason="evaluation reads scores through jamd.training.corpus (train extra)")
onnx = pytest.importorskip("onnx", reason="the test models are built with onnx (train extra)")

from jamd.daemon.encoding import Vocabulary  # noqa: E402
from constant_model import constant_logits_model  # noqa: E402
from jamd.daemon.errors import JamdError  # noqa: E402
from jamd.training.corpus import load_corpus  # noqa: E402
from jamd.training.evaluate import evaluate, evaluate_songs, format_table, song_key, write_metrics  # noqa: E402

pytestmark = pytest.mark.train

FIXTURES = Path(__file__).parent / "fixtures"
KERN = sorted(FIXTURES.glob("*.krn"))  # 5 real Essen songs (3 kinder, 2 others)
OFF_GRID = FIXTURES / "kindr053.krn"  # triplets: the corpus skips it on the 16th grid
SONGS = [p for p in KERN if p != OFF_GRID]
@pytest.fixture(autouse=True)
def corpus_cache(tmp_path, monkeypatch):
    """Parsed songs are cached under $JAMD_CACHE: keep the user's cache out of the tests."""
    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def fixture_corpus(tmp_path_factory):
    return load_corpus([str(p) for p in KERN], progress=False, workers=1,
                       cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def vocab(fixture_corpus):
    return Vocabulary.build(s.tokens for s in fixture_corpus.songs)


def test_a_uniform_model_costs_log2_of_its_vocabulary_per_step(tmp_path, fixture_corpus, vocab):
    from jamd.daemon.model import load_model

    model = load_model(constant_logits_model(tmp_path, vocab, np.zeros(len(vocab))))
    report = evaluate_songs(model, fixture_corpus.songs)
    lstm = report["lstm"]
    assert lstm["bits_per_step"] == pytest.approx(math.log2(len(vocab)), abs=1e-6)
    # Renormalised over pitch tokens only: start/rest/hold no longer take a share.
    assert lstm["bits_per_note"] == pytest.approx(math.log2(len(vocab) - 3), abs=1e-6)
    assert lstm["steps"] == sum(len(s.tokens) - 1 for s in fixture_corpus.songs)
    assert lstm["notes"] == sum(t not in ("start", "rest", "hold") for s in fixture_corpus.songs for t in s.tokens)
    assert lstm["songs"] == len(SONGS) and lstm["oov_steps"] == 0
    # The n-gram, scored by 10-fold cross-validation here, knows more than a uniform guess.
    assert report["ngram"]["bits_per_step"] < lstm["bits_per_step"]
    assert "cross-validation" in report["ngram"]["trained_on"]


def test_a_unigram_model_scores_exactly_its_pitch_statistics(tmp_path, fixture_corpus, vocab):
    from jamd.daemon.model import load_model

    counts = np.ones(len(vocab))
    for song in fixture_corpus.songs:
        for token_id in vocab.encode(song.tokens[1:]):
            counts[token_id] += 1
    model = load_model(constant_logits_model(tmp_path, vocab, np.log(counts)))
    figures = evaluate_songs(model, fixture_corpus.songs)["lstm"]
    pitch_share = counts[3:] / counts[3:].sum()
    played = [vocab.id(t) for s in fixture_corpus.songs for t in s.tokens if t not in ("start", "rest", "hold")]
    expected = -np.mean([math.log2(pitch_share[i - 3]) for i in played])
    assert figures["bits_per_note"] == pytest.approx(expected, abs=1e-5)
    assert figures["bits_per_note"] < math.log2(len(vocab) - 3)
    # Always guessing the commonest token ("hold") is right exactly as often as hold occurs.
    holds = sum(t == "hold" for s in fixture_corpus.songs for t in s.tokens[1:])
    assert figures["accuracy"] == pytest.approx(holds / figures["steps"])


def test_the_ngram_trains_on_the_models_training_songs_and_skips_its_validation_songs(tmp_path, vocab):
    held_out = [str(SONGS[0]), str(SONGS[3])]
    path = constant_logits_model(
        tmp_path, vocab, np.zeros(len(vocab)),
        corpus={"sources": [str(p) for p in KERN], "settings": {"transpose": "none"}},
        training={"validation_songs": held_out, "seed": 1},
    )
    report = evaluate(path, progress=False)
    assert report["lstm"]["songs"] == 2
    assert report["ngram"]["trained_on"] == "the model's 2 training songs"  # kindr053 is off the grid
    assert report["lstm"]["duplicates_in_training"] == 0
    assert all(math.isfinite(report["ngram"][k]) for k in ("bits_per_step", "bits_per_note"))
    # The same figures land in the sidecar for the daemon and the README to quote.
    written = json.loads(write_metrics(path, report).read_text())["metrics"]["validation"]
    assert written["lstm"]["bits_per_step"] == pytest.approx(math.log2(len(vocab)), abs=1e-3)
    assert str(tmp_path) not in json.dumps(written), "a shipped sidecar names a folder of the machine it was made on"
    assert "bits/note" in format_table(report)


def test_evaluating_on_training_songs_is_flagged_as_a_leak(tmp_path, vocab):
    path = constant_logits_model(
        tmp_path, vocab, np.zeros(len(vocab)),
        corpus={"sources": [str(p) for p in SONGS]}, training={"validation_songs": [str(SONGS[0])]},
    )
    report = evaluate(path, [str(SONGS[1])], progress=False)
    assert report["lstm"]["duplicates_in_training"] == 1
    assert "warning: 1 evaluated songs also occur" in format_table(report)


def test_song_names_match_whatever_directory_training_ran_from():
    assert song_key("../shared/data/essen-kern/deutschl/kinder/kindr001.krn") == \
        song_key("/work/shared/data/essen-kern/deutschl/kinder/kindr001.krn")
    assert song_key("../data/nottingham/ABC_cleaned/jigs.abc#12") == "nottingham/ABC_cleaned/jigs.abc#12"


def test_a_real_model_gets_finite_figures_beside_the_ngram(folk_model_path, fixture_corpus):
    from jamd.daemon.model import load_model

    model = load_model(folk_model_path)
    kinder = [s for s in fixture_corpus.songs if "kindr" in s.name]
    others = [s for s in fixture_corpus.songs if "kindr" not in s.name]
    report = evaluate_songs(model, kinder, train_songs=others)
    for name in ("lstm", "ngram"):
        assert all(math.isfinite(report[name][k]) for k in ("bits_per_step", "bits_per_note"))
        assert 0.0 <= report[name]["onset_accuracy"] <= 1.0
        assert report[name]["songs"] == len(kinder)
    assert report["ngram"]["trained_on"] == f"the model's {len(others)} training songs"
    # A trained model knows more about folk pitch than a uniform guess among its pitches.
    assert report["lstm"]["bits_per_note"] < math.log2(len(model.vocab) - 3)


def test_cli_prints_one_json_object_with_both_models(tmp_path, vocab):
    path = constant_logits_model(tmp_path, vocab, np.zeros(len(vocab)))
    out = subprocess.run([sys.executable, "-m", "jamd.training.cli", "evaluate", str(path), *map(str, KERN), "--json"],
                         capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    for name in ("lstm", "ngram"):
        assert {"bits_per_step", "bits_per_note", "onset_accuracy", "accuracy", "songs", "skipped"} <= set(report[name])
    assert report["lstm"]["songs"] == len(SONGS) and report["lstm"]["skipped"] == 1


def test_no_readable_song_is_a_clear_error(tmp_path, vocab):
    from jamd.daemon.model import load_model

    model = load_model(constant_logits_model(tmp_path, vocab, np.zeros(len(vocab))))
    with pytest.raises(JamdError, match="no song to evaluate"):
        evaluate_songs(model, [])


def _checkout_with_model(tmp_path, vocab, sources) -> Path:
    """A folder laid out as the repository: models/ beside the corpus the sidecar names relatively."""
    import shutil

    root = tmp_path / "checkout"
    (root / "models").mkdir(parents=True)
    (root / "data" / "essen" / "kinder").mkdir(parents=True)
    for song in KERN:
        shutil.copy(song, root / "data" / "essen" / "kinder" / song.name)
    return constant_logits_model(root / "models", vocab, np.zeros(len(vocab)),
                                 corpus={"sources": sources, "settings": {"transpose": "none"}},
                                 training={"validation_songs": [f"data/essen/kinder/{SONGS[0].name}"], "seed": 1})


def _evaluate_from(folder: Path, model: Path) -> subprocess.CompletedProcess:
    import os

    folder.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "jamd.training.cli", "evaluate", str(model), "--json"],
                          capture_output=True, text=True, timeout=300, cwd=folder,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})


def test_evaluate_finds_the_sidecars_relative_corpus_from_any_folder(tmp_path, vocab):
    """The shipped sidecars name ../shared/data/... relative to the repository root, where
    `make models` ran: evaluate from elsewhere looks beside the model's folder too."""
    model = _checkout_with_model(tmp_path, vocab, ["data/essen/kinder"])
    result = _evaluate_from(tmp_path / "elsewhere", model)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["lstm"]["songs"] == 1 and report["ngram"]["trained_on"] == "the model's 3 training songs"


def test_evaluate_says_where_it_looked_for_a_missing_corpus_and_how_to_pass_it(tmp_path, vocab):
    model = _checkout_with_model(tmp_path, vocab, ["../shared/data/essen-kern/deutschl-gone"])
    result = _evaluate_from(tmp_path / "elsewhere", model)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "deutschl-gone" in lines[0] and str(tmp_path / "elsewhere") in lines[0]
    assert str(tmp_path / "checkout") in lines[0], "the model's checkout should be among the places tried"
    assert "jamd-train evaluate" in lines[0] and "PATH/TO/deutschl-gone" in lines[0]


def test_progress_written_to_a_log_is_a_line_per_update_not_one_line_of_redraws(tmp_path, vocab):
    path = constant_logits_model(tmp_path, vocab, np.zeros(len(vocab)))
    result = subprocess.run([sys.executable, "-m", "jamd.training.cli", "evaluate", str(path), *map(str, KERN), "--json"],
                            capture_output=True, text=True, check=True)  # stderr is a pipe, as a log file is
    assert "\r" not in result.stderr, "a bar redrawn in place: one endless line in a log"
    assert any(line.startswith("parsing corpus:") for line in result.stderr.splitlines()), result.stderr
