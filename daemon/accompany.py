"""chords mode's behaviour (``daemon/modes.py`` has the interface): a chord on the beats, voiced by
``jamd.daemon.chords``, changed where the tune changes chords.

On each beat the chords model scores the beat's chord from the melody heard before it. That
score is then weighed by how well each chord fits the melody: the notes the player started in
the beat before, and, most of all (``BEAT_WEIGHT``), the note struck on the beat itself, for
which jamd waits ``chord_wait`` seconds after the beat (the hub asks ``hear`` then, before the
step's window closes). A chord's fit is the share of those notes that are its chord tones; the
scores are multiplied by ``(MISS + fit) ** SHARPNESS``. The likeliest chord is taken, not a
sampled one (a sampled accompaniment wanders out of the key), and the chord sounding stays
unless the new one is ``1/keep`` times likelier: ``KEEP_BAR`` on a bar line, ``KEEP_HALF`` half
way through the bar, ``KEEP_BEAT`` on the other beats. Tunes change chords on the bar and the half
bar: in the Nottingham chord tracks, 4/4 changes fall on beats 1 and 3 and almost never on 2 or 4,
and 6/8 changes on the bar and the second dotted quarter (heard here on the third quarter beat).
``bench/chord_keep.py`` chose the keeps and the fit's weights together on the 57 held-out
Nottingham tunes the README's audition does not use (issue 13's chord targets met, then the widest
margin on the closest one); there, per beat against the chord track:

    the model alone, before the beat                    54% agreement, 0.78x the track's changes
    + the fit to the melody of the beat before          52%, 1.25x
    + the note struck on the beat (30 ms wait)           60%, 0.86x, 58% of changes on bar lines
"""

from __future__ import annotations

import numpy as np

from jamd.daemon import chords as chordlib
from jamd.daemon.modes import RELEASE, Behaviour

KEEP_BAR = 0.5
KEEP_HALF = 0.5
KEEP_BEAT = 0.2
BEAT_WEIGHT = 16.0  # the note struck on the beat counts as this many of the notes before it
MISS = 0.3  # a chord's score with none of the melody's notes in it keeps this much weight...
SHARPNESS = 2.0  # ...of (MISS + 1) ** SHARPNESS when all are


def keep(beat: int, beats_per_bar: int, keep_bar: float, keep_half: float, keep_beat: float) -> float:
    """The keep for beat ``beat`` (0 = the bar line) of a bar of ``beats_per_bar`` quarter notes."""
    if beat == 0:
        return keep_bar
    return keep_half if beat == (beats_per_bar + 1) // 2 else keep_beat


def chord_tones(outputs) -> np.ndarray:
    """[len(outputs), 12]: 1 where a pitch class is a tone of the chord (``N`` has none)."""
    return np.array([[pc in chordlib.pitch_classes(o) for pc in range(12)] for o in outputs], float)


def melody(before, struck, beat_weight: float = BEAT_WEIGHT) -> np.ndarray:
    """12 weights of the melody's pitch classes: the notes ``before`` the beat, and those ``struck`` on it."""
    heard = np.zeros(12)
    for pitch in before:
        heard[pitch % 12] += 1.0
    for pitch in struck:
        heard[pitch % 12] += beat_weight
    return heard


def fit(probs: np.ndarray, tones: np.ndarray, heard: np.ndarray, miss: float = MISS,
        sharpness: float = SHARPNESS) -> np.ndarray:
    """``probs`` over chords weighed by each chord's share of the ``heard`` melody (``N`` left out)."""
    total = heard.sum()
    if total <= 0:
        return probs
    weighted = probs * (miss + tones @ (heard / total)) ** sharpness
    weighted[~tones.any(1)] = 0.0
    return weighted / weighted.sum() if weighted.sum() > 0 else probs


class Chords(Behaviour):
    def __init__(self, keep_bar: float = KEEP_BAR, keep_half: float = KEEP_HALF, keep_beat: float = KEEP_BEAT) -> None:
        self.keeps = keep_bar, keep_half, keep_beat
        self.chord: int | None = None  # id of the chord sounding (or starting)
        self.listening: int | None = None  # the beat step whose struck note the hub is to hand to ``hear``
        self._probs: np.ndarray | None = None
        self._recent: list[tuple[int, int]] = []  # (step, pitch) of the player's onsets in the last beat
        self._tones: np.ndarray | None = None

    def stop(self) -> None:
        self.chord = self.listening = None

    def decide(self, step: int, hub) -> tuple[int, ...] | None:
        clock, player, bar = hub.clock, hub.player, hub.config.beats_per_bar
        if player.onset:
            self._recent.append((step - 1, player.pitch))
        self._recent = [(s, p) for s, p in self._recent if s >= step - clock.steps_per_beat]
        # Nothing to accompany before the player's first note or after a bar of their silence.
        if not player.notes or player.silent_steps >= clock.steps_per_beat * bar:
            if self.chord is not None:
                self.chord = None
                return RELEASE
            return None
        if not clock.is_beat(step):
            return None
        if self._tones is None:
            self._tones = chord_tones(hub.outputs)
        self._probs = hub.probabilities()
        if hub.config.chord_wait > 0:
            self.listening = step
            return None
        return self._choose(step, (), hub)

    def hear(self, struck, hub) -> tuple[int, ...] | None:
        """The beat step ``listening`` is open and ``struck`` (pitches) have been played in it so far."""
        step, self.listening = self.listening, None
        return self._choose(step, struck, hub)

    def _choose(self, step: int, struck, hub) -> tuple[int, ...] | None:
        probs = fit(self._probs, self._tones, melody([p for _, p in self._recent], struck))
        bar = hub.config.beats_per_bar
        chord = chordlib.choose(probs, self.chord, 0.0, None, keep(hub.clock.beat_in_bar(step, bar), bar, *self.keeps))
        if chord == self.chord:
            return None
        self.chord = chord
        return chordlib.voicing(hub.outputs[chord])
