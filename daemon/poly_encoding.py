"""The polyphonic grid encoding (issue 14): notes <-> tokens, each note ending on its own.

The grid is ``daemon/encoding.py``'s (``steps_per_beat`` per quarter note, 4 = 16ths), but a
grid step is several tokens rather than one:

- ``off:P`` for each pitch that stops sounding on this step (high to low);
- ``on:P`` for each pitch that starts on it (high to low, so the melody, the highest note
  struck, comes first: what a harmonizing mode will be given);
- ``step``: the step is over.

Every sequence begins with ``start`` and begins on the step of its first onset, as
``notes_to_tokens`` does (the corpus keeps that step to place the bars). A held bass under a
moving melody is one ``on`` and, bars later, one ``off``: nothing else ends it.

Rules:

- onsets and ends are rounded to the nearest step with ``round`` (half to even), as
  ``notes_to_tokens`` rounds them; a note shorter than a step lasts one step;
- pitches are the piano's, 21-108; a note outside moves by octaves into that range (it keeps
  its pitch class, as ``--range`` and the melody vocabulary's folding do); ``fold_to_piano``
  says how many moved;
- one pitch sounds once at a time: a pitch struck again while it sounds is ``off:P`` then
  ``on:P`` on the step it is struck again, and it then sounds until the later of the two ends
  (voices in unison on the same step are one note);
- at the end of the song every note still sounding gets its ``off``: the last step of a
  sequence holds only ``off`` tokens and its ``step``.

Pure Python: the daemon imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from jamd.daemon.encoding import START, Note, TokenIds, grid_span

STEP = "step"
PIANO_LOW, PIANO_HIGH = 21, 108  # A0 .. C8
ON, OFF = "on:", "off:"


def on_token(pitch: int) -> str:
    return f"{ON}{pitch}"


def off_token(pitch: int) -> str:
    return f"{OFF}{pitch}"


def token_pitch(token: str) -> int | None:
    """The MIDI pitch of an ``on:``/``off:`` token; None for ``start`` and ``step``."""
    if token.startswith(ON):
        return int(token[len(ON):])
    if token.startswith(OFF):
        return int(token[len(OFF):])
    return None


def fold_to_piano(notes: Iterable[Note]) -> tuple[list[Note], int]:
    """``notes`` with each pitch outside 21-108 moved by octaves into it, and how many moved."""
    folded, moved = [], 0
    for note in notes:
        pitch = note.pitch
        while pitch < PIANO_LOW:
            pitch += 12
        while pitch > PIANO_HIGH:
            pitch -= 12
        moved += pitch != note.pitch
        folded.append(Note(note.start, note.duration, pitch))
    return folded, moved


def _pitch_spans(notes: Sequence[Note], steps_per_beat: int) -> dict[int, list[tuple[int, int]]]:
    """Per pitch, the grid spans one key can sound: each onset lasts until the pitch is struck
    again or until every note of it that sounds then has ended."""
    raw: dict[int, list[tuple[int, int]]] = {}
    for note in notes:
        raw.setdefault(note.pitch, []).append(grid_span(note, steps_per_beat))
    spans = {}
    for pitch, found in raw.items():
        found.sort()
        merged: list[list[int]] = []
        for begin, end in found:
            if merged and begin == merged[-1][0]:  # struck twice on one step: one note
                merged[-1][1] = max(merged[-1][1], end)
            elif merged and begin < merged[-1][1]:  # struck again while it sounds
                end = max(end, merged[-1][1])
                merged[-1][1] = begin
                merged.append([begin, end])
            else:
                merged.append([begin, end])
        spans[pitch] = [(b, e) for b, e in merged]
    return spans


def encode(notes: Sequence[Note], steps_per_beat: int = 4) -> list[str]:
    """The token sequence of ``notes`` (beats), from ``start``; the first grid step is the first onset's."""
    if not notes:
        return [START]
    notes, _ = fold_to_piano(notes)
    ons: dict[int, list[int]] = {}
    offs: dict[int, list[int]] = {}
    for pitch, spans in _pitch_spans(notes, steps_per_beat).items():
        for begin, end in spans:
            ons.setdefault(begin, []).append(pitch)
            offs.setdefault(end, []).append(pitch)
    tokens = [START]
    for step in range(min(ons), max(offs) + 1):
        tokens += [off_token(p) for p in sorted(offs.get(step, ()), reverse=True)]
        tokens += [on_token(p) for p in sorted(ons.get(step, ()), reverse=True)]
        tokens.append(STEP)
    return tokens


def decode(tokens: Sequence[str], steps_per_beat: int = 4) -> list[Note]:
    """The notes of a token sequence (with or without ``start``), in beats from its first step.

    Forgiving, since a model writes it: an ``off`` for a pitch not sounding is ignored, an
    ``on`` for one sounding strikes it again (twice on one step: once), a note lasts at least
    one step, and notes still sounding at the end stop there. Sorted by start, then pitch.
    """
    notes: list[Note] = []
    sounding: dict[int, int] = {}  # pitch -> step it began
    now = 0

    def close(pitch: int, step: int) -> None:
        began = sounding.pop(pitch)
        notes.append(Note(began / steps_per_beat, (max(step, began + 1) - began) / steps_per_beat, pitch))

    for token in tokens:
        if token == STEP:
            now += 1
            continue
        pitch = token_pitch(token)
        if pitch is None:
            if token == START:
                continue
            raise ValueError(f"not a polyphonic token: {token!r} (expected on:P, off:P, step or start)")
        if token.startswith(ON) and sounding.get(pitch) == now:
            continue
        if pitch in sounding:
            close(pitch, now)
        if token.startswith(ON):
            sounding[pitch] = now
    for pitch in list(sounding):
        close(pitch, now)
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def steps(tokens: Sequence[str]) -> list[tuple[str, ...]]:
    """The tokens grouped by grid step, each group ending with its ``step`` (``start`` left out).

    A sequence that stops inside a step (a model still writing it) gives that step last,
    without its ``step``.
    """
    groups: list[tuple[str, ...]] = []
    current: list[str] = []
    for token in tokens:
        if token == START:
            continue
        current.append(token)
        if token == STEP:
            groups.append(tuple(current))
            current = []
    if current:
        groups.append(tuple(current))
    return groups


def transpose(tokens: Sequence[str], semitones: int) -> list[str] | None:
    """``tokens`` with every pitch moved by ``semitones``; None if one would leave 21-108.

    For augmentation: a song that does not fit in a key is left out there rather than folded,
    which would turn its melody's leaps into other intervals.
    """
    moved = []
    for token in tokens:
        pitch = token_pitch(token)
        if pitch is None:
            moved.append(token)
            continue
        pitch += semitones
        if not PIANO_LOW <= pitch <= PIANO_HIGH:
            return None
        moved.append(on_token(pitch) if token.startswith(ON) else off_token(pitch))
    return moved


@dataclass(frozen=True)
class PolyVocabulary(TokenIds):
    """Token <-> id, the same for every corpus: ``start``, ``step``, then ``on:21..108``,
    then ``off:21..108`` (178 tokens)."""

    @classmethod
    def piano(cls) -> "PolyVocabulary":
        pitches = range(PIANO_LOW, PIANO_HIGH + 1)
        return cls((START, STEP) + tuple(map(on_token, pitches)) + tuple(map(off_token, pitches)))

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self._ids[t] for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]
