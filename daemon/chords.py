"""Chord symbols for the accompanist: the vocabulary, naming a pitch set, voicing, choosing.

Shared by ``training/chords.py`` (which labels Nottingham's chord tracks with these symbols)
and the daemon's ``chords`` mode (which voices the model's choice). Pure Python + numpy.

The vocabulary is fixed, not learnt: ``N`` (no chord) and 12 roots x 5 qualities, major,
minor, dominant 7th, minor 7th and diminished (``C``, ``Cm``, ``C7``, ``Cm7``, ``Cdim``).
Those five cover the folk-dance harmony of the Nottingham set; rarer chords are folded
into the nearest of them (``Cmaj7`` and ``C6`` -> ``C``, ``Cm7b5`` -> ``Cdim``), so a
transposition of any symbol is always in the vocabulary and augmentation never drops a tune.

Voicing: the root alone in the bass octave (MIDI 36-47, C2-B2), then every chord tone once,
in close position, inside the octave above ``UPPER_LOW`` (52-63, E3-D#4). The same symbol
always sounds the same, so a held chord is never re-voiced.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


NO_CHORD = "N"
ROOTS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
QUALITIES = {"": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "m7": (0, 3, 7, 10), "dim": (0, 3, 6)}
# Interval sets heard in chord tracks, in order of preference, and the quality each folds into.
_TEMPLATES = (
    ((0, 4, 7), ""), ((0, 3, 7), "m"), ((0, 4, 7, 10), "7"), ((0, 3, 7, 10), "m7"), ((0, 3, 6), "dim"),
    ((0, 3, 6, 9), "dim"), ((0, 3, 6, 10), "dim"), ((0, 4, 7, 11), ""), ((0, 4, 7, 9), ""),
    ((0, 3, 7, 9), "m"), ((0, 4, 10), "7"), ((0, 4, 8), ""), ((0, 5, 7), ""), ((0, 2, 7), ""),
    ((0, 2, 4, 7, 10), "7"), ((0, 2, 4, 7), ""), ((0, 2, 3, 7), "m"), ((0, 4), ""), ((0, 3), "m"),
    ((0, 7), ""), ((0,), ""),
)
BASS_LOW = 36  # C2: the root sounds in 36-47
UPPER_LOW = 52  # E3: the close-position chord sounds in 52-63, above the bass and below most melodies
_ALIASES = {"Db": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10}
KEEP = 0.5  # hysteresis of ``choose``: a new chord must be twice as likely as the sounding one


def chord_vocabulary() -> tuple[str, ...]:
    """The chord classes in id order: ``N`` first, then per root C..B the five qualities."""
    return (NO_CHORD,) + tuple(root + quality for root in ROOTS for quality in QUALITIES)


def parse(symbol: str) -> tuple[int, str] | None:
    """(root pitch class 0-11, quality) of a symbol like ``"F#m7"``; None for ``N``.

    Raises ValueError naming the symbol if it is not one of ``chord_vocabulary()``'s forms.
    """
    if symbol == NO_CHORD:
        return None
    for length in (2, 1):
        root, quality = symbol[:length], symbol[length:]
        pc = ROOTS.index(root) if root in ROOTS else _ALIASES.get(root)
        if pc is not None and quality in QUALITIES:
            return pc, quality
    raise ValueError(f"chord symbol {symbol!r}: expected N or a root C..B with one of "
                     f"{['maj' if q == '' else q for q in QUALITIES]} (e.g. G, Em, D7, Am7, Bdim)")


def symbol(root: int, quality: str) -> str:
    return ROOTS[root % 12] + quality


def pitch_classes(chord: str) -> frozenset[int]:
    """The pitch classes (0-11) of ``chord``; empty for ``N``."""
    parsed = parse(chord)
    if parsed is None:
        return frozenset()
    root, quality = parsed
    return frozenset((root + i) % 12 for i in QUALITIES[quality])


def transpose(chord: str, semitones: int) -> str:
    parsed = parse(chord)
    return chord if parsed is None else symbol(parsed[0] + semitones, parsed[1])


def identify(pitches: Iterable[int]) -> str:
    """The vocabulary symbol for MIDI ``pitches`` sounding together (``N`` if none).

    An exact interval template wins, a root on the bass note before others (so ``A C E G``
    over A is ``Am7``, over C it is ``C6`` -> ``C``); otherwise the template sharing the
    most pitch classes with the fewest extra ones.
    """
    pitches = sorted(set(pitches))
    if not pitches:
        return NO_CHORD
    pcs = {p % 12 for p in pitches}
    bass = pitches[0] % 12
    best, best_key = NO_CHORD, None
    for root in sorted(pcs, key=lambda r: r != bass):
        intervals = {(p - root) % 12 for p in pcs}
        for rank, (template, quality) in enumerate(_TEMPLATES):
            shared = len(intervals & set(template))
            key = (intervals == set(template), shared - len(intervals ^ set(template)), root == bass, -rank)
            if best_key is None or key > best_key:
                best, best_key = symbol(root, quality), key
    return best


def triad(chord: str) -> tuple[int, str] | None:
    """(root pitch class, quality) of ``chord`` with sevenths counted as their triad; None for ``N``."""
    parsed = parse(chord)
    if parsed is None:
        return None
    root, quality = parsed
    return root, {"7": "", "m7": "m"}.get(quality, quality)


def voicing(chord: str) -> tuple[int, ...]:
    """MIDI pitches to play for ``chord``, low to high: bass root, then close position above."""
    parsed = parse(chord)
    if parsed is None:
        return ()
    root, _ = parsed
    upper = sorted(UPPER_LOW + (pc - UPPER_LOW) % 12 for pc in pitch_classes(chord))
    return (BASS_LOW + root, *upper)


def choose(probs: np.ndarray, current: int | None, temperature: float, rng: np.random.Generator,
           keep: float = KEEP) -> int:
    """The chord id to sound on the next beat, from the model's ``probs`` over the chord vocabulary.

    Temperature 0 takes the likeliest; otherwise draws with ``probs ** (1/temperature)``.
    The chord sounding now (``current``) stays unless the pick is more than ``1/keep``
    times likelier: a chord that flickers between two near-equal choices every beat
    sounds worse than one that changes a beat late.
    """
    if temperature <= 0.0:
        pick = int(np.argmax(probs))
    else:
        logp = np.log(np.maximum(probs, 1e-30)) / temperature
        weights = np.exp(logp - logp.max())
        pick = int(rng.choice(len(weights), p=weights / weights.sum()))
    if current is not None and probs[current] >= keep * probs[pick]:
        return current
    return pick




def contains(chord: str, pitch: int | None) -> bool:
    """True if the melody ``pitch`` (MIDI) is a chord tone of ``chord``."""
    return pitch is not None and pitch % 12 in pitch_classes(chord)


def check_vocabulary(chords: Sequence[str]) -> list[str]:
    """The symbols in ``chords`` that ``parse`` rejects (empty list = all good)."""
    bad = []
    for chord in chords:
        try:
            parse(chord)
        except ValueError:
            bad.append(chord)
    return bad
