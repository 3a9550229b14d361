"""Score a chord model on held-out tunes, beside a key-aware baseline, beat by beat.

Per beat of each tune (the melody's span, ``N`` beats included):

- ``accuracy``: the chord chosen is the chord track's chord (symbols of ``jamd.daemon.chords``);
- ``melody_in_chord``: on beats where a melody note sounds, that note is a chord tone.

The model's chords are decided as the daemon decides them (``jamd.daemon.chords.choose`` at
temperature 0 with its hysteresis, from the prediction made before the beat). The
baseline is the most frequent chord, in the training tunes, for the melody's pitch class
relative to the key: a table of 13 rows (12 pitch classes and rest), each chord stored
relative to the tonic so every key shares it. The key is the file's key signature
(Nottingham's MIDI files spell every key, minor and modal ones too, as the major key of
their signature), which the baseline knows from the first beat and the model never does.
It is scored twice: with the note sounding on the beat (it hears the note the model cannot
yet) and with the note sounding just before the beat (what a causal player knows, as the
model does).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable, Sequence

import numpy as np

from jamd.daemon import chords as chordlib
from jamd.training.chord_data import ChordSong, boundary_steps, sounding

REST_ROW = -1
KEEP = chordlib.KEEP  # the daemon's hysteresis, recorded in the sidecar


class KeyBaseline:
    """Most frequent key-relative chord per key-relative melody pitch class (or rest)."""

    def __init__(self, songs: Sequence[ChordSong], steps_per_beat: int):
        counts: dict[int, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for song in songs:
            for beat in range(song.beats - 1):
                row = self._row(song, sounding(song.tokens, beat * steps_per_beat))
                chord = chordlib.transpose(song.chords[beat], -song.tonic)
                counts[row][chord] += 1
                overall[chord] += 1
        self.fallback = overall.most_common(1)[0][0] if overall else chordlib.NO_CHORD
        self.table = {row: c.most_common(1)[0][0] for row, c in counts.items()}

    @staticmethod
    def _row(song: ChordSong, pitch: int | None) -> int:
        return REST_ROW if pitch is None else (pitch - song.tonic) % 12

    def predict(self, song: ChordSong, pitch: int | None) -> str:
        """The chord for a beat whose melody pitch (MIDI, None = rest) is ``pitch``."""
        return chordlib.transpose(self.table.get(self._row(song, pitch), self.fallback), song.tonic)


def decode(probs: np.ndarray, song: ChordSong, chords: Sequence[str], steps_per_beat: int,
           keep: float = KEEP) -> list[str]:
    """Chord per beat (``song.beats - 1`` of them) from per-position ``probs`` [len(tokens), C]."""
    out: list[str] = []
    current = None
    rng = np.random.default_rng(0)  # unused at temperature 0
    for position in boundary_steps(len(song.tokens), steps_per_beat)[: song.beats - 1]:
        current = chordlib.choose(probs[position], current, 0.0, rng, keep)
        out.append(chords[current])
    return out


class Score:
    """Running beat counts for one row of the table."""

    def __init__(self) -> None:
        self.beats = self.hits = self.melody_beats = self.melody_hits = 0

    def add(self, predicted: str, truth: str, pitch: int | None) -> None:
        self.beats += 1
        self.hits += predicted == truth
        if pitch is not None:
            self.melody_beats += 1
            self.melody_hits += chordlib.contains(predicted, pitch)

    def as_dict(self) -> dict:
        return {"accuracy": round(self.hits / max(1, self.beats), 4),
                "melody_in_chord": round(self.melody_hits / max(1, self.melody_beats), 4),
                "beats": self.beats}


def evaluate(predict: Callable[[ChordSong], np.ndarray], chords: Sequence[str], train: Sequence[ChordSong],
             held_out: Sequence[ChordSong], steps_per_beat: int) -> dict[str, dict]:
    """Rows ``model``, ``model_argmax``, ``baseline_on_beat``, ``baseline_before_beat``, ``tonic_chord``
    (the key signature's major chord on every beat) and ``chord_track``.

    ``predict(song)``: chord probabilities after each input token, [len(song.tokens), len(chords)].
    ``chord_track`` scores the true chords: its ``melody_in_chord`` is the ceiling of that figure.
    """
    baseline = KeyBaseline(train, steps_per_beat)
    rows = {name: Score() for name in ("model", "model_argmax", "baseline_on_beat", "baseline_before_beat",
                                       "tonic_chord", "chord_track")}
    for song in held_out:
        probs = predict(song)
        chosen = decode(probs, song, chords, steps_per_beat)
        greedy = decode(probs, song, chords, steps_per_beat, keep=1.0)  # no hysteresis
        for beat, truth in enumerate(song.chords[: song.beats - 1]):
            on = sounding(song.tokens, beat * steps_per_beat)
            before = sounding(song.tokens, beat * steps_per_beat - 1) if beat else None
            rows["model"].add(chosen[beat], truth, on)
            rows["model_argmax"].add(greedy[beat], truth, on)
            rows["baseline_on_beat"].add(baseline.predict(song, on), truth, on)
            rows["baseline_before_beat"].add(baseline.predict(song, before), truth, on)
            rows["tonic_chord"].add(chordlib.symbol(song.tonic, ""), truth, on)
            rows["chord_track"].add(truth, truth, on)
    return {name: score.as_dict() for name, score in rows.items()}


def step_predict(model):
    """``predict`` for ``evaluate`` through a daemon ``StepModel``: one ONNX step per token, state carried."""
    def predict(song: ChordSong) -> np.ndarray:
        model.reset()
        return np.stack(list(model.run(model.vocab.encode(song.tokens), song.positions())))
    return predict


def table(results: dict[str, dict]) -> str:
    """The rows of ``evaluate`` as an aligned text table."""
    lines = [f"{'':24} {'chord accuracy':>15} {'melody in chord':>16} {'beats':>8}"]
    for name, row in results.items():
        lines.append(f"{name:24} {row['accuracy']:>15.3f} {row['melody_in_chord']:>16.3f} {row['beats']:>8,}")
    return "\n".join(lines)
