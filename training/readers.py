"""Per-format readers: one score file (or one ABC tune) -> notes in beats + the key.

Kern, ABC and MusicXML go through music21; MIDI goes through mido directly, which is
about a hundred times faster than music21's MIDI import and needs no quantisation guess.
Every reader returns plain ``jamd.daemon.encoding.Note`` lists (start and duration in quarter
notes), so ``training/corpus.py`` never sees a music21 object.

Choices that hold for every format:

- polyphony is flattened: all parts/tracks are merged and notes starting together become
  one chord (the encoding does that);
- grace notes are dropped; tied notes are merged (music21 ``stripTies``);
- repeats are NOT expanded: a song is read as written, once;
- ABC chord symbols (``"Am"``) are dropped: they are realised with zero duration by music21
  and are harmony annotations, not notes the melody plays;
- MIDI: every track and channel except drums (channel 10) is merged. Nottingham's full MIDI
  files hold melody + accompaniment; read ``nottingham/MIDI/melody/`` for the melody alone.
"""

from __future__ import annotations

import contextlib
import io
import re
import statistics
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from jamd.daemon.encoding import Note
from jamd.daemon.metre import Metre, MetreError

MUSIC21_SUFFIXES = (".krn", ".abc", ".xml", ".musicxml", ".mxl")
MIDI_SUFFIXES = (".mid", ".midi")
SUFFIXES = MUSIC21_SUFFIXES + MIDI_SUFFIXES

# Tonic spellings as music21 writes them ("B-" is B flat); minor keys are lower case ("a minor").
MAJOR_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")
MINOR_NAMES = ("c", "c#", "d", "e-", "e", "f", "f#", "g", "g#", "a", "b-", "b")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Krumhansl-Kessler key profiles (probe-tone ratings, C major / C minor).
_MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
_MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


@dataclass
class ReadResult:
    """What one file yields: songs ``(suffix, notes, key, metre)`` and skipped ``(suffix, reason)``.

    ``metre`` is the MetreError itself where the bar lines could not be placed: the notes are
    still good for what needs no bars, and the encoder skips and counts the song.

    ``suffix`` is ``""`` for a one-song file and ``"#12"`` for tune X:12 of an ABC file;
    the caller prefixes it with the file's name. ``warnings`` counts music21 warnings.
    """

    songs: list[tuple[str, list[Note], str | None, Metre | MetreError]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: int = 0


@contextlib.contextmanager
def silenced(counter: ReadResult):
    """Swallow music21's warnings and count them into ``counter.warnings``.

    music21 reports through two channels: ``warnings.warn`` and its own environment
    logger, which writes "...: WARNING: ..." lines straight to stderr (e.g. Essen's
    irregular meter ``*MX``). Both would otherwise flood the progress bar.
    """
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        try:
            yield
        finally:
            counter.warnings += len(caught) + err.getvalue().count("WARNING")


def key_name(tonic_pc: int, mode: str) -> str:
    """``"F major"`` / ``"a minor"`` for a tonic pitch class 0-11 and mode major/minor."""
    names = MINOR_NAMES if mode == "minor" else MAJOR_NAMES
    return f"{names[tonic_pc % 12]} {mode}"


def key_tonic(key: str) -> tuple[int, str]:
    """Tonic pitch class (0-11) and mode of a key string like ``"B- major"`` or ``"f# minor"``."""
    tonic, mode = key.split()
    pc = _LETTER_PC[tonic[0].upper()] + tonic.count("#") - tonic.count("-")
    return pc % 12, mode


def analyse_key(notes: list[Note]) -> str | None:
    """The best-correlating major/minor key (Krumhansl-Schmuckler, weighted by duration)."""
    weights = [0.0] * 12
    for note in notes:
        weights[note.pitch % 12] += max(note.duration, 0.125)
    if not notes or len(set(weights)) == 1:
        return None
    best, best_r = None, -2.0
    for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        for tonic in range(12):
            rotated = [profile[(pc - tonic) % 12] for pc in range(12)]
            r = statistics.correlation(weights, rotated)
            if r > best_r:
                best, best_r = key_name(tonic, mode), r
    return best


# --- MIDI (mido, through jamd.daemon.midifile) ------------------------------------------------


def read_midi(path: Path) -> tuple[list[Note], str | None, Metre]:
    """Notes of a Standard MIDI file in beats, its key (first ``key_signature``) and its bars.

    The bars come from the file's time-signature events (4/4 where it has none, as the
    standard says); ``daemon/midifile.py`` reads the file.
    """
    from jamd.daemon.midifile import read_song

    song = read_song(path)
    return song.notes, (_mido_key(song.key) if song.key else None), song.metre


def _mido_key(name: str) -> str:
    """mido spells keys ``"Bb"``, ``"F#m"``; return music21-style ``"B- major"``, ``"f# minor"``."""
    minor = name.endswith("m")
    letters = name[:-1] if minor else name
    pc = _LETTER_PC[letters[0].upper()] + letters.count("#") - letters[1:].count("b")
    return key_name(pc, "minor" if minor else "major")


# --- music21 (kern, ABC, MusicXML) ----------------------------------------------------


def score_notes(score) -> list[Note]:
    """All sounding notes of a music21 score, every part merged, ties merged, graces dropped."""
    from music21 import harmony

    notes = []
    for element in score.stripTies().flatten().notes:
        if isinstance(element, harmony.Harmony) or element.duration.isGrace:
            continue
        length = float(element.quarterLength)
        if length <= 0:
            continue
        start = float(element.offset)
        notes.extend(Note(start, length, p.midi) for p in getattr(element, "pitches", ()))
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def score_key(score) -> str | None:
    """The first explicit major/minor key in the score (kern ``*F:``, ABC ``K:G``), else None.

    A bare key signature or a modal key (``K:Ador``) gives None: the caller analyses the
    notes instead, because a signature alone cannot tell F major from d minor.
    """
    from music21 import key

    for found in score.recurse().getElementsByClass(key.Key):
        if found.mode in ("major", "minor"):
            return key_name(found.tonic.pitchClass, found.mode)
    return None


def score_metre(score) -> Metre:
    """The bars of a music21 score, from its first part's measures.

    A first measure shorter than its time signature is a pickup (it ends where bar 1 begins);
    a last one is a bar the song stops in; one in between that is shorter or longer than its
    signature says is an irregular bar (Essen's mixed meters) and keeps its own length.
    MetreError if the score has no measures or they do not follow each other.
    """
    from music21 import stream

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    measures = [m for m in parts[0].getElementsByClass(stream.Measure) if m.duration.quarterLength > 0]
    if not measures:
        raise MetreError("no bar lines (no measures)")
    bars, signatures = [], []
    for i, m in enumerate(measures):
        actual, offset = float(m.duration.quarterLength), float(m.offset)
        nominal = float(m.barDuration.quarterLength)
        if m.timeSignature is not None:
            signatures.append((offset, int(m.timeSignature.numerator), int(m.timeSignature.denominator)))
        if i == 0 and actual < nominal:
            bars.append((offset + actual - nominal, nominal))  # pickup: right-aligned in a whole bar
        elif i == len(measures) - 1 and i > 0 and actual < nominal:
            bars.append((offset, nominal))
        else:
            bars.append((offset, actual))
    for (start, length), (after, _) in zip(bars, bars[1:]):
        if abs(start + length - after) > 1e-3:
            raise MetreError(f"the measure at beat {after:g} does not follow the one at beat {start:g}")
    return Metre(tuple(bars), tuple(signatures))


def _metre_or_error(score) -> Metre | MetreError:
    try:
        return score_metre(score)
    except MetreError as e:
        return e
    except Exception as e:  # noqa: BLE001 -- music21 measure queries fail in odd ways on odd files
        return MetreError(f"music21 could not read the measures ({type(e).__name__}: {str(e)[:80]})")


def parse_score(path):
    """A music21 score of ``path`` (an Opus: its first score)."""
    from music21 import converter

    # forceSource/storePickle: music21 would otherwise pickle every parsed file into its
    # scratch directory, thousands of files we never read back (we cache tokens instead).
    score = converter.parse(path, forceSource=True, storePickle=False)
    if hasattr(score, "scores") and len(score.scores) > 0:
        score = score.scores[0]
    return score


def read_score_file(path: Path) -> tuple[list[Note], str | None, Metre]:
    """Notes, key and bars of a kern/MusicXML file (one song) through music21."""
    score = parse_score(path)
    return score_notes(score), score_key(score), _metre_or_error(score)


def split_abc(text: str) -> list[tuple[str, str]]:
    """Split a multi-tune ABC file into ``(tune number, tune text)`` pairs.

    The file header (text before the first ``X:``) applies to every tune, as the ABC
    standard says, so it is prepended to each. The number is the ``X:`` field, or the
    tune's position when the field is missing or repeated.
    """
    chunks = re.split(r"(?m)^(?=X:)", text)
    header, tunes = chunks[0], chunks[1:]
    if not tunes:
        return [("1", text)]
    numbers = [re.match(r"X:\s*(\d*)", t).group(1) for t in tunes]
    if len(set(numbers)) != len(numbers) or "" in numbers:
        numbers = [str(i + 1) for i in range(len(tunes))]
    return [(n, header + t) for n, t in zip(numbers, tunes)]


def read_abc_tune(text: str) -> tuple[list[Note], str | None, Metre]:
    """Notes, key and bars of one ABC tune (text holding a single ``X:`` section)."""
    from music21 import converter

    score = converter.parseData(text, format="abc")
    if hasattr(score, "scores") and len(score.scores) > 0:
        score = score.scores[0]
    return score_notes(score), score_key(score), _metre_or_error(score)


# --- one file, any format ---------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """ABC text: UTF-8 when valid, else Latin-1 (older ABC collections use it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_file(path: Path) -> ReadResult:
    """Every song in one file; a file or tune that cannot be read is in ``skipped``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".abc":
        result = ReadResult()
        for number, text in split_abc(decode_text(path.read_bytes())):
            tune = read_tune(number, text)
            result.songs += tune.songs
            result.skipped += tune.skipped
            result.warnings += tune.warnings
        return result
    if suffix in MIDI_SUFFIXES:
        return _guarded("", lambda: read_midi(path), "not a readable MIDI file")
    return _guarded("", lambda: read_score_file(path), "music21 could not parse it")


def read_tune(number: str, text: str) -> ReadResult:
    """Tune ``number`` of an ABC file, its text as ``split_abc`` gives it."""
    return _guarded(f"#{number}", lambda: read_abc_tune(text), "music21 rejected this tune")


def _guarded(suffix: str, read, what: str) -> ReadResult:
    result = ReadResult()
    with silenced(result):
        try:
            notes, key, metre = read()
        # music21 and mido raise anything from ValueError to IndexError, EOFError or their
        # own exception types on bad input; one bad file must never abort a whole corpus.
        except Exception as e:  # noqa: BLE001
            message = " ".join(str(e).split())[:160] or "the file ends too early (truncated?)"
            result.skipped.append((suffix, f"{what}: {type(e).__name__}: {message}"))
            return result
    result.songs.append((suffix, notes, key, metre))
    return result
