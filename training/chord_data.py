"""Nottingham melody + chord tracks -> aligned training pairs for the chord accompanist.

Each tune of ``nottingham/MIDI`` exists as ``melody/NAME.mid`` and ``chords/NAME.mid`` on the
same timeline (abc2midi renderings of the ABC, chord symbols played as block chords). A pair
becomes:

- ``tokens``: the melody on the shared grid (``jamd.daemon.encoding``), ``start`` then one token
  per step, step 0 at beat 0 of the file (a pickup is preceded by rests, so grid beats are
  the tune's beats);
- ``chords``: the chord symbol (``jamd.daemon.chords``) sounding at each beat instant 0..n.

Chord rate: one chord per quarter-note beat, the unit of the daemon's clock. In 6/8 (the
jigs) the written chords change every dotted quarter, so half of those changes fall between
two beats and are heard from the next beat on: a quarter note late at most.

Targets (causal, ``targets``): after reading the token of step ``t`` the model predicts the
chord of the next beat, ``t // steps_per_beat + 1``; after ``start``, the chord of beat 0.
The daemon reads the prediction made at the last step before a beat, when that step's
window closes (half a step before the beat), so the chord sounds on the beat rather than
after it. The price: a melody note struck on the beat itself is not yet heard when its
chord is chosen.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from jamd.daemon import chords as chordlib
from jamd.daemon.encoding import HOLD, REST, START, Note, notes_to_tokens, token_pitches
from jamd.daemon.errors import JamdError
from jamd.daemon.metre import Bar, MetreError, TimeSignature, token_positions
from jamd.training.readers import analyse_key, key_tonic, read_midi

MIN_BEATS = 8
TOLERANCE = 1e-3  # beats: a chord that starts this close after a beat counts as sounding on it


@dataclass(frozen=True)
class ChordSong:
    """One tune: melody tokens and the chord at each beat. Steps and beats count from 0."""

    name: str
    tokens: tuple[str, ...]  # "start" + one melody token per grid step
    chords: tuple[str, ...]  # chord symbol at beat 0, 1, ... (N where the chord track is silent)
    tonic: int  # key tonic pitch class 0-11, from the file's key signature (else analysed)
    mode: str  # "major" or "minor"
    bars: tuple[Bar, ...] = ()  # from the melody file's time signatures, in grid steps
    signatures: tuple[TimeSignature, ...] = ()

    def positions(self) -> np.ndarray:
        """[len(tokens), 2] bar positions to feed with each token (step 0 is beat 0: first = 0)."""
        return token_positions(self.bars, 0, len(self.tokens))

    @property
    def beats(self) -> int:
        return len(self.chords)


def beat_chords(notes: Sequence[Note], beats: int) -> list[str]:
    """The chord symbol sounding at each beat instant 0..beats-1 of a chord track."""
    out = []
    for beat in range(beats):
        at = beat + TOLERANCE
        out.append(chordlib.identify(n.pitch for n in notes if n.start <= at < n.start + n.duration))
    return out


def melody_tokens(notes: Sequence[Note], steps_per_beat: int) -> list[str]:
    """Grid tokens of ``notes`` with step 0 at beat 0 (``notes_to_tokens`` starts at the first onset)."""
    tokens = notes_to_tokens(notes, steps_per_beat)
    lead = round(min(n.start for n in notes) * steps_per_beat)
    return [START] + [REST] * lead + tokens[1:]


def read_pair(melody: Path, chords: Path, steps_per_beat: int = 4) -> ChordSong:
    """One Nottingham tune from its melody and chord MIDI files; JamdError naming the file if unusable."""
    try:
        tune, key, metre = read_midi(melody)
        accompaniment, _, _ = read_midi(chords)
    except Exception as e:  # mido raises OSError/EOFError/ValueError/KeyError for broken files
        raise JamdError(f"{melody.name}: unreadable MIDI ({type(e).__name__}: {e})") from None
    try:
        bars, signatures = metre.on_grid(steps_per_beat)
    except MetreError as e:
        raise JamdError(f"{melody.name}: bar lines: {e}") from None
    if not tune or not accompaniment:
        raise JamdError(f"{melody.name}: the melody or the chord track is empty")
    tokens = melody_tokens(tune, steps_per_beat)
    beats = math.ceil((len(tokens) - 1) / steps_per_beat)
    if beats < MIN_BEATS:
        raise JamdError(f"{melody.name}: only {beats} beats")
    key = key or analyse_key(tune)
    tonic, mode = key_tonic(key) if key else (0, "major")
    # One more beat than the melody lasts: the last step predicts the beat after it.
    return ChordSong(melody.stem, tuple(tokens), tuple(beat_chords(accompaniment, beats + 1)), tonic, mode,
                     tuple(bars), tuple(signatures))


def load_pairs(root: Path, steps_per_beat: int = 4, limit: int | None = None,
               progress: bool = True) -> tuple[list[ChordSong], list[tuple[str, str]]]:
    """Every tune under ``root`` with both ``melody/X.mid`` and ``chords/X.mid``; (songs, skipped).

    ``root`` is ``.../nottingham/MIDI``. Skipped: (name, reason), including tunes that have
    no chord file.
    """
    from tqdm import tqdm

    root = Path(root)
    if not (root / "melody").is_dir() or not (root / "chords").is_dir():
        raise JamdError(f"{root}: expected the Nottingham MIDI folder with melody/ and chords/ inside "
                        "(e.g. ../shared/data/nottingham/MIDI)")
    names = sorted(p.name for p in (root / "melody").glob("*.mid"))[:limit]
    songs, skipped = [], []
    for name in tqdm(names, desc="reading tunes", unit="tune", file=sys.stderr, disable=not progress):
        if not (root / "chords" / name).is_file():
            skipped.append((name, "no chords/ file"))
            continue
        try:
            songs.append(read_pair(root / "melody" / name, root / "chords" / name, steps_per_beat))
        except JamdError as e:
            skipped.append((name, str(e)))
    if not songs:
        raise JamdError(f"{root}: no usable melody/chords pair")
    return songs, skipped


def targets(song: ChordSong, chord_ids: dict[str, int], steps_per_beat: int) -> np.ndarray:
    """Chord id to predict after each input token: [len(tokens)] int32 (see the module docstring)."""
    n = len(song.tokens)
    beat = np.concatenate([[0], np.arange(n - 1) // steps_per_beat + 1])
    ids = np.asarray([chord_ids[c] for c in song.chords], np.int32)
    return ids[np.minimum(beat, len(ids) - 1)]


def boundary_steps(n_tokens: int, steps_per_beat: int) -> np.ndarray:
    """Input positions whose prediction the daemon plays: ``start`` and each beat's last step."""
    positions = np.arange(n_tokens)
    return positions[(positions == 0) | ((positions >= 1) & ((positions - 1) % steps_per_beat == steps_per_beat - 1))]


def sounding(tokens: Sequence[str], step: int) -> int | None:
    """The melody's top pitch sounding on grid ``step`` (0-based after ``start``); None in a rest."""
    body = tokens[1:]
    for i in range(min(step, len(body) - 1), -1, -1):
        if body[i] == REST:
            return None
        if body[i] != HOLD:
            return max(token_pitches(body[i]))
    return None
