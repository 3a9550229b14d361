"""Pictures: a piano roll of a continuation and `jamd-train compare` histograms, as real PNGs."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plots need the train extra (matplotlib)")
pytest.importorskip("music21", reason="compare reads the corpus through music21 (train extra)")

from jamd.daemon.encoding import Note, Vocabulary, notes_to_tokens  # noqa: E402
from jamd.training.plots import PRIME_COLOUR, MODEL_COLOUR, histogram_distances, piano_roll, song_statistics  # noqa: E402
from jamd.training.readers import read_file  # noqa: E402

pytestmark = pytest.mark.train

FIXTURES = Path(__file__).parent / "fixtures"
KINDR001 = FIXTURES / "kindr001.krn"


def read_png(path: Path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(str(path))


def has_colour(image: np.ndarray, colour: str) -> bool:
    rgb = np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return bool((np.abs(image[..., :3] - rgb).max(axis=-1) < 0.02).any())


def test_piano_roll_shows_prime_and_continuation_in_their_colours(tmp_path):
    _, notes, _, _ = read_file(KINDR001).songs[0]
    prime = [n for n in notes if n.start < 8]
    later = [n for n in notes if n.start >= 8]
    path = piano_roll(prime, later, steps_per_beat=4, bars=2, path=tmp_path / "roll.png")
    image = read_png(path)
    assert image.shape[0] > 100 and image.shape[1] > 300
    assert has_colour(image, PRIME_COLOUR) and has_colour(image, MODEL_COLOUR)


def test_piano_roll_of_a_longer_song_is_wider(tmp_path):
    short = [Note(i, 1, 60 + i % 5) for i in range(16)]
    long = [Note(i, 1, 60 + i % 5) for i in range(64)]
    a = read_png(piano_roll(short[:4], short[4:], 4, 4, tmp_path / "a.png"))
    b = read_png(piano_roll(long[:4], long[4:], 4, 4, tmp_path / "b.png"))
    assert b.shape[1] > a.shape[1]


def test_song_statistics_count_pitch_classes_intervals_and_durations():
    # C4 for a beat, E4 for half a beat, a rest, G3 for two beats (4 steps per beat).
    notes = [Note(0, 1, 60), Note(1, 0.5, 64), Note(2, 2, 55)]
    stats = song_statistics([notes_to_tokens(notes, 4)], 4)
    assert stats["pitch class"] == Counter({0: 1, 4: 1, 7: 1})
    assert stats["interval"] == Counter({4: 1, -9: 1})
    assert stats["duration"] == Counter({4: 1, 2: 1, 8: 1})


def test_identical_histograms_are_zero_apart_and_disjoint_ones_one_apart():
    same = {"pitch class": Counter({0: 3}), "interval": Counter({2: 1}), "duration": Counter({4: 2})}
    other = {"pitch class": Counter({5: 3}), "interval": Counter({-2: 1}), "duration": Counter({1: 2})}
    assert histogram_distances(same, same) == {"pitch class": 0.0, "interval": 0.0, "duration": 0.0}
    assert histogram_distances(same, other) == {"pitch class": 1.0, "interval": 1.0, "duration": 1.0}


def test_compare_writes_one_png_of_generated_songs_against_the_corpus(tmp_path, monkeypatch):
    from constant_model import constant_logits_model
    from jamd.training.corpus import load_corpus

    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    songs = load_corpus([str(KINDR001)], progress=False, workers=1).songs
    vocab = Vocabulary.build(s.tokens for s in songs)
    model = constant_logits_model(tmp_path, vocab, np.zeros(len(vocab)))
    out = tmp_path / "compare.png"
    done = subprocess.run([sys.executable, "-m", "jamd.training.cli", "compare", str(model), str(KINDR001),
                           "-n", "5", "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "total variation distance" in done.stdout
    image = read_png(out)
    assert image.shape[1] > 1000 and has_colour(image, MODEL_COLOUR)


def test_generate_draws_and_renders_what_it_wrote(tmp_path, monkeypatch):
    import wave

    import mido
    from constant_model import constant_logits_model
    from jamd.training.corpus import load_corpus

    monkeypatch.setenv("JAMD_CACHE", str(tmp_path / "cache"))
    songs = load_corpus([str(KINDR001)], progress=False, workers=1).songs
    vocab = Vocabulary.build(s.tokens for s in songs)
    model = constant_logits_model(tmp_path, vocab, np.zeros(len(vocab)))
    mid, png, wav = tmp_path / "out.mid", tmp_path / "out.png", tmp_path / "out.wav"
    done = subprocess.run([sys.executable, "-m", "jamd.training.cli", "generate", str(model), "--prime", str(KINDR001),
                           "-o", str(mid), "--bars", "4", "--beats-per-bar", "2", "--seed", "1",
                           "--plot", str(png), "--wav", str(wav)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    image = read_png(png)
    assert has_colour(image, PRIME_COLOUR) and has_colour(image, MODEL_COLOUR)
    with wave.open(str(wav)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    length = mido.MidiFile(str(mid)).length
    assert length - 0.5 <= seconds <= length + 5.0
