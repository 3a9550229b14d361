"""What a musician hears in a line of notes: pure functions behind ``jamd-train audition``.

Every function takes plain data: ``jamd.daemon.encoding.Note`` lists whose ``start`` and ``duration``
are in quarter notes from a bar line of the song (0 = the downbeat of a bar; a pickup is padded
with rests, so no note starts before 0), a key string as ``jamd.training.readers`` writes it
(``"G major"``, ``"e minor"``) and a beat length in quarter notes (1.5 in 6/8). No engine, no
model, no file: each figure can be checked by hand on a few notes.

Choices that set the figures:

- in key: the major scale, or for minor the natural minor plus its raised seventh (the leading
  tone of a minor-key cadence), 8 pitch classes;
- dissonant vertical intervals: minor and major seconds, minor and major sevenths and the
  tritone, as interval classes (any octave): 1, 2, 6, 10, 11 semitones;
- on a beat: an onset within ``EPS`` of a multiple of the beat, counted from the bar line;
- a chord change: the chord differs from the last chord heard (beats with no chord are skipped).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from jamd.daemon.encoding import Note
from jamd.training.readers import key_tonic

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor + the raised seventh
DISSONANT = frozenset({1, 2, 6, 10, 11})  # interval classes in semitones
SHADOW = 2  # semitones: jamd this close to the player's note is following, not accompanying
EPS = 1e-6  # quarter notes
# Interval profile bands in semitones (absolute): repeated note, step, skip, leap, large leap.
BANDS = (("repeat", 0, 0), ("step", 1, 2), ("skip", 3, 4), ("leap", 5, 7), ("large", 8, 127))


@dataclass
class Share:
    """``hits`` of ``total``; its ``value`` is None when nothing was counted."""

    hits: float = 0
    total: float = 0

    def add(self, hit: bool, weight: float = 1) -> None:
        self.hits += weight if hit else 0
        self.total += weight

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None


def scale(key: str) -> frozenset[int]:
    """Pitch classes 0-11 in ``key`` (see the module docstring for minor)."""
    tonic, mode = key_tonic(key)
    return frozenset((tonic + step) % 12 for step in (MINOR_SCALE if mode == "minor" else MAJOR_SCALE))


def tonic_triad(key: str) -> frozenset[int]:
    """Pitch classes of the key's tonic chord: root, third (minor in minor), fifth."""
    tonic, mode = key_tonic(key)
    return frozenset((tonic + i) % 12 for i in (0, 3 if mode == "minor" else 4, 7))


def in_key(pitches: Iterable[int], key: str) -> Share:
    """How many ``pitches`` (MIDI) are in ``key``'s scale."""
    pcs, share = scale(key), Share()
    for pitch in pitches:
        share.add(pitch % 12 in pcs)
    return share


def melody(notes: Sequence[Note]) -> list[Note]:
    """One note per onset, the top one (a melody model may sound a chord), in time order."""
    top: dict[float, Note] = {}
    for note in notes:
        if note.start not in top or note.pitch > top[note.start].pitch:
            top[note.start] = note
    return [top[start] for start in sorted(top)]


def intervals(pitches: Sequence[int]) -> list[int]:
    """Signed semitones from each pitch to the next."""
    return [b - a for a, b in zip(pitches, pitches[1:])]


def interval_profile(steps: Iterable[int]) -> Counter:
    """Intervals counted by band (``BANDS``): ``Counter({"repeat": 3, "step": 5, ...})``."""
    counts: Counter = Counter()
    for step in steps:
        size = abs(step)
        counts[next(name for name, low, high in BANDS if low <= size <= high)] += 1
    return counts


def on_beat(position: float, beat: float) -> bool:
    """True if ``position`` (quarter notes from a bar line) falls on a multiple of ``beat``."""
    phase = position % beat
    return phase < EPS or beat - phase < EPS


def beats(begin: float, end: float, beat: float) -> list[float]:
    """The beat positions in [begin, end), counted from the bar line at 0 (quarter notes)."""
    first = math.ceil(begin / beat - EPS)
    return [i * beat for i in range(first, math.ceil(end / beat - EPS))]


def sounding(notes: Sequence[Note], at: float) -> list[int]:
    """Pitches of ``notes`` sounding at ``at`` (started at or before it, not yet ended)."""
    return [n.pitch for n in notes if n.start <= at + EPS and at + EPS < n.start + n.duration]


def dissonant(a: int, b: int) -> bool:
    return abs(a - b) % 12 in DISSONANT


def vertical(upper: Iterable[int], lower: Iterable[int]) -> tuple[bool, bool] | None:
    """(any pair dissonant, any pair within ``SHADOW`` semitones) between two sounding sets.

    None when either side is silent: there is no vertical interval to hear.
    """
    upper, lower = list(upper), list(lower)
    if not upper or not lower:
        return None
    pairs = [(a, b) for a in upper for b in lower]
    return any(dissonant(a, b) for a, b in pairs), any(abs(a - b) <= SHADOW for a, b in pairs)


def bigram_guesses(pitches: Sequence[int]) -> list[int | None]:
    """For each note i, the in-song bigram's guess at note i+1: the note that most often
    followed pitch ``pitches[i]`` earlier in the song (the latest of equally frequent ones);
    None when that pitch has not been followed yet."""
    followers: dict[int, Counter] = {}
    last_seen: dict[tuple[int, int], int] = {}
    guesses: list[int | None] = []
    for i, pitch in enumerate(pitches):
        seen = followers.get(pitch)
        guesses.append(max(seen, key=lambda p: (seen[p], last_seen[pitch, p])) if seen else None)
        if i + 1 < len(pitches):
            nxt = pitches[i + 1]
            followers.setdefault(pitch, Counter())[nxt] += 1
            last_seen[pitch, nxt] = i
    return guesses


def chord_changes(chords: Sequence[str], none: str = "N") -> list[int]:
    """Indices (beats) where the chord differs from the last chord before it; ``none`` beats skipped."""
    changes, last = [], None
    for i, chord in enumerate(chords):
        if chord == none:
            continue
        if last is not None and chord != last:
            changes.append(i)
        last = chord
    return changes


def agreement(chosen: Sequence[str], track: Sequence[str], none: str = "N") -> Share:
    """Beats where ``chosen`` is the chord ``track`` has, over the beats the track has a chord on."""
    share = Share()
    for mine, theirs in zip(chosen, track):
        if theirs != none:
            share.add(mine == theirs)
    return share


def distinct_chords(chords: Iterable[str], none: str = "N") -> int:
    return len(set(chords) - {none})
