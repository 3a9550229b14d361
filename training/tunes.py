"""Held-out tunes for ``jamd-train audition``: notes, key, metre and (for chords) the chord track.

Every tune is laid out from a bar line: position 0 is a downbeat, a pickup is preceded by rests
so bar lines fall on multiples of the bar length, which is where the engine's grid puts its
bars when the player starts at 0 s. The metre is the file's first time signature (music21
measures for kern/ABC/MusicXML, the ``time_signature`` meta message for MIDI, whose files
already pad a pickup to a whole bar); a tune whose metre changes is skipped.

This keeps its own small metre reading; ``training/readers.py`` may grow a bar phase of its
own, which ``score_metre`` and ``_midi_metre`` could then use instead.

Which tunes: the candidates of DATA (each file, each ABC tune), shuffled with the seed; when
some are in the model's ``training.validation_songs``, only those; tunes are then read in that
order until enough are usable (on the 16th grid, long enough, one metre).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from jamd.daemon.encoding import Note
from jamd.daemon.errors import JamdError
from jamd.training import readers
from jamd.training.corpus import SongSkipped, encode_song
from jamd.training.evaluate import song_key
from jamd.training.sources import resolve

EPS = 1e-6


@dataclass(frozen=True)
class Metre:
    """``bar`` and ``beat`` in quarter notes (6/8: 3.0 and 1.5; 4/4: 4.0 and 1.0)."""

    bar: float
    beat: float
    signature: str  # "6/8"


@dataclass(frozen=True)
class Tune:
    name: str
    notes: tuple[Note, ...]  # in quarter notes, position 0 a bar line, none before it
    key: str  # "G major", "e minor"
    metre: Metre
    chords: tuple[str, ...] = ()  # chord-track symbol on each quarter-note beat 0, 1, ... (chords tunes)

    @property
    def first_bar(self) -> float:
        """Where the first whole bar begins (0, or one bar on when a pickup is padded)."""
        return math.ceil(self.notes[0].start / self.metre.bar - EPS) * self.metre.bar


def metre(numerator: int, denominator: int) -> Metre:
    """The metre of a time signature; SongSkipped if its bar is not whole quarter notes.

    The engine counts bars in quarter-note beats (``Config.beats_per_bar``), so 3/8 or 9/8
    cannot be played to it bar for bar. Compound metres (6/8, 12/8) beat in dotted quarters.
    """
    bar = numerator * 4 / denominator
    if abs(bar - round(bar)) > EPS or bar < 1:
        raise SongSkipped(f"metre {numerator}/{denominator}: a bar that is not whole quarter notes")
    compound = denominator == 8 and numerator % 3 == 0 and numerator > 3
    return Metre(float(round(bar)), 1.5 if compound else 1.0, f"{numerator}/{denominator}")


def score_metre(score) -> tuple[Metre, float]:
    """(metre, pickup padding in quarter notes) of a music21 score."""
    from music21 import meter

    signatures = list(score.recurse().getElementsByClass(meter.TimeSignature))
    if not signatures:
        raise SongSkipped("no time signature")
    if len({s.ratioString for s in signatures}) > 1:
        raise SongSkipped("the metre changes: " + " ".join(dict.fromkeys(s.ratioString for s in signatures)))
    found = metre(signatures[0].numerator, signatures[0].denominator)
    part = score.parts[0] if getattr(score, "parts", None) else score
    measures = list(part.getElementsByClass("Measure"))
    pickup = 0.0
    if len(measures) > 1 and measures[0].duration.quarterLength < found.bar - EPS:
        pickup = float(measures[1].offset)
    return found, (found.bar - pickup) % found.bar


def _midi_metre(path: Path) -> Metre:
    import mido

    signatures = [(m.numerator, m.denominator) for track in mido.MidiFile(path).tracks
                  for m in track if m.type == "time_signature"]
    if not signatures:
        return metre(4, 4)  # the MIDI default
    if len(set(signatures)) > 1:
        raise SongSkipped("the metre changes: " + " ".join(f"{a}/{b}" for a, b in dict.fromkeys(signatures)))
    return metre(*signatures[0])


def _checked(name: str, notes: list[Note], key: str | None, found: Metre, pad: float,
             chords: tuple[str, ...] = ()) -> Tune:
    notes = [Note(n.start + pad, n.duration, n.pitch) for n in notes]
    key = key or readers.analyse_key(notes)
    encode_song(notes, key, 4, "none")  # SongSkipped when too short or off the 16th grid
    if key is None:
        raise SongSkipped("no key: too few distinct pitches")
    return Tune(name, tuple(notes), key, found, chords)


def _music21_tune(name: str, parse: Callable) -> Tune:
    score = parse()
    if hasattr(score, "scores") and len(score.scores) > 0:
        score = score.scores[0]
    found, pad = score_metre(score)
    return _checked(name, readers.score_notes(score), readers.score_key(score), found, pad)


def _midi_tune(name: str, path: Path) -> Tune:
    notes, _, _ = readers.read_midi(path)
    # A MIDI key signature cannot tell a minor tune from its relative major: analyse the notes.
    return _checked(name, notes, None, _midi_metre(path), 0.0)


def _pair_tune(name: str, melody: Path, chord_file: Path) -> Tune:
    from jamd.training.chord_data import beat_chords

    tune = _midi_tune(name, melody)
    accompaniment, _, _ = readers.read_midi(chord_file)
    end = max(n.start + n.duration for n in tune.notes)
    return Tune(name, tune.notes, tune.key, tune.metre, tuple(beat_chords(accompaniment, math.ceil(end - EPS))))


def candidates(sources: Sequence[str], pairs: bool) -> list[tuple[str, Callable[[], Tune]]]:
    """``(name, read)`` for every tune of ``sources``; ``pairs``: Nottingham melody/ + chords/ folders."""
    from music21 import converter

    found: list[tuple[str, Callable[[], Tune]]] = []
    for source in sources:
        if pairs:
            root = Path(source)
            if not (root / "melody").is_dir() or not (root / "chords").is_dir():
                raise JamdError(f"{root}: a chords audition needs the folder with melody/ and chords/ "
                                "(e.g. ../shared/data/nottingham/MIDI)")
            for melody in sorted((root / "melody").glob("*.mid")):
                chord_file = root / "chords" / melody.name
                if chord_file.is_file():
                    found.append((melody.stem, lambda m=melody, c=chord_file: _pair_tune(m.stem, m, c)))
            continue
        for path, prefix in resolve(source):
            suffix = path.suffix.lower()
            if suffix == ".abc":
                for number, text in readers.split_abc(readers.decode_text(path.read_bytes())):
                    name = f"{prefix}#{number}"
                    found.append((name, lambda n=name, t=text: _music21_tune(
                        n, lambda: converter.parseData(t, format="abc"))))
            elif suffix in readers.MIDI_SUFFIXES:
                found.append((prefix, lambda n=prefix, p=path: _midi_tune(n, p)))
            else:
                found.append((prefix, lambda n=prefix, p=path: _music21_tune(
                    n, lambda: readers.parse_score(p))))
    return found


def _check_unseen(sources: Sequence[str], trained_on: Sequence[str]) -> None:
    """JamdError if a source lies inside, or holds, a corpus the model was trained on."""
    roots = [Path(t).resolve() for t in trained_on if not str(t).startswith("music21:")]
    for source in sources:
        text = str(source)
        here = Path(text).resolve()
        if text in map(str, trained_on) or any(here == r or r in here.parents or here in r.parents for r in roots):
            raise JamdError(f"{source}: the model was trained on this data and none of its held-out tunes "
                            "(sidecar training.validation_songs) is in it; audition it on tunes it never saw")


def pick(sources: Sequence[str], validation: Sequence[str] | None, count: int, seed: int,
         pairs: bool = False, usable: Callable[[Tune], str | None] = lambda t: None,
         trained_on: Sequence[str] = ()):
    """``count`` tunes of ``sources`` (fewer if there are not enough), and ``{reason: n}`` skipped.

    ``validation``: the model's held-out song names; when some candidates are among them, only
    those are used. Otherwise a candidate inside ``trained_on`` (the model's corpus sources) is a
    JamdError: the model learnt it. ``usable(tune)`` gives a reason to skip a tune that reads
    fine (too short for the mode), or None.
    """
    found = candidates(sources, pairs)
    held = {song_key(name) for name in validation or ()}
    if held and any(song_key(name) in held for name, _ in found):
        found = [c for c in found if song_key(c[0]) in held]
    else:
        _check_unseen(sources, trained_on)
    order = np.random.default_rng(seed).permutation(len(found))
    tunes, skipped = [], {}
    for index in order:
        if len(tunes) >= count:
            break
        name, read = found[index]
        counter = readers.ReadResult()
        with readers.silenced(counter):
            try:
                tune = read()
                reason = usable(tune)
            except SongSkipped as e:
                reason = str(e).split(":")[0]
            except Exception as e:  # noqa: BLE001 -- music21 raises anything on a bad tune
                reason = f"unreadable ({type(e).__name__})"
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
        else:
            tunes.append(tune)
    if not tunes:
        raise JamdError(f"no usable tune in {', '.join(map(str, sources))} (skipped: {skipped or 'none found'})")
    return tunes, skipped


def chorales(count: int, paths: Sequence[Path] | None = None) -> list[tuple[Tune, list[Note]]]:
    """(soprano as a Tune, alto notes) of the first ``count`` four-part Bach chorales of ``paths``
    (default: music21's bundled ``bach`` corpus, sorted) that read cleanly with one metre: the
    real music for two voices sounding together."""
    from music21 import corpus

    found = []
    for path in paths if paths is not None else sorted(corpus.getComposer("bach")):
        if len(found) >= count:
            break
        counter = readers.ReadResult()
        with readers.silenced(counter):
            try:
                score = readers.parse_score(path)
                if len(score.parts) != 4:
                    continue
                found_metre, pad = score_metre(score)
                soprano, alto = (readers.score_notes(part) for part in score.parts[:2])
                tune = _checked(Path(path).name, soprano, readers.score_key(score), found_metre, pad)
            except SongSkipped:
                continue
        found.append((tune, [Note(n.start + pad, n.duration, n.pitch) for n in alto]))
    return found
