"""The grid encoding shared by training and the daemon: notes <-> tokens.

A song is a sequence of grid steps (``steps_per_beat`` per quarter note, 4 = 16ths).
Each step is one token:

- ``start``: the first token of every sequence, so the model predicts the first note too;
- ``rest``: nothing sounds;
- ``hold``: the notes started last keep sounding;
- a pitch set that starts on this step: ``"60"`` for a melody note, ``"48.52.55"`` for a chord.

A new pitch set ends whatever sounded before it (the seeds' convention); overlapping notes
in polyphonic input are therefore cut where the next onset begins.

This module is imported by ``training/`` and by the daemon: it must stay pure Python + numpy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

START, REST, HOLD = "start", "rest", "hold"
SPECIAL_TOKENS = (START, REST, HOLD)
START_ID, REST_ID, HOLD_ID = 0, 1, 2
MIDI_LOW, MIDI_HIGH = 0, 127


@dataclass(frozen=True)
class Note:
    """One note. ``start`` and ``duration`` are in quarter notes (beats); ``pitch`` is MIDI 0-127."""

    start: float
    duration: float
    pitch: int


def pitch_token(pitches: Iterable[int]) -> str:
    """The token for the pitch set ``pitches`` (sorted low to high, duplicates dropped)."""
    return ".".join(str(p) for p in sorted(set(pitches)))


def token_pitches(token: str) -> tuple[int, ...]:
    """The MIDI pitches of a pitch token; empty for ``start``/``rest``/``hold``."""
    if token in SPECIAL_TOKENS:
        return ()
    return tuple(int(p) for p in token.split("."))


def grid_span(note: Note, steps_per_beat: int) -> tuple[int, int]:
    """``(first step, step it stops sounding on)``: onset and end rounded to the nearest step; a
    note shorter than a step lasts one. Both encodings round this way."""
    begin = round(note.start * steps_per_beat)
    return begin, max(begin + 1, round((note.start + note.duration) * steps_per_beat))


def notes_to_tokens(notes: Sequence[Note], steps_per_beat: int = 4) -> list[str]:
    """Quantise ``notes`` to the grid and return the token sequence, beginning with ``start``.

    Onsets and ends are rounded to the nearest step; a note shorter than a step lasts one
    step. Notes whose onsets round to the same step form one pitch set (a chord).
    """
    if not notes:
        return [START]
    onsets: dict[int, set[int]] = {}
    ends: dict[int, int] = {}
    for note in notes:
        begin, end = grid_span(note, steps_per_beat)
        onsets.setdefault(begin, set()).add(note.pitch)
        ends[begin] = max(ends.get(begin, 0), end)
    first = min(onsets)
    last = max(ends.values())
    tokens = [START]
    sounding_until = first
    for step in range(first, last):
        if step in onsets:
            tokens.append(pitch_token(onsets[step]))
            sounding_until = ends[step]
        elif step < sounding_until:
            tokens.append(HOLD)
        else:
            tokens.append(REST)
    return tokens


def tokens_to_notes(tokens: Sequence[str], steps_per_beat: int = 4) -> list[Note]:
    """Decode a token sequence (with or without the leading ``start``) into notes.

    A pitch set sounds until the next token that is not ``hold``; times are in beats
    from the first token after ``start``.
    """
    body = list(tokens[1:] if tokens and tokens[0] == START else tokens)
    notes: list[Note] = []
    current: tuple[int, ...] = ()
    began = 0

    def close(step: int) -> None:
        for pitch in current:
            notes.append(Note(began / steps_per_beat, (step - began) / steps_per_beat, pitch))

    for step, token in enumerate(body):
        if token == HOLD:
            continue
        close(step)
        current, began = token_pitches(token), step
    close(len(body))
    return notes


def transpose_token(token: str, semitones: int) -> str | None:
    """``token`` moved by ``semitones``; None if a pitch would leave the MIDI range."""
    pitches = token_pitches(token)
    if not pitches:
        return token
    moved = [p + semitones for p in pitches]
    if min(moved) < MIDI_LOW or max(moved) > MIDI_HIGH:
        return None
    return pitch_token(moved)


@dataclass(frozen=True)
class TokenIds:
    """Tokens in id order, and the lookups every vocabulary (this one, the polyphonic one) has."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    def id(self, token: str) -> int:
        """The id of ``token``; KeyError if it is not in the vocabulary."""
        return self._ids[token]


@dataclass(frozen=True)
class Vocabulary(TokenIds):
    """The model's tokens, in id order. Ids 0-2 are always ``start``, ``rest``, ``hold``."""

    def __post_init__(self) -> None:
        if self.tokens[:3] != SPECIAL_TOKENS:
            raise ValueError(f"vocabulary must begin with {SPECIAL_TOKENS}, got {self.tokens[:3]}")
        super().__post_init__()
        singles = sorted(p[0] for p in map(token_pitches, self.tokens) if len(p) == 1)
        object.__setattr__(self, "_singles", singles)
        object.__setattr__(self, "_single_range", (singles[0], singles[-1]) if singles else None)

    @property
    def pitch_range(self) -> tuple[int, int] | None:
        """Lowest and highest single pitch the model knows (None for a chord-only vocabulary)."""
        return self._single_range

    def nearest_id(self, pitches: Iterable[int]) -> int:
        """The id of the token closest to the pitch set the player played.

        Exact match first; then the chord without its lowest notes one by one (the top
        note carries the melody); then the highest pitch folded by octaves into the
        model's range. Rest if nothing fits.
        """
        chord = sorted(set(pitches))
        while chord:
            token = pitch_token(chord)
            if token in self._ids:
                return self._ids[token]
            if len(chord) == 1:
                break
            chord = chord[1:]
        if not chord or self._single_range is None:
            return REST_ID
        low, high = self._single_range
        pitch = chord[-1]
        while pitch < low:
            pitch += 12
        while pitch > high:
            pitch -= 12
        if str(pitch) in self._ids:
            return self._ids[str(pitch)]
        # A range narrower than an octave (or with gaps): take the closest known pitch.
        return self._ids[str(min(self._singles, key=lambda p: abs(p - pitch)))]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens``, each unknown pitch set replaced by its nearest known one."""
        return [self._ids[t] if t in self._ids else self.nearest_id(token_pitches(t)) for t in tokens]

    def transposition_table(self, semitones: int) -> list[int]:
        """For each id, the id of that token moved by ``semitones``, or -1 if not in the vocabulary."""
        table = []
        for token in self.tokens:
            moved = transpose_token(token, semitones)
            table.append(self._ids.get(moved, -1) if moved is not None else -1)
        return table

    @classmethod
    def build(
        cls,
        songs: Iterable[Sequence[str]],
        transpositions: Sequence[int] = (0,),
        min_count: int = 1,
    ) -> "Vocabulary":
        """Count pitch sets over ``songs`` in every transposition; keep those seen ``min_count`` times.

        Single pitches are always kept (a melody note is never rare enough to drop);
        ``min_count`` is the frequency cut for chords.
        """
        counts: Counter[str] = Counter()
        for tokens in songs:
            for token, n in Counter(tokens).items():
                if token in SPECIAL_TOKENS:
                    continue
                for shift in transpositions:
                    moved = transpose_token(token, shift)
                    if moved is not None:
                        counts[moved] += n
        kept = [t for t, n in counts.items() if n >= min_count or "." not in t]
        kept.sort(key=lambda t: (token_pitches(t)[-1], len(token_pitches(t)), token_pitches(t)))
        return cls(SPECIAL_TOKENS + tuple(kept))
